"""Snakemake adapter: size and SHA-256 of every raw input and sample sheet."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.io import write_tsv  # noqa: E402
from sortpcr.provenance import input_table  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    paths = [sm.input.samples, sm.input.units, sm.input.plates, *sm.input.raw]
    write_tsv(sm.output[0], input_table(list(dict.fromkeys(paths))))
    log.info("hashed %d inputs", len(paths))


run_step(sm.rule, sm.log[0], main)
