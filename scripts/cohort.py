"""Snakemake adapter: cohort tables (calls, groups, Table 1, Table 2, expression, fusion)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.cohort import build_cohort  # noqa: E402
from sortpcr.io import read_tsv, write_tsv  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402
from sortpcr.settings import ClassifySettings  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    tables = build_cohort(
        sm.params.samples,
        read_tsv(sm.input.flow),
        [read_tsv(p) for p in sm.input.calls],
        [read_tsv(p) for p in sm.input.groups],
        [read_tsv(p) for p in sm.input.expression],
        [read_tsv(p) for p in sm.input.fusion],
        genes=ClassifySettings.from_config(sm.params.classification).genes,
    )
    for name, table in tables.items():
        write_tsv(sm.output[name], table)
        log.info("%s: %d rows", name, len(table))


run_step(sm.rule, sm.log[0], main)
