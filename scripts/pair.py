"""Snakemake adapter: pair one patient's sorted fractions with their plates' quantities."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.io import read_records, write_records  # noqa: E402
from sortpcr.pairing import PAIR_COLUMNS, pair_patient  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402

sm = snakemake  # noqa: F821


def plate_of(path: str) -> str:
    """results/qpcr/{plate}/<file>.tsv -> plate"""
    return Path(path).parent.name


def main(log):
    quantities = {plate_of(p): read_records(p) for p in sm.input.quantities}
    curves = {plate_of(p): read_records(p) for p in sm.input.curves}
    pairs = pair_patient(
        sm.wildcards.patient, sm.params.units, quantities, read_records(sm.input.flow), curves
    )
    log.info(
        "%s: %d paired rows from plates %s",
        sm.wildcards.patient,
        len(pairs),
        ", ".join(sorted(quantities)),
    )
    write_records(sm.output[0], pairs, PAIR_COLUMNS)


run_step(sm.rule, sm.log[0], main)
