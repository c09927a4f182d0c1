"""Snakemake adapter: gate one patient's pre-sort and sorted files, QC verdicts, figure."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.flowqc import (  # noqa: E402
    FLOW_COLUMNS,
    analyse_patient_with_events,
    applied_gates_text,
    flow_records,
)
from sortpcr.io import write_json, write_records, write_text  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402
from sortpcr.settings import FlowQCSettings  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    from sortpcr.plots.flow import patient_figure

    result, events = analyse_patient_with_events(
        sm.wildcards.patient,
        sm.input.presort,
        {"CD34pos": sm.input.CD34pos, "CD34neg": sm.input.CD34neg},
        sm.params.labels,
        sm.input.strategy,
        FlowQCSettings.from_config(sm.params.gating, sm.params.qc),
        sm.params.compensation,
    )
    rows = flow_records(result)
    for row in rows:
        log.info("%s %s: %s %s", row["patient"], row["fraction"], row["status"], row["reason"])
    write_json(sm.output.json, result)
    write_records(sm.output.tsv, rows, FLOW_COLUMNS)
    write_text(sm.output.gating_xml, applied_gates_text(result, events))
    patient_figure(result, events, sm.output.png)


run_step(sm.rule, sm.log[0], main)
