"""Snakemake adapter: the report's HTML pages (front page, journal tables, one page per
patient, one page per result table)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.io import read_tsv, write_text, write_with  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402
from sortpcr.settings import ClassifySettings  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    from sortpcr.report.build import build_pages
    from sortpcr.report.docx import write_journal_docx

    named = dict(sm.input.items())
    tables = {k[len("table_") :]: read_tsv(v) for k, v in named.items() if k.startswith("table_")}
    pages = build_pages(
        tables=tables,
        texts={
            k[len("text_") :]: Path(v).read_text("utf-8")
            for k, v in named.items()
            if k.startswith("text_")
        },
        pairs=[read_tsv(p) for p in sm.input.pairs],
        flow_pngs={Path(p).stem: p for p in sm.input.flow_png},
        plate_pngs={Path(p).parent.name: p for p in sm.input.plate_png},
        settings=ClassifySettings.from_config(sm.params.classification),
    )
    for key, path in sm.output.items():
        if key != "docx":
            write_text(path, pages[key])
    write_with(
        sm.output.docx,
        lambda tmp: write_journal_docx(tmp, tables["table1"], tables["resistance_groups"]),
    )
    log.info("wrote %d pages and %s", len(pages), sm.output.docx)


run_step(sm.rule, sm.log[0], main)
