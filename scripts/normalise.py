"""Snakemake adapter: target / GUS and TEL-AML1 / GUS for one patient."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.io import read_records, write_records  # noqa: E402
from sortpcr.normalise import (  # noqa: E402
    EXPRESSION_COLUMNS,
    EXTRA_COLUMNS,
    normalise_patient,
)
from sortpcr.runner import run_step  # noqa: E402
from sortpcr.settings import NormaliseSettings  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    settings = NormaliseSettings.from_config(
        sm.params.qpcr, sm.params.normalisation, sm.params.classification
    )
    table = normalise_patient(read_records(sm.input[0]), settings)
    log.info("%s: %d normalised rows", sm.wildcards.patient, len(table))
    write_records(sm.output[0], table, EXPRESSION_COLUMNS + EXTRA_COLUMNS)


run_step(sm.rule, sm.log[0], main)
