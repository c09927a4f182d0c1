"""Standard-curve figure of one qPCR plate: a panel per target.

Each panel shows Ct (cycles) against log10 quantity (standard's unit): the standard wells
used in the fit (filled circles), excluded replicate outliers (red crosses), standards
without a Ct (open triangles on the top edge), the fitted line over the standards' range
(dashed beyond it), the unknowns placed on the curve at their mean Ct (diamonds labelled
by their sample name; orange when outside the standards' range, grey when not evaluable),
and the curve's slope, efficiency with its confidence interval (level stated), R² and
points. The x axis reads "log10 copies" for copy-number standards. The title carries the
curve status (and why it failed). The PNG is deterministic (no software/date metadata;
Agg canvas, fixed size).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sortpcr.io import Rows, as_records, cell_float, column_floats, is_missing, write_with

_COLOURS = {"used": "#1f77b4", "excluded": "#d62728", "ok": "#2ca02c", "range": "#ff7f0e"}


def _panel(
    ax,  # noqa: ANN001
    target: str,
    std: list[dict[str, Any]],
    curve: Mapping[str, Any] | None,
    unknowns: list[dict[str, Any]],
    ct_top: float,
) -> None:
    """One target's panel: Ct (cycles) against log10 quantity (standard's unit)."""
    import numpy as np

    used = [r for r in std if r["used"]]
    outliers = [r for r in std if r["exclusion"].startswith("outlier")]
    undetermined = [r for r in std if is_missing(r["ct"])]
    ax.scatter(
        np.log10(column_floats(used, "quantity")),
        column_floats(used, "ct"),
        s=22,
        color=_COLOURS["used"],
        zorder=3,
        label="standard (used)",
    )
    if len(outliers):
        ax.scatter(
            np.log10(column_floats(outliers, "quantity")),
            column_floats(outliers, "ct"),
            marker="x",
            s=40,
            color=_COLOURS["excluded"],
            zorder=4,
            label="standard (outlier, excluded)",
        )
    if len(undetermined):
        ax.scatter(
            np.log10(column_floats(undetermined, "quantity")),
            [ct_top] * len(undetermined),
            marker="^",
            s=30,
            facecolors="none",
            edgecolors=_COLOURS["excluded"],
            zorder=4,
            label="standard (no Ct)",
        )
    title = target
    slope = cell_float(curve["slope"]) if curve is not None else math.nan
    if curve is not None and not math.isnan(slope):
        intercept = cell_float(curve["intercept"])
        lo = math.log10(cell_float(curve["range_low"]))
        hi = math.log10(cell_float(curve["range_high"]))
        xs = [v for v in column_floats(unknowns, "log10_quantity") if not math.isnan(v)] + [lo, hi]
        x_all = np.array([min(xs) - 0.2, max(xs) + 0.2])
        ax.plot(x_all, intercept + slope * x_all, color="0.4", lw=0.8, ls=":", zorder=1)
        x_in = np.array([lo, hi])
        ax.plot(x_in, intercept + slope * x_in, color="0.2", lw=1.2, zorder=2)
        eff, low, high, r2 = (
            cell_float(curve[key])
            for key in ("efficiency", "efficiency_low", "efficiency_high", "r2")
        )
        level = cell_float(curve.get("ci_level", math.nan))
        level_text = f" ({level:.0%} CI)" if not math.isnan(level) else " (CI)"
        text = (
            f"slope {slope:.3f}\n"
            f"E {eff:.1%} [{low:.1%}, {high:.1%}]{level_text}\n"
            f"R² {r2:.4f}, {int(curve['points'])} wells"
        )
        ax.text(
            0.97,
            0.97,
            text,
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=7,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.8"},
        )
        title = f"{target}: {curve['status']}"
        if curve["status"] != "pass" and curve["reason"]:
            title += "\n" + "\n".join(textwrap.wrap(str(curve["reason"]), 48))
    else:
        title = f"{target}: no curve"
    for status, colour, label in (
        ("ok", _COLOURS["ok"], "unknown (in range)"),
        ("above_range", _COLOURS["range"], "unknown (out of range)"),
        ("below_range", _COLOURS["range"], None),
        ("not_evaluable", "0.6", "unknown (not evaluable)"),
    ):
        pts = [r for r in unknowns if r["status"] == status and not is_missing(r["log10_quantity"])]
        if pts:
            ax.scatter(
                column_floats(pts, "log10_quantity"),
                column_floats(pts, "ct_mean"),
                marker="D",
                s=24,
                color=colour,
                edgecolors="black",
                linewidths=0.4,
                zorder=5,
                label=label,
            )
    _label_samples(ax, unknowns)
    n_undet = sum(r["status"] == "undetected" for r in unknowns)
    if n_undet:
        ax.text(
            0.03,
            0.03,
            f"{n_undet} unknown(s) undetected",
            transform=ax.transAxes,
            fontsize=7,
            va="bottom",
        )
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(axis_label(unit_of(curve, std, unknowns)), fontsize=8)
    ax.set_ylabel("Ct (cycles)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, lw=0.3, alpha=0.5)


def _label_samples(ax, unknowns: list[dict[str, Any]]) -> None:  # noqa: ANN001
    """Name each placed unknown by its sample: labels stacked in the panel's empty lower
    left (the curve falls from upper left to lower right), joined to their points by thin
    lines; the lowest-Ct point gets the lowest label so that the lines do not cross."""
    placed = [
        r
        for r in unknowns
        if not is_missing(r["log10_quantity"])
        and not is_missing(r.get("ct_mean"))
        and not is_missing(r.get("sample"))
    ]
    placed.sort(key=lambda r: cell_float(r["ct_mean"]))
    if not placed:
        return
    step = min(0.06, 0.72 / len(placed))
    for i, r in enumerate(placed):
        ax.annotate(
            str(r["sample"]),
            (cell_float(r["log10_quantity"]), cell_float(r["ct_mean"])),
            xytext=(0.03, 0.1 + i * step),
            textcoords="axes fraction",
            fontsize=6 if step >= 0.05 else 5,
            color="0.15",
            va="center",
            arrowprops={"arrowstyle": "-", "color": "0.55", "lw": 0.4, "shrinkB": 3},
            zorder=6,
        )


def unit_of(curve: Mapping[str, Any] | None, *rows: list[dict[str, Any]]) -> str:
    """The quantity unit of a panel: the curve's ``unit``, else the first row's."""
    if curve is not None and not is_missing(curve.get("unit")):
        return str(curve["unit"])
    for part in rows:
        for r in part:
            if not is_missing(r.get("unit")):
                return str(r["unit"])
    return ""


def axis_label(unit: str) -> str:
    """x-axis label: "log10 copies" for copy standards, else relative to the IM-9 standard."""
    if unit == "copies":
        return "log10 copies"
    if unit == "relative":
        return "log10 quantity (relative to IM-9 standard)"
    return "log10 quantity"


def _legend_handles() -> list:
    from matplotlib.lines import Line2D

    def marker(label: str, m: str, colour: str, **kw) -> Line2D:  # noqa: ANN003
        return Line2D([], [], ls="", marker=m, color=colour, label=label, **kw)

    return [
        marker("standard, used", "o", _COLOURS["used"]),
        marker("standard, outlier (excluded)", "x", _COLOURS["excluded"]),
        marker("standard, no Ct", "^", _COLOURS["excluded"], markerfacecolor="none"),
        Line2D([], [], color="0.2", lw=1.2, label="fit over the standards' range"),
        marker("unknown, in range", "D", _COLOURS["ok"], markeredgecolor="black"),
        marker("unknown, out of range", "D", _COLOURS["range"], markeredgecolor="black"),
        marker("unknown, not evaluable", "D", "0.6", markeredgecolor="black"),
        Line2D([], [], color="0.4", lw=0.8, ls=":", label="extrapolation (not used)"),
    ]


def plot_plate(
    wells_qc: Rows,
    curves: Rows,
    quantities: Rows,
    path: str | Path,
    plate: str | None = None,
) -> None:
    """Write the plate's standard-curve figure (PNG) to ``path``, atomically.

    ``wells_qc``, ``curves`` and ``quantities`` are the outputs of
    :func:`sortpcr.qpcr.quantify.quantify` and :func:`sortpcr.qpcr.curves.fit_curves` (dict
    rows or DataFrames). Targets are the plate's targets with standards or unknowns, in
    sorted order.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    wells_qc = as_records(wells_qc)
    if plate is None:
        plates = sorted({r["plate"] for r in wells_qc})
        plate = plates[0] if plates else ""
    wq = [r for r in wells_qc if r["plate"] == plate]
    cv = [r for r in as_records(curves) if r["plate"] == plate]
    qn = [r for r in as_records(quantities) if r["plate"] == plate]
    targets = sorted({r["target"] for r in wq if r["role"] in ("standard", "unknown")})
    n = max(1, len(targets))
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    legend_cols = 4 if ncols >= 2 else 2
    legend_height = 0.2 * (8 // legend_cols) + 0.1  # inches: 8 entries
    height = 3.4 * nrows + legend_height
    fig = Figure(figsize=(max(4.2 * ncols, 5.6), height), dpi=100)
    FigureCanvasAgg(fig)
    determined = [cell_float(r["ct"]) for r in wq if not is_missing(r["ct"])]
    ct_top = max(determined) + 1.0 if determined else 40.0
    curve_of = {r["target"]: r for r in cv}
    for i, target in enumerate(targets):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        std = [r for r in wq if r["role"] == "standard" and r["target"] == target]
        unk = [r for r in qn if r["target"] == target]
        _panel(ax, target, std, curve_of.get(target), unk, ct_top)
    if not targets:
        ax = fig.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, "no standards or unknowns on this plate", ha="center")
        ax.set_axis_off()
    fig.suptitle(f"Plate {plate}: standard curves per target", fontsize=11)
    fig.legend(
        handles=_legend_handles(), loc="lower center", ncol=legend_cols, fontsize=7, frameon=False
    )
    # fixed margins in inches: tight_layout would cost a whole extra draw per plate job
    fig.subplots_adjust(
        left=0.75 / fig.get_figwidth(),
        right=1 - 0.2 / fig.get_figwidth(),
        bottom=(legend_height + 0.5) / height,
        top=1 - 0.55 / height,
        wspace=0.32,
        hspace=0.45,
    )

    def save(tmp: Path) -> None:
        fig.savefig(tmp, format="png", metadata={"Software": None})

    write_with(path, save)
