"""Snakemake adapter: the cohort workbook (journal tables, every cohort and QC table, the
columns explained)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.io import read_tsv, write_with  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402
from sortpcr.workbook import write_workbook  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    # the cohort tables by file stem, then the QC tables a lab user checks first
    tables = {Path(path).stem: read_tsv(path) for path in sm.input.tables}
    tables["flow_qc"] = read_tsv(sm.input.flow)
    tables["standard_curves"] = read_tsv(sm.input.curves)
    write_with(sm.output[0], lambda tmp: write_workbook(tmp, tables))
    log.info("workbook: %s", ", ".join(tables))


run_step(sm.rule, sm.log[0], main)
