"""Snakemake adapter: one instrument export (+ optional plate map) -> tidy wells.tsv."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.io import write_records  # noqa: E402
from sortpcr.qpcr.readers import COLUMNS, read_plate_records  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402
from sortpcr.settings import QpcrSettings  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    wells = read_plate_records(
        sm.input.export,
        plate=sm.wildcards.plate,
        fmt=sm.params.format or None,
        settings=QpcrSettings.from_config(sm.params.qpcr),
        layout=sm.input.get("layout"),
        unit=sm.params.unit or "",
    )
    log.info("%s: %d wells from %s", sm.wildcards.plate, len(wells), sm.params.label)
    write_records(sm.output[0], wells, COLUMNS)


run_step(sm.rule, sm.log[0], main)
