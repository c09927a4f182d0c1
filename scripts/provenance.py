"""Snakemake adapter: checksums of raw inputs, software versions, effective config."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.io import write_text, write_tsv  # noqa: E402
from sortpcr.provenance import config_yaml, input_table, software_table  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    paths = [sm.input.samples, sm.input.units, sm.input.plates, *sm.input.raw]
    write_tsv(sm.output.inputs, input_table(list(dict.fromkeys(paths))))
    write_tsv(sm.output.software, software_table(dict(getattr(sm.params, "code", {}))))
    write_text(sm.output.config, config_yaml(dict(sm.params.config)))
    log.info("hashed %d inputs", len(paths))


run_step(sm.rule, sm.log[0], main)
