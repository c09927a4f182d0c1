"""Snakemake adapter: software and code versions, and the effective config."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.io import write_text, write_tsv  # noqa: E402
from sortpcr.provenance import config_yaml, software_table  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    write_tsv(sm.output.software, software_table(dict(getattr(sm.params, "code", {}))))
    write_text(sm.output.config, config_yaml(dict(sm.params.config)))
    log.info("software and config recorded")


run_step(sm.rule, sm.log[0], main)
