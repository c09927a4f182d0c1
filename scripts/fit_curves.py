"""Snakemake adapter: standard curves per target of one plate."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.io import read_tsv, write_tsv  # noqa: E402
from sortpcr.qpcr.curves import fit_curves  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    curves, decisions = fit_curves(read_tsv(sm.input.wells), sm.params.qpcr)
    for line in decisions:
        log.info(line)
    write_tsv(sm.output[0], curves)


run_step(sm.rule, sm.log[0], main)
