"""Snakemake adapter: CD34+/CD34- folds, calls and resistance group of one patient."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.classify import (  # noqa: E402
    CALL_COLUMNS,
    FUSION_COLUMNS,
    GROUP_COLUMNS,
    classify_patient,
)
from sortpcr.io import read_records, write_records  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402
from sortpcr.settings import ClassifySettings  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    result = classify_patient(
        read_records(sm.input.expression),
        sm.params.lineage,
        ClassifySettings.from_config(sm.params.classification),
        patient=sm.wildcards.patient,
    )
    group = result.group[0]
    log.info("%s: group %s %s", sm.wildcards.patient, group["group"], group["reason"])
    write_records(sm.output.calls, result.calls, CALL_COLUMNS)
    write_records(sm.output.group, result.group, GROUP_COLUMNS)
    write_records(sm.output.fusion, result.fusion, FUSION_COLUMNS)


run_step(sm.rule, sm.log[0], main)
