"""Snakemake adapter: the study's Figures 1 and 2, the log2-fold heat map, TEL-AML1."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from sortpcr.io import read_tsv  # noqa: E402
from sortpcr.runner import run_step  # noqa: E402
from sortpcr.settings import FigureSettings  # noqa: E402

sm = snakemake  # noqa: F821


def main(log):
    from sortpcr.plots.cohort import cohort_figure, save_figure

    settings = FigureSettings.from_config(sm.params.classification, sm.params.figures)
    calls, fusion, groups = (read_tsv(sm.input[k]) for k in ("calls", "fusion", "groups"))
    paths: dict[str, list[str]] = {}  # figure name -> its files (png, svg)
    for path in sm.output:
        paths.setdefault(Path(path).stem, []).append(path)
    for name, files in paths.items():
        figure = cohort_figure(name, calls, fusion, settings, groups)
        for path in files:
            save_figure(figure, path, settings.png_dpi)
            log.info("wrote %s", path)


run_step(sm.rule, sm.log[0], main)
