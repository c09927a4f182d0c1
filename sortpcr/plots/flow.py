"""One PNG per patient that a person checks in seconds: the gating and the verdicts.

Panels (pre-sort tube unless said otherwise):

1. FSC vs SSC density with the scatter gate (``Cells``: debris and dead cells out);
2. the singlet gate (FSC-A vs FSC-H) within cells, or a note that there is none (CellQuest);
3. CD45 vs SSC of the cells/singlets with the blast gate (CD45-dim, SSC-low) as applied,
   the template's gate dashed and the shift from it printed when the gate was adapted;
4. CD34 histogram of the gated blasts with the cut as applied (solid) and the template's
   (dashed), the CD34- and CD34+ regions labelled with their %, how the cut was found;
5. the two sorted fractions' CD34 distributions (gated blasts) overlaid on a log count
   axis, so that the few contaminating events beyond the cut stay visible; purity printed;
6. a text summary (counts, compensation, verdicts and reasons, the gates' adaptation).

Fluorescence axes are in the strategy's own display scale (logicle for FACSDiva, the
4-decade log for CellQuest) with ticks labelled in data units, as FlowJo users expect.
Matplotlib Agg, fixed size and DPI, no timestamp in the PNG (``metadata={"Software":
None}``): the same input gives the same bytes.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..gating import GateView, gate_view, transform_values
from ..io import write_with

if TYPE_CHECKING:
    from ..flowqc import PatientEvents

__all__ = ["patient_figure"]

_COLOURS = {"CD34pos": "#c0392b", "CD34neg": "#2471a3"}
_STATUS_COLOUR = {"pass": "#1e8449", "fail": "#c0392b", "not_evaluable": "#b9770e"}


def _ticks(ax, axis: str, transform, lo: float, hi: float) -> None:
    """Label a transformed axis at 0 and powers of ten in data units."""
    if transform is None:
        return
    candidates = [0.0] + [10.0**k for k in range(0, 7)]
    values = np.array(candidates)
    with np.errstate(all="ignore"):
        pos = transform_values(values, transform)
    keep: list[tuple[float, float]] = []
    for p, v in zip(pos, values, strict=True):
        if np.isfinite(p) and lo <= p <= hi and (not keep or p - keep[-1][0] > 0.06 * (hi - lo)):
            keep.append((float(p), float(v)))
    labels = ["0" if v == 0 else f"$10^{{{int(round(np.log10(v)))}}}$" for _, v in keep]
    setter = ax.set_xticks if axis == "x" else ax.set_yticks
    setter([p for p, _ in keep], labels)


def _limits(view: GateView, k: int) -> tuple[float, float]:
    if view.transforms[k] is not None:
        return (-0.05, 1.02)
    col = view.values[:, k]
    finite = col[np.isfinite(col)]
    top = float(np.percentile(finite, 99.9)) if finite.size else 1.0
    vertices = [v[k] for v in view.gate.vertices] if view.gate.vertices else []
    top = max([top, *[v for v in vertices if v < 10 * max(top, 1)]])
    return (min(0.0, *vertices) if vertices else 0.0, top * 1.05 if top > 0 else 1.0)


def _label(name: str, markers: dict[str, str]) -> str:
    """Axis label: the channel and, where known, the marker it carries."""
    marker = {ch: m for m, ch in markers.items()}.get(name)
    return f"{name} ({marker})" if marker else name


def _density(
    ax,
    view: GateView,
    rows: np.ndarray | None,
    title: str,
    markers: dict[str, str],
    template=None,
) -> None:
    """2-D histogram (log colour) of the gate's two dimensions with its outline (and the
    template's outline dashed, when the gate was moved from it)."""
    from matplotlib.colors import LogNorm

    data = view.values if rows is None else view.values[rows]
    (x0, x1), (y0, y1) = _limits(view, 0), _limits(view, 1)
    ok = np.all(np.isfinite(data), axis=1)
    hist, xe, ye = np.histogram2d(
        data[ok, 0], data[ok, 1], bins=(160, 160), range=[[x0, x1], [y0, y1]]
    )
    hist = np.ma.masked_equal(hist.T, 0)
    if hist.count():
        ax.imshow(
            hist,
            origin="lower",
            extent=(xe[0], xe[-1], ye[0], ye[-1]),
            aspect="auto",
            cmap="viridis",
            norm=LogNorm(vmin=1),
            interpolation="nearest",
        )
    gate = view.gate
    if template is not None and template.kind == "polygon" and template.vertices != gate.vertices:
        poly = np.array(template.vertices + (template.vertices[0],))
        ax.plot(poly[:, 0], poly[:, 1], color="#34495e", lw=1.0, ls="--", label="template")
    if gate.kind == "polygon":
        poly = np.array(gate.vertices + (gate.vertices[0],))
        ax.plot(poly[:, 0], poly[:, 1], color="#e67e22", lw=1.6)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(_label(view.labels[0], markers))
    ax.set_ylabel(_label(view.labels[1], markers))
    _ticks(ax, "x", view.transforms[0], x0, x1)
    _ticks(ax, "y", view.transforms[1], y0, y1)
    ax.set_title(title, fontsize=9)


def _cut(strategy, gate_id: str) -> float | None:
    gate = strategy.gates.get(gate_id)
    if gate is None or gate.kind != "rectangle" or len(gate.dims) != 1:
        return None
    d = gate.dims[0]
    return d.min if d.min is not None else d.max


def _shift_text(record: dict[str, Any] | None, labels: tuple[str, ...]) -> str:
    """'moved: FITC-A +0.12 decade, SSC-A x1.05' for an adapted polygon ('' if none)."""
    if not record or record.get("kind") != "cluster":
        return ""
    if record.get("method") != "cluster":
        return "template kept: " + str(record.get("reason") or "")
    parts = []
    for k, label in enumerate(labels):
        shift, scale = record["shift"][k], record["scale"][k]
        if scale != 1.0:
            parts.append(f"{label} x{scale:.2f}")
        elif shift:
            dec = (record.get("shift_decades") or [None, None])[k]
            parts.append(
                f"{label} {dec:+.2f} decade" if dec is not None else f"{label} {shift:+.3g}"
            )
    note = " (limited)" if record.get("clipped") else ""
    if (record.get("trim") or {}).get("cut") is not None:
        note += f"; {labels[0]}-bright side cut at the valley"
    return "moved from template: " + ", ".join(parts) + note


def _cut_text(record: dict[str, Any] | None) -> str:
    """How the CD34 cut was set, for the histogram panel."""
    if not record or record.get("kind") != "valley":
        return "fixed cut"
    method = record["method"]
    value = f"cut {record['cut_value']:.4g} (template {record['template_cut_value']:.4g})"
    if method == "valley":
        return f"{value}: valley, depth {record['depth']:.2f}"
    return f"{value}: {method.replace('_', ' ')} (no valley)"


def _message(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=8,
            transform=ax.transAxes)  # fmt: skip
    ax.set_xticks([])
    ax.set_yticks([])


def patient_figure(result: dict[str, Any], events: PatientEvents, out_path: str | Path) -> None:
    """Draw the patient's gating figure (see module docstring) and write it atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global state, ~0.25 s less import

    strategy = events.strategy
    template = events.template or strategy
    adaptations = (result.get("gating") or {}).get("gates") or {}
    cfg = events.settings
    blast_gate = cfg.blast_gate
    fraction_gates = cfg.fraction_gates
    fig = Figure(figsize=(13.5, 8.4), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    (a_scatter, a_singlet, a_blast), (a_cd34, a_sorted, a_text) = axes
    status = result["status"]
    fig.suptitle(
        f"{result['patient']} - flow QC: {status}",
        color=_STATUS_COLOUR.get(status, "black"),
        fontsize=13,
        fontweight="bold",
    )

    pre = events.files.get("presort")
    chain: list[str] = []
    if pre is not None:
        fcs, res = pre
        gate = res.parents.get(blast_gate)
        while gate is not None:
            chain.insert(0, gate)
            gate = res.parents.get(gate)
    singlet = result["strategy"].get("singlet_gate")
    scatter_gate = chain[0] if chain else None

    markers = result["files"]["presort"].get("markers") or {}
    if pre is None:
        error = str(result["files"]["presort"]["error"])
        for ax in (a_scatter, a_singlet, a_blast, a_cd34):
            _message(ax, "pre-sort file not evaluated:\n" + "\n".join(textwrap.wrap(error, 50)))
    else:
        fcs, res = pre
        n = res.n_events

        def gate_panel(ax, gate: str, what: str) -> None:
            """A 2-D gate drawn over its parent's events, with count and percent."""
            view = gate_view(strategy, fcs, gate)
            parent = res.parents.get(gate)
            rows = np.flatnonzero(res.memberships[parent]) if parent else None
            c = res.counts[gate]
            base = res.counts[parent] if parent else n
            if view is not None and view.values.shape[1] == 2:
                title = f"{gate}: {c} of {base} ({100 * c / base:.1f} %)"
                moved = _shift_text(adaptations.get(gate), view.labels)
                _density(ax, view, rows, title, markers, template.gates.get(gate))
                if moved:
                    note = "\n".join(textwrap.wrap(moved, 40))
                    ax.text(0.02, 0.98, note, va="top", ha="left", fontsize=7, color="#1b2631",
                            transform=ax.transAxes)  # fmt: skip
            else:
                _message(ax, f"{what} {gate}: {c} events")

        view = gate_view(strategy, fcs, scatter_gate) if scatter_gate else None
        if view is not None and view.values.shape[1] == 2:
            c = res.counts[scatter_gate]
            title = f"{scatter_gate}: {c} of {n} events ({100 * c / n:.1f} %)"
            _density(a_scatter, view, None, title, markers)
        else:
            _message(a_scatter, "scatter gate cannot be drawn")
        if singlet is not None:
            gate_panel(a_singlet, singlet, "singlet gate")
        else:
            _message(a_singlet, "no singlet gate\n(no FSC-A and FSC-H pair in this strategy;\n"
                     "doublets cannot be removed)")  # fmt: skip
        gate_panel(a_blast, blast_gate, "blast gate")

        # CD34 of pre-sort blasts
        positive = result["heterogeneity"].get("positive_fraction", "CD34pos")
        pos_gate = fraction_gates.get(positive)
        view = gate_view(strategy, fcs, pos_gate) if pos_gate else None
        het = result["heterogeneity"]
        if view is not None and view.values.shape[1] == 1:
            blasts = res.memberships[blast_gate]
            vals = view.values[blasts, 0]
            vals = vals[np.isfinite(vals)]
            lo, hi = _limits(view, 0)
            a_cd34.hist(vals, bins=120, range=(lo, hi), histtype="stepfilled", color="#7f8c8d")
            cut = _cut(res.applied or strategy, pos_gate)  # a Diva file: its own tube
            first = _cut(template, pos_gate)
            if first is not None and first != cut:
                a_cd34.axvline(first, color="#34495e", lw=1.0, ls="--")
            if cut is not None:
                a_cd34.axvline(cut, color="#e67e22", lw=1.6)
                shares = het.get("fractions") or {}
                negative = next((f for f in fraction_gates if f != positive), None)
                for frac, x in ((negative, (lo + cut) / 2), (positive, (cut + hi) / 2)):
                    share = shares.get(frac) if frac else None
                    if share is not None:
                        a_cd34.text(x, 0.90, f"{frac}\n{100 * share:.1f} %", ha="center",
                                    va="top", fontsize=8, color=_COLOURS.get(frac, "black"),
                                    transform=a_cd34.get_xaxis_transform(),
                                    bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})  # fmt: skip
                a_cd34.text(0.5, 0.99, _cut_text(adaptations.get(pos_gate)), ha="center",
                            va="top", fontsize=7, transform=a_cd34.transAxes)  # fmt: skip
            a_cd34.set_xlim(lo, hi)
            _ticks(a_cd34, "x", view.transforms[0], lo, hi)
            a_cd34.set_xlabel(_label(view.labels[0], markers))
            a_cd34.set_ylabel("blasts")
            pct = het.get("pct_cd34pos")
            shown = "NA" if pct is None else f"{pct:.1f} %"
            a_cd34.set_title(
                f"pre-sort blasts: {positive} {shown} "
                f"(range {100 * het['range'][0]:g}-{100 * het['range'][1]:g} %): {het['status']}",
                fontsize=9,
                color=_STATUS_COLOUR.get(het["status"], "black"),
            )
        else:
            _message(a_cd34, "CD34 gate cannot be drawn")

    # sorted fractions overlaid
    drawn = False
    texts = []
    for fraction, gate_id in fraction_gates.items():
        entry = events.files.get(fraction)
        verdict = result["purity"].get(fraction, {})
        if entry is None:
            texts.append(f"{fraction}: {verdict.get('status', 'fail')} - {verdict.get('reason')}")
            continue
        fcs, res = entry
        view = gate_view(strategy, fcs, gate_id)
        if view is None or view.values.shape[1] != 1:
            continue
        vals = view.values[res.memberships[blast_gate], 0]
        vals = vals[np.isfinite(vals)]
        lo, hi = _limits(view, 0)
        purity = verdict.get("purity")
        shown = "NA" if purity is None else f"{100 * purity:.2f} %"
        a_sorted.hist(
            vals, bins=120, range=(lo, hi), histtype="stepfilled", alpha=0.45,
            color=_COLOURS.get(fraction, None),
            label=f"sorted {fraction}: purity {shown} ({verdict.get('status')})",
        )  # fmt: skip
        cut = _cut(res.applied or strategy, gate_id)
        if cut is not None:
            a_sorted.axvline(cut, color="#e67e22", lw=1.2)
        a_sorted.set_xlim(lo, hi)
        _ticks(a_sorted, "x", view.transforms[0], lo, hi)
        a_sorted.set_xlabel(_label(view.labels[0], markers))
        drawn = True
    if drawn:
        a_sorted.set_yscale("log")
        a_sorted.set_ylim(0.7, a_sorted.get_ylim()[1] * 30)  # room for the legend above
        a_sorted.set_ylabel("gated blasts (log scale)")
        a_sorted.legend(fontsize=8, loc="upper center")
        a_sorted.set_title(
            f"post-sort re-analysis (purity of {cfg.purity_denominator}, "
            f"min {100 * cfg.purity_min:g} %)",
            fontsize=9,
        )
    else:
        _message(a_sorted, "\n".join(texts) or "no sorted file evaluated")

    # text summary
    lines = []
    for fraction, info in result["files"].items():
        if info.get("ok"):
            lines.append(
                f"{fraction}: {info['events']} events, cells {info['cells']}, "
                f"blasts {info['blasts']}, compensation {info['compensation']}"
            )
        else:
            lines.append(f"{fraction}: NOT READ - {info.get('error')}")
    lines.append("")
    het = result["heterogeneity"]
    lines.append(f"heterogeneity: {het['status']} {het.get('reason') or ''}")
    for fraction, p in result["purity"].items():
        lines.append(f"{fraction}: {p['status']} {p.get('reason') or ''}")
    lines.append("")
    strat = result["strategy"]
    lines.append(f"strategy: {strat['path']} ({strat['engine']})")
    gating = result.get("gating") or {}
    if gating.get("mode") == "adaptive":
        lines.append(f"gates adapted on {gating.get('adapted_on')}; sorted tubes gated with them")
    elif gating.get("mode") == "template":
        lines.append(f"gates: template - {gating.get('reason')}")
    said = set()
    for gid, record in adaptations.items():
        if record.get("reason") and record["reason"] not in said:
            said.add(record["reason"])
            lines.append(f"{gid}: {record['method']} - {record['reason']}")
    lines.append(f"singlet gate: {strat.get('singlet_gate') or 'none'}")
    a_text.axis("off")
    wrapped = [w for line in lines for w in (textwrap.wrap(line, 58) or [""])]
    a_text.text(0.0, 1.0, "\n".join(wrapped), va="top", ha="left", fontsize=7.5, wrap=True,
                family="monospace", transform=a_text.transAxes)  # fmt: skip

    # fixed margins: tight_layout would cost a whole extra draw (~0.5 s per patient job)
    fig.subplots_adjust(left=0.075, right=0.985, bottom=0.07, top=0.88, wspace=0.32, hspace=0.34)

    def save(tmp: Path) -> None:
        fig.savefig(tmp, format="png", metadata={"Software": None})

    write_with(out_path, save)
