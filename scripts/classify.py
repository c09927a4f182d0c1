"""Snakemake adapter: CD34+/CD34- folds, calls and resistance group of one patient."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.classify import ClassifySettings, classify_patient  # noqa: E402
from sortpcr.io import read_tsv, write_tsv  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    result = classify_patient(
        read_tsv(sm.input.expression),
        sm.params.lineage,
        ClassifySettings.from_config({"classification": sm.params.classification}),
        patient=sm.wildcards.patient,
    )
    group = result.group.iloc[0]
    log.info("%s: group %s %s", sm.wildcards.patient, group["group"], group["reason"])
    write_tsv(sm.output.calls, result.calls)
    write_tsv(sm.output.group, result.group)
    write_tsv(sm.output.fusion, result.fusion)


run_step(sm.rule, sm.log[0], main)
