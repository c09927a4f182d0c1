"""Snakemake adapter: one cohort figure (Figure 1 or 2, the log2-fold heat map, TEL-AML1)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.io import read_tsv  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    from sortpcr.plots.cohort import cohort_figure, save_figure

    settings = sm.params.classification
    figure = cohort_figure(
        sm.wildcards.figure,
        read_tsv(sm.input.calls),
        read_tsv(sm.input.fusion),
        settings["genes"],
        settings["fold_threshold"],
        read_tsv(sm.input.groups),
    )
    for path in sm.output:
        save_figure(figure, path)
        log.info("wrote %s", path)


run_step(sm.rule, sm.log[0], main)
