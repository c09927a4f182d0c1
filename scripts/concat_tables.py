"""Snakemake adapter: concatenate per-patient / per-plate tables into one cohort table."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.io import concat_tsv  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402

sm = snakemake  # noqa: F821
run_step(
    sm.rule,
    sm.log[0] if sm.log else None,
    lambda log: concat_tsv(list(sm.input.tables), sm.output[0]),
)
