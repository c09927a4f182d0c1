"""Snakemake adapter: standard curves per target of one plate."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.io import read_records, write_records  # noqa: E402
from sortpcr.qpcr.curves import CURVE_COLUMNS, fit_curves  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402
from sortpcr.settings import QpcrSettings  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    curves, decisions = fit_curves(
        read_records(sm.input.wells), QpcrSettings.from_config(sm.params.qpcr)
    )
    for line in decisions:
        log.info(line)
    write_records(sm.output[0], curves, CURVE_COLUMNS)


run_step(sm.rule, sm.log[0], main)
