"""Snakemake adapter: paired statistics per gene and lineage (statistics.tsv)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.cohort import statistics  # noqa: E402
from sortpcr.io import read_tsv, write_tsv  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    table = statistics(
        read_tsv(sm.input.calls), read_tsv(sm.input.groups), sm.params.classification["genes"]
    )
    log.info("statistics: %d rows", len(table))
    write_tsv(sm.output[0], table)


run_step(sm.rule, sm.log[0], main)
