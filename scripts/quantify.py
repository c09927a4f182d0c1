"""Snakemake adapter: quantities of one plate's unknowns, well QC, and the curve figure."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.io import read_records, write_records  # noqa: E402
from sortpcr.qpcr.quantify import QUANTITY_COLUMNS, quantify  # noqa: E402
from sortpcr.qpcr.readers import COLUMNS  # noqa: E402
from sortpcr.qpcr.replicates import QC_COLUMNS  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402
from sortpcr.settings import QpcrSettings  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    from sortpcr.plots.qpcr import plot_plate

    curves = read_records(sm.input.curves)
    quantities, wells_qc, decisions = quantify(
        read_records(sm.input.wells), curves, QpcrSettings.from_config(sm.params.qpcr)
    )
    for line in decisions:
        log.info(line)
    write_records(sm.output.quantities, quantities, QUANTITY_COLUMNS)
    write_records(sm.output.wells_qc, wells_qc, [*COLUMNS, *QC_COLUMNS])
    plot_plate(wells_qc, curves, quantities, sm.output.png, plate=sm.wildcards.plate)


run_step(sm.rule, sm.log[0], main)
