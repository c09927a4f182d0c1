"""Snakemake adapter: quantities of one plate's unknowns, well QC, and the curve figure."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.io import read_tsv, write_tsv  # noqa: E402
from sortpcr.qpcr.quantify import quantify  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    from sortpcr.plots.qpcr import plot_plate

    curves = read_tsv(sm.input.curves)
    quantities, wells_qc, decisions = quantify(read_tsv(sm.input.wells), curves, sm.params.qpcr)
    for line in decisions:
        log.info(line)
    write_tsv(sm.output.quantities, quantities)
    write_tsv(sm.output.wells_qc, wells_qc)
    plot_plate(wells_qc, curves, quantities, sm.output.png, plate=sm.wildcards.plate)


run_step(sm.rule, sm.log[0], main)
