"""Cohort figures: per-lineage expression panels (the study's Figs. 1 and 2), a heat map of
log2 folds, and TEL-AML1 normalised copy numbers per fraction.

* Expression figure (one per lineage): a panel per gene; per patient the CD34+ value (filled
  red circle) and the CD34- value (open blue square) in arbitrary units relative to IM-9 on a
  log scale, error bars = +-1 SE (value x 10^+-SE of the log10 value). A value that is a
  bound (``cd34pos_censor``/``cd34neg_censor`` ``<`` below the lowest standard or
  undetected, ``>`` above the top standard) is drawn as a triangle at the bound pointing to
  where the true value lies, without error bar. Above each patient the call: "+" CD34+
  higher by at least the fold threshold, "-" CD34- so, "=" no difference, "n.e." not evaluable,
  with the fold ("≥" when the fold is a bound); a "?" marks a call whose confidence
  interval crosses a threshold.
* Heat map: patients (rows, grouped by lineage) x genes; colour = log2(CD34+/CD34-), red =
  higher in CD34+, blue = higher in CD34-, white = equal; the dashed colour-bar ticks at
  +-log2(threshold) mark the call boundary; the cell text gives the log2 fold and the call;
  a hatched cell with "≥"/"≤" holds a bound (the fold is at least / at most that).
  The right-hand column, under its header, gives each patient's resistance group in words
  (a ``*`` when it rests on a flagged call).
* Fusion figure: per TEL-AML1 patient, NCN (copies per 100 GUS copies) in each fraction with
  +-1 SE bars, the EAC class when not quantifiable, and which fraction is higher by how much.

Log axes carry labelled ticks at 1, 2 and 5 per decade (1 and 3 over more than 2.5
decades), as plain numbers, so a value can be read off. Figures are built on
:class:`matplotlib.figure.Figure` (no pyplot state) and written deterministically: PNG
without ``Software`` metadata, SVG with text as editable text (``svg.fonttype: none``),
without ``Date`` and with a fixed ``svg.hashsalt``, so reruns are byte-identical.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sortpcr.censored import censor_of
from sortpcr.io import cell_float, write_with

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from sortpcr.settings import FigureSettings

POS_COLOUR = "#c0392b"
NEG_COLOUR = "#2166ac"
GREY = "#8c8c8c"
CALL_SYMBOL = {
    "CD34pos_higher": "+",
    "CD34neg_higher": "\u2212",
    "no_difference": "=",
    "not_evaluable": "n.e.",
}
FRACTION_WORDS = {"CD34pos": "CD34+", "CD34neg": "CD34−"}
#: Marker of a bound: the triangle points to where the true value lies.
BOUND_MARKER = {"<": "v", ">": "^"}
PANEL_LETTERS = "abcdefghijklmnopqrstuvwxyz"
#: Above this many patients on an axis the per-patient labels (calls, folds, cell text) are
#: left out, as they would overlap, and every k-th patient is named; the cohort tables hold
#: every number.
MAX_LABELLED = 60
#: Largest figure side in inches (Agg draws at most 2**16 pixels a side).
MAX_INCHES = 40.0


def _margins(fig: Figure, left: float, right: float, top: float, bottom: float, **space) -> None:
    """Fixed subplot margins in inches. tight_layout would cost a whole extra draw of every
    text artist (about half of a cohort figure's time)."""
    width, height = fig.get_figwidth(), fig.get_figheight()
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - top / height,
        bottom=bottom / height,
        **space,
    )


def _thinned(labels: Sequence[str]) -> tuple[list[int], list[str]]:
    """Positions and names of the patients to label: all, or every k-th of a large cohort."""
    step = max(1, math.ceil(len(labels) / MAX_LABELLED))
    return list(range(0, len(labels), step)), list(labels[::step])


def _text_inches(labels: Sequence[str], fontsize: float) -> float:
    """Rough width in inches of the longest label (DejaVu Sans averages ~0.6 em a glyph)."""
    longest = max((len(label) for label in labels), default=0)
    return longest * 0.6 * fontsize / 72


def _error(value: float, se: float) -> tuple[float, float]:
    """Lower and upper error-bar lengths of a value with a log10 SE (for a log axis)."""
    if not (math.isfinite(value) and math.isfinite(se) and value > 0):
        return 0.0, 0.0
    return value - value / 10**se, value * 10**se - value


def _plain_number(value: float, _pos: Any = None) -> str:
    """A tick label as a plain number (0.05, 2, 1000), never 10^x."""
    if not (math.isfinite(value) and value > 0):
        return ""
    return f"{value:.10g}" if value >= 1e-4 else f"{value:.0e}"


def log_ticks(ax: Any, axis: str = "y") -> None:
    """Labelled ticks on a log axis: 1, 2, 5 per decade up to 2.5 decades, 1 and 3 up to 5,
    every decade above; labels as plain numbers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    low, high = ax.get_ylim() if axis == "y" else ax.get_xlim()
    decades = math.log10(high / low) if low > 0 and high > low else 1.0
    subs = (1.0, 2.0, 5.0) if decades <= 2.5 else (1.0, 3.0) if decades <= 5 else (1.0,)
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(LogLocator(base=10, subs=subs))
    target.set_major_formatter(FuncFormatter(_plain_number))
    target.set_minor_locator(LogLocator(base=10, subs=tuple(range(1, 10))))
    target.set_minor_formatter(NullFormatter())


def _fold_text(row: Any) -> str:
    fold = cell_float(row.get("fold"))
    censor = censor_of(row.get("fold_censor"))
    if math.isfinite(fold) and fold > 0:
        magnitude = fold if fold >= 1 else 1.0 / fold
        # a bound that decides the direction: the true fold is at least this far from 1
        decides = (censor == ">" and fold > 1) or (censor == "<" and fold < 1)
        if censor and not decides:
            return ""
        return ("\u2265" if censor else "") + f"{magnitude:.1f}\u00d7"
    low, high = cell_float(row.get("fold_low")), cell_float(row.get("fold_high"))
    if math.isfinite(low):
        return f"\u2265{low:.1f}\u00d7"
    if math.isfinite(high) and high > 0:
        return f"\u2265{1 / high:.1f}\u00d7"
    return ""


def _crosses(row: Any) -> bool:
    value = row.get("ci_crosses_threshold")
    return str(value).strip().lower() in {"true", "1"}


def expression_figure(
    calls: pd.DataFrame,
    lineage: str,
    genes: Sequence[str],
    threshold: float,
    title: str | None = None,
) -> Figure:
    """Per-gene panels of CD34+ vs CD34- expression (AU relative to IM-9) for one lineage."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    part = calls[calls["lineage"].astype(str) == lineage]
    patients = sorted(part["patient"].astype(str).unique())
    ncols = 2 if len(genes) > 1 else 1
    nrows = math.ceil(len(genes) / ncols)
    width = min(max(7.0, 1.6 + 0.42 * len(patients) * ncols), MAX_INCHES)
    dense = len(patients) > MAX_LABELLED
    positions, names = _thinned(patients)
    rotated = len(patients) > 12
    ticks = _text_inches(names, 8) if rotated else 0.15  # patient labels under each panel
    panel, gap, head, foot = 2.6, 0.55 + ticks, 0.75, 0.5 + ticks  # inches
    fig = Figure(figsize=(width, nrows * panel + (nrows - 1) * gap + head + foot))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    x_of = {p: i for i, p in enumerate(patients)}
    for index, gene in enumerate(genes):
        ax = axes[index // ncols][index % ncols]
        rows = part[part["gene"] == gene]
        values: list[float] = []
        for column, dx, style in (
            ("cd34pos", -0.13, {"marker": "o", "color": POS_COLOUR, "mfc": POS_COLOUR}),
            ("cd34neg", 0.13, {"marker": "s", "color": NEG_COLOUR, "mfc": "white"}),
        ):
            xs, ys, lows, highs = [], [], [], []
            bounds: dict[str, tuple[list[float], list[float]]] = {"<": ([], []), ">": ([], [])}
            for _, row in rows.iterrows():
                value = cell_float(row.get(column))
                if not (math.isfinite(value) and value > 0):
                    continue
                censor = censor_of(row.get(f"{column}_censor"))
                if censor:  # a bound: a triangle at it, pointing to the true value
                    bounds[censor][0].append(x_of[str(row["patient"])] + dx)
                    bounds[censor][1].append(value)
                    values.append(value)
                    continue
                low, high = _error(value, cell_float(row.get(f"{column}_log10_se")))
                xs.append(x_of[str(row["patient"])] + dx)
                ys.append(value)
                lows.append(low)
                highs.append(high)
            if xs:  # one artist per fraction and panel, not one per point
                ax.errorbar(xs, ys, yerr=[lows, highs], linestyle="none",
                            markersize=2.5 if dense else 5, capsize=0 if dense else 2,
                            elinewidth=0.5 if dense else 0.8, **style)  # fmt: skip
            for censor, (bx, by) in bounds.items():
                if bx:
                    ax.plot(bx, by, linestyle="none", marker=BOUND_MARKER[censor],
                            color=style["color"], mfc="white", markersize=3 if dense else 6,
                            markeredgewidth=1.2)  # fmt: skip
            values += ys
        ax.set_yscale("log")
        if values:
            top, bottom = max(values), min(values)
            ax.set_ylim(bottom / 3.0, top * 12.0)
        log_ticks(ax)
        for _, row in [] if dense else rows.iterrows():
            x = x_of[str(row["patient"])]
            call = str(row.get("call", ""))
            symbol = CALL_SYMBOL.get(call, "?")
            colour = {"CD34pos_higher": POS_COLOUR, "CD34neg_higher": NEG_COLOUR}.get(call, GREY)
            label = symbol + ("?" if _crosses(row) else "")
            fold = _fold_text(row) if call != "not_evaluable" else ""
            ax.annotate(
                label + (f"\n{fold}" if fold else ""),
                xy=(x, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(0, -3),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize=7,
                fontweight="bold" if call in ("CD34pos_higher", "CD34neg_higher") else "normal",
                color=colour,
            )
        ax.set_xticks(positions)
        ax.set_xticklabels(names, rotation=90 if rotated else 0, fontsize=8)
        ax.set_xlim(-0.6, len(patients) - 0.4)
        ax.set_title(f"({PANEL_LETTERS[index]}) {gene}", loc="left", fontsize=10)
        ax.set_ylabel("AU relative to IM-9", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="y", which="major", color="#e0e0e0", linewidth=0.6)
        ax.set_axisbelow(True)
        if not len(rows):
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", color=GREY)
    for index in range(len(genes), nrows * ncols):
        axes[index // ncols][index % ncols].set_visible(False)
    handles = [
        Line2D([], [], marker="o", color=POS_COLOUR, linestyle="none", label="CD34+ (±1 SE)"),
        Line2D([], [], marker="s", color=NEG_COLOUR, mfc="white", linestyle="none",
               label="CD34− (±1 SE)"),
        Line2D([], [], marker="v", color=GREY, mfc="white", linestyle="none",
               label="bound: true value below"),
        Line2D([], [], marker="^", color=GREY, mfc="white", linestyle="none",
               label="bound: true value above"),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(
        title
        or (
            f"{lineage}-ALL: expression in sorted CD34+ and CD34− blasts\n"
            + (
                f"{len(patients)} patients, too many to label each: the calls are in calls.tsv"
                if dense
                else f"+ / −: ≥{threshold:g}-fold higher in CD34+ / CD34−;  "
                "=: no difference;  n.e.: not evaluable;  ?: CI crosses a threshold"
            )
        ),
        fontsize=9,
        x=0.01,
        ha="left",
    )
    _margins(fig, 0.75, 0.2, head, foot, hspace=gap / panel, wspace=0.32)
    return fig


def heatmap_figure(
    calls: pd.DataFrame,
    genes: Sequence[str],
    threshold: float,
    groups: pd.DataFrame | None = None,
    lineage_order: Sequence[str] = ("BCP", "T"),
) -> Figure:
    """Patient x gene heat map of log2(CD34+/CD34-) with the calls written in the cells and
    the resistance groups in words beside them."""
    import numpy as np
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from sortpcr.classify import GROUP_WORDS  # the words of the journal's Table 2

    lineages = [x for x in lineage_order if x in set(calls["lineage"].astype(str))]
    lineages += sorted(set(calls["lineage"].astype(str)) - set(lineages))
    ordered: list[tuple[str, str]] = []
    for lineage in lineages:
        members = sorted(calls.loc[calls["lineage"].astype(str) == lineage, "patient"].unique())
        ordered += [(str(p), lineage) for p in members]
    matrix = np.full((len(ordered), len(genes)), np.nan)
    censored = np.zeros((len(ordered), len(genes)), dtype=bool)
    text = [["" for _ in genes] for _ in ordered]
    lookup = {(str(r["patient"]), str(r["gene"])): r for _, r in calls.iterrows()}
    for i, (patient, _lineage) in enumerate(ordered):
        for j, gene in enumerate(genes):
            row = lookup.get((patient, gene))
            if row is None:
                text[i][j] = "n.m."
                continue
            value = cell_float(row.get("log2_fold"))
            fold = cell_float(row.get("fold"))
            censor = censor_of(row.get("fold_censor"))
            if censor and not math.isfinite(value) and math.isfinite(fold) and fold > 0:
                value = math.log2(fold)
            call = str(row.get("call", ""))
            symbol = CALL_SYMBOL.get(call, "?") + ("?" if _crosses(row) else "")
            if math.isfinite(value):
                matrix[i, j] = value
                censored[i, j] = bool(censor)
                bound = {"<": "\u2264", ">": "\u2265"}.get(censor, "")
                text[i][j] = f"{bound}{log2_text(value)} {symbol}"
            else:
                text[i][j] = symbol
    limit = max(3.0, float(np.nanmax(np.abs(matrix))) if np.isfinite(matrix).any() else 3.0)
    dense = len(ordered) > MAX_LABELLED
    group_of: dict[str, str] = {}
    if groups is not None and len(groups):
        for _, r in groups.iterrows():
            flag = str(r.get("group_flag", "") or "").strip()
            words = GROUP_WORDS.get(str(r["group"]), str(r["group"]))
            group_of[str(r["patient"])] = words + ("*" if flag == "*" else "")
    show_groups = bool(group_of) and not dense
    group_inches = _text_inches(list(group_of.values()), 7) + 0.15 if show_groups else 0.0
    fig = Figure(figsize=(2.2 + 1.15 * len(genes) + group_inches,
                          min(1.4 + 0.34 * max(len(ordered), 1), MAX_INCHES)))  # fmt: skip
    ax = fig.subplots()
    masked = np.ma.masked_invalid(matrix)
    cmap = _diverging_cmap()
    image = ax.imshow(
        masked,
        cmap=cmap,
        norm=TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit),
        aspect="auto",
        interpolation="nearest",
    )
    for i, j in zip(*np.nonzero(censored), strict=True):  # bounds: hatched cells
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///",
                               edgecolor="#555555", linewidth=0))  # fmt: skip
    for i in range(0 if dense else len(ordered)):
        for j in range(len(genes)):
            value = matrix[i, j]
            dark = math.isfinite(value) and abs(value) > 0.6 * limit
            box = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85}
            ax.text(j, i, text[i][j], ha="center", va="center", fontsize=7,
                    color="white" if dark and not censored[i, j] else "black",
                    bbox=box if censored[i, j] else None)  # fmt: skip
    ax.set_xticks(range(len(genes)))
    ax.set_xticklabels(list(genes), fontsize=9)
    ax.xaxis.tick_top()
    positions, row_labels = _thinned([f"{p} ({lin})" for p, lin in ordered])
    ax.set_yticks(positions)
    ax.set_yticklabels(row_labels, fontsize=8)
    for i in range(1, len(ordered)):
        if ordered[i][1] != ordered[i - 1][1]:
            ax.axhline(i - 0.5, color="black", linewidth=1.2)
    if show_groups:
        ax.annotate("resistance group", xy=(1.02, -0.5), xycoords=("axes fraction", "data"),
                    xytext=(0, 4), textcoords="offset points", va="bottom", fontsize=8,
                    fontweight="bold")  # fmt: skip
        for i, (patient, _lineage) in enumerate(ordered):
            ax.annotate(group_of.get(patient, ""), xy=(1.02, i), xycoords=("axes fraction",
                        "data"), va="center", fontsize=7)  # fmt: skip
    left = 0.25 + _text_inches(row_labels, 8)
    gap = group_inches + 0.15 if show_groups else 0.15
    cut = math.log2(threshold)
    key = _wrapped(
        [
            f"\u00b1{cut:g} = {threshold:g}-fold",
            "n.e. not evaluable",
            "? CI crosses a threshold",
            "hatched \u2265 / \u2264: a bound (at least / at most)",
        ],
        fig.get_figwidth(),
        9,
    )
    top = 0.75 + 0.16 * (1 + key.count("\n"))
    _margins(fig, left, gap + 0.2 + 0.75, top, 0.15)  # right: groups, colour bar, its labels
    width = fig.get_figwidth()
    box = ax.get_position()
    cax = fig.add_axes((box.x1 + gap / width, box.y0, 0.2 / width, box.height))
    bar = fig.colorbar(image, cax=cax)
    bar.set_label("log2(CD34+ / CD34\u2212)", fontsize=8)
    for level in (-cut, cut):
        bar.ax.axhline(level, color="black", linestyle="--", linewidth=0.8)
    bar.ax.tick_params(labelsize=7)
    fig.suptitle(
        "log2(CD34+ / CD34\u2212) per patient and gene\n" + key,
        fontsize=9,
        x=0.01,
        ha="left",
    )
    return fig


def _wrapped(parts: Sequence[str], width_inches: float, fontsize: float) -> str:
    """Parts joined by ";  " into lines that fit the width (about 0.6 em a glyph)."""
    limit = max(20, int((width_inches - 0.2) * 72 / (0.6 * fontsize)))
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + 3 + len(part) <= limit:
            lines[-1] += ";  " + part
        else:
            lines.append(part)
    return "\n".join(lines)


def log2_text(value: float) -> str:
    """A log2 fold with sign and one decimal; one that rounds to zero is "0.0", never
    "-0.0" or "+0.0"."""
    text = f"{value:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text


def _diverging_cmap():
    from matplotlib.colors import LinearSegmentedColormap

    cmap = LinearSegmentedColormap.from_list("sortpcr_div", [NEG_COLOUR, "#ffffff", POS_COLOUR])
    return cmap.with_extremes(bad="#d9d9d9")


def fusion_figure(fusion: pd.DataFrame, gene: str = "TEL-AML1") -> Figure:
    """NCN of a fusion transcript per patient and fraction (log scale, +-1 SE)."""
    from matplotlib.figure import Figure

    part = fusion[fusion["gene"].astype(str) == gene] if len(fusion) else fusion
    patients = sorted(part["patient"].astype(str).unique()) if len(part) else []
    dense = len(patients) > MAX_LABELLED
    positions, names = _thinned(patients)
    ticks = _text_inches(names, 8) if len(patients) > 12 else 0.15
    fig = Figure(figsize=(min(max(5.0, 1.5 + 0.9 * len(patients)), MAX_INCHES), 3.6 + ticks))
    ax = fig.subplots()
    if not patients:
        ax.text(0.5, 0.5, f"no {gene} measurements", ha="center", va="center",
                transform=ax.transAxes, color=GREY)  # fmt: skip
        ax.set_axis_off()
        return fig
    values = []
    x_of = {p: i for i, p in enumerate(patients)}
    for fraction, dx, marker, face in (
        ("CD34pos", -0.12, "o", POS_COLOUR),
        ("CD34neg", 0.12, "s", "white"),
    ):
        colour = POS_COLOUR if fraction == "CD34pos" else NEG_COLOUR
        xs, ys, lows, highs = [], [], [], []
        for _, row in part[part["fraction"] == fraction].iterrows():
            x = x_of[str(row["patient"])] + dx
            value = cell_float(row.get("value"))
            eac = str(row.get("eac_class", ""))
            if math.isfinite(value) and value > 0:
                low, high = _error(value, cell_float(row.get("log10_se")))
                xs.append(x)
                ys.append(value)
                lows.append(low)
                highs.append(high)
            if eac and eac != "quantifiable" and not dense:
                ax.annotate(eac.replace("_", " "), xy=(x, 0.02), xycoords=("data",
                            "axes fraction"), rotation=90, fontsize=6, ha="center",
                            va="bottom", color=GREY)  # fmt: skip
        if xs:  # one artist per fraction
            ax.errorbar(xs, ys, yerr=[lows, highs], marker=marker, color=colour, mfc=face,
                        linestyle="none", capsize=0 if dense else 2,
                        markersize=3 if dense else 6)  # fmt: skip
        values += ys
    if not dense:
        labels = {str(r["patient"]): fusion_label(r) for _, r in part.iterrows()}
        for patient, x in x_of.items():
            ax.annotate(labels[patient], xy=(x, 1.0), xycoords=("data",
                        "axes fraction"), xytext=(0, -4), textcoords="offset points",
                        ha="center", va="top", fontsize=7)  # fmt: skip
    ax.set_yscale("log")
    if values:
        ax.set_ylim(min(values) / 4.0, max(values) * 6.0)
    log_ticks(ax)
    ax.set_xticks(positions)
    ax.set_xticklabels(names, rotation=90 if len(patients) > 12 else 0, fontsize=8)
    ax.set_xlim(-0.6, len(patients) - 0.4)
    ax.set_ylabel(f"{gene} copies per 100 GUS copies (NCN)", fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(f"{gene} per fraction (red circle CD34+, blue square CD34\u2212; \u00b11 SE)",
                 fontsize=9)  # fmt: skip
    ax.grid(axis="y", color="#e0e0e0", linewidth=0.6)
    ax.set_axisbelow(True)
    _margins(fig, 0.75, 0.15, 0.35, 0.25 + ticks)
    return fig


def fusion_label(row: Any) -> str:
    """Which fraction has the higher fusion NCN, and by how much: "CD34+ higher\n2.0\u00d7"
    (fold = CD34+ / CD34-, given as a magnitude >= 1); the EAC wording otherwise."""
    higher = str(row.get("higher", "") or "")
    fold = cell_float(row.get("fold"))
    words = FRACTION_WORDS.get(higher)
    if words is None:
        return higher.replace("_", " ") if higher else "not compared"
    if math.isfinite(fold) and fold > 0:
        magnitude = fold if fold >= 1 else 1.0 / fold
        return f"{words} higher\n{magnitude:.1f}\u00d7"
    return f"{words} higher"


def figure_names(
    calls: pd.DataFrame, fusion: pd.DataFrame, lineage_order: Sequence[str] = ("BCP", "T")
) -> list[str]:
    """File stems of the cohort figures: ``figure1_BCP``, ``figure2_T`` (one per lineage of
    ``lineage_order``, always, so the set of files is fixed, then any other lineage found in
    ``calls``), ``heatmap_log2_fold`` and ``fusion_<gene>`` per fusion gene (``fusion_TEL-AML1``
    always, saying so when not measured)."""
    lineages = list(lineage_order)
    lineages += sorted(set(calls["lineage"].astype(str)) - set(lineages))
    names = [f"figure{number}_{lineage}" for number, lineage in enumerate(lineages, start=1)]
    fusion_genes = set(fusion["gene"].astype(str)) if len(fusion) else set()
    return (
        names + ["heatmap_log2_fold"] + [f"fusion_{g}" for g in sorted({"TEL-AML1", *fusion_genes})]
    )


def cohort_figure(
    name: str,
    calls: pd.DataFrame,
    fusion: pd.DataFrame,
    settings: FigureSettings,
    groups: pd.DataFrame | None = None,
    lineage_order: Sequence[str] = ("BCP", "T"),
) -> Figure:
    """One cohort figure by its file stem (see :func:`figure_names`); genes and fold
    threshold from ``settings``."""
    genes, threshold = settings.genes, settings.fold_threshold
    if name == "heatmap_log2_fold":
        return heatmap_figure(calls, genes, threshold, groups, lineage_order)
    if name.startswith("fusion_"):
        return fusion_figure(fusion, name.removeprefix("fusion_"))
    head, _, lineage = name.partition("_")
    if head.startswith("figure") and lineage:
        return expression_figure(calls, lineage, genes, threshold)
    raise ValueError(f"unknown cohort figure {name!r}")


def save_figure(fig: Figure, path: str | Path, dpi: int) -> None:
    """Write a figure atomically and deterministically; format from the suffix (png/svg);
    ``dpi``: dots per inch of a raster format (``figures.png_dpi``)."""
    import matplotlib

    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    metadata = {"Software": None} if suffix == "png" else {"Date": None} if suffix == "svg" else {}

    def writer(tmp: Path) -> None:
        with matplotlib.rc_context({"svg.hashsalt": "sortpcr", "svg.fonttype": "none"}):
            fig.savefig(tmp, format=suffix, dpi=dpi, metadata=metadata)

    write_with(path, writer)
