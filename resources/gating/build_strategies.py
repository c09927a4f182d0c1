"""Write the default Gating-ML 2.0 strategies: adaptive ``facsdiva.xml`` and
``cellquest.xml``, and the same gates fixed, ``facsdiva_fixed.xml`` and ``cellquest_fixed.xml``.

Run ``python resources/gating/build_strategies.py`` to regenerate them; the XML files are
committed and are what the pipeline reads. The gates are drawn once in instrument-neutral
units (fractions of the FACSDiva full scale for FSC/SSC, log10 FACSDiva intensity for CD45
and CD34) and then placed on each instrument's scale, so both strategies mean the same thing:

* ``Cells`` - FSC/SSC polygon: leaves out debris (low FSC) and dead cells (low FSC with
  raised SSC) with a slanted left edge, and saturated events at the top of the scales.
* ``Singlets`` (FACSDiva only) - FSC-A vs FSC-H band of height/area ratios 0.68-0.97; a
  doublet (two cells in one event) has about half a singlet's ratio.
* ``Blasts`` - CD45-dim / SSC-low polygon (CD45 10^2.3-10^3.55 FACSDiva units, SSC up to 16 %
  of full scale): normal lymphocytes and monocytes are CD45-bright, granulocytes SSC-high.
* ``CD34pos`` / ``CD34neg`` - CD34 at or above / below 10^3 FACSDiva units (50 on the
  CellQuest 4-decade scale), children of ``Blasts``.
* ``Lymphocytes`` (adaptive files only) - CD45-bright / SSC-low polygon, the internal
  CD34-negative population of the CD34 cut's fallback.

Adaptive files (see README.md): ``Blasts`` carries a ``<sortpcr:cluster>`` search (moved onto
the blast cluster's mode: CD45 shifted by at most ``CLUSTER_SHIFT`` decades, SSC scaled by
at most ``SSC_SCALE``; its CD45-bright side cut back to the valley before a brighter
neighbour such as monocytes, looked for within ``TRIM_SPAN``), ``CD34pos``/``CD34neg`` a
shared ``<sortpcr:valley>`` search (the CD34 density valley of the gated blasts within
``VALLEY_RANGE``; no valley -> the 99.5th percentile of ``Lymphocytes``, else the template
cut).

No gate edge sits on a pile-up value (0, 1023, 262143).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

DIVA_FULL = 262144.0
CQ_FSC = 1024 * 1.5  # CellQuest FSC channel per unit of FACSDiva full-scale fraction
CQ_SSC = 1024 * 1.8
CQ_LOG_SHIFT = np.log10(20.0)  # CellQuest scale value = FACSDiva units / 20

LOGICLE = {"T": 262144, "W": 0.5, "M": 4.5, "A": 0}
FLOG = {"T": 10000, "M": 4}

# Gates in neutral units: (fsc fraction, ssc fraction) and (log10 CD45, ssc fraction).
CELLS = [(0.153, -0.008), (0.88, -0.008), (0.88, 0.84), (0.27, 0.84), (0.21, 0.25)]
SINGLETS = [(0.10, 0.068), (0.90, 0.612), (0.90, 0.873), (0.10, 0.097)]
BLASTS = [(2.3, 0.006), (3.55, 0.006), (3.55, 0.145), (3.2, 0.16), (2.3, 0.16)]
CD34_CUT = 3.0  # log10 FACSDiva units
LYMPHOCYTES = [(3.85, 0.006), (5.1, 0.006), (5.1, 0.10), (3.85, 0.10)]

# Adaptive searches, in neutral units (log10 FACSDiva intensity, SSC fraction of full scale).
CLUSTER_ANCHOR = (2.925, 0.084)  # where the template expects the blast cluster's mode
CLUSTER_WINDOW = ((2.1, 3.75), (0.015, 0.20))  # the mode is searched here
CLUSTER_SHIFT = 0.75  # decades of CD45, at most
SSC_SCALE = 1.6  # SSC scaled by at most this factor either way
TRIM_SPAN = 0.35  # decades beyond the blast gate where a CD45-bright neighbour is looked for
TRIM_BANDWIDTH = 0.05  # decades: smoothing of that CD45 histogram
VALLEY_WINDOW = (1.0, 5.3)  # CD34 histogram span (log10 FACSDiva units)
VALLEY_RANGE = (2.2, 4.2)  # where the CD34 cut may be
VALLEY_BANDWIDTH = 0.05  # decades: Gaussian smoothing of the CD34 histogram
VALLEY_MAX_DEPTH = 0.5  # a valley is at most half the lower mode's density
FALLBACK_QUANTILE = 0.995  # of Lymphocytes' CD34, when there is no valley
SPCR = "urn:sortpcr:adaptive-gating:1"

NS = (
    'xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating"\n'
    '    xmlns:transforms="http://www.isac-net.org/std/Gating-ML/v2.0/transformations"\n'
    '    xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes"'
)
NS_ADAPTIVE = NS + f'\n    xmlns:sortpcr="{SPCR}"'


def logicle(value: float) -> float:
    """FACSDiva logicle position (0-1) of a linear value."""
    import flowutils

    out = flowutils.transforms.logicle(
        np.array([value], dtype=float), None, t=LOGICLE["T"], m=LOGICLE["M"], w=LOGICLE["W"]
    )
    return float(out[0])


def flog(value: float) -> float:
    """Gating-ML flog position of a CellQuest scale value: log10(x / T) / M + 1."""
    return float(np.log10(value / FLOG["T"]) / FLOG["M"] + 1.0)


def _num(x: float) -> str:
    return f"{x:.6g}"


def _dimension(name: str, comp: str, xform: str | None, extra: str = "") -> str:
    xf = f' gating:transformation-ref="{xform}"' if xform else ""
    return (
        f'        <gating:dimension gating:compensation-ref="{comp}"{xf}{extra}>\n'
        f'            <data-type:fcs-dimension data-type:name="{name}" />\n'
        f"        </gating:dimension>\n"
    )


def _lin(name: str) -> str:
    """An untransformed, uncompensated dimension (scatter)."""
    return _dimension(name, "uncompensated", None)


def _info(search: str) -> str:
    """A gate's ``custom_info`` holding one sortpcr search element (or nothing)."""
    if not search:
        return ""
    return (
        f"        <data-type:custom_info>\n            {search}\n        </data-type:custom_info>\n"
    )


def _polygon(gate_id: str, parent: str | None, dims: list[str], vertices, search: str = "") -> str:
    par = f' gating:parent_id="{parent}"' if parent else ""
    out = f'    <gating:PolygonGate gating:id="{gate_id}"{par}>\n' + _info(search) + "".join(dims)
    for x, y in vertices:
        out += (
            "        <gating:vertex>\n"
            f'            <gating:coordinate data-type:value="{_num(x)}" />\n'
            f'            <gating:coordinate data-type:value="{_num(y)}" />\n'
            "        </gating:vertex>\n"
        )
    return out + "    </gating:PolygonGate>\n"


def _range(
    gate_id: str, parent: str, name: str, comp: str, xform: str, bound: str, search: str = ""
) -> str:
    return (
        f'    <gating:RectangleGate gating:id="{gate_id}" gating:parent_id="{parent}">\n'
        + _info(search)
        + _dimension(name, comp, xform, bound)
        + "    </gating:RectangleGate>\n"
    )


def _searches(xpos, ypos, width: float) -> tuple[str, str, str]:
    """The three search elements: blast cluster, CD34 valley (for CD34pos and CD34neg).

    ``xpos``: log10 FACSDiva intensity -> display position on this instrument; ``ypos``:
    SSC fraction -> scale value; ``width``: display units of one decade (flog/logicle M).
    """
    (x0, x1), (y0, y1) = CLUSTER_WINDOW
    ax, ay = CLUSTER_ANCHOR
    limit = xpos(ax + CLUSTER_SHIFT) - xpos(ax)
    cluster = (
        f'<sortpcr:cluster search-x="{_num(xpos(x0))} {_num(xpos(x1))}" '
        f'search-y="{_num(ypos(y0))} {_num(ypos(y1))}" anchor="{_num(xpos(ax))} {_num(ypos(ay))}" '
        f'move-x="shift" limit-x="{_num(limit)}" move-y="scale" limit-y="{SSC_SCALE:g}" '
        'bins="64" smooth="1.5" min-events="100" '
        f'trim-x="{_num(TRIM_SPAN * width)}" trim-bandwidth="{_num(TRIM_BANDWIDTH * width)}" />'
    )
    (w0, w1), (r0, r1) = VALLEY_WINDOW, VALLEY_RANGE
    valley = (
        f'<sortpcr:valley cut="CD34" search="{_num(xpos(w0))} {_num(xpos(w1))}" '
        f'range="{_num(xpos(r0))} {_num(xpos(r1))}" '
        f'bandwidth="{_num(VALLEY_BANDWIDTH * width)}" bins="256" '
        f'max-depth="{VALLEY_MAX_DEPTH:g}" min-share="0.01" min-events="100" '
        f'fallback-gate="Lymphocytes" fallback-quantile="{FALLBACK_QUANTILE:g}" />'
    )
    return cluster, valley, valley


def facsdiva(adaptive: bool = True) -> str:
    """Gating-ML text of the FACSDiva strategy (adaptive, or every gate fixed)."""
    lg = "Logicle_262144_0.5_4.5_0"
    cut = logicle(10**CD34_CUT)
    cells = [(f * DIVA_FULL, s * DIVA_FULL) for f, s in CELLS]
    singlets = [(a * DIVA_FULL, h * DIVA_FULL) for a, h in SINGLETS]
    blasts = [(logicle(10**c), s * DIVA_FULL) for c, s in BLASTS]
    lymphs = [(logicle(10**c), s * DIVA_FULL) for c, s in LYMPHOCYTES]
    cd45 = [_dimension("FITC-A", "FCS", lg), _lin("SSC-A")]
    cluster, valley_pos, valley_neg = (
        _searches(lambda c: logicle(10**c), lambda s: s * DIVA_FULL, LOGICLE["M"] ** -1)
        if adaptive
        else ("", "", "")
    )
    kind = "adaptive" if adaptive else "fixed"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<!-- sortpcr {kind} strategy for FACSDiva FCS 3.0 (FSC-A/H, SSC-A, FITC-A = CD45,\n"
        "     PE-A = CD34). Generated by build_strategies.py; see README.md. -->\n"
        f"<gating:Gating-ML\n    {NS_ADAPTIVE if adaptive else NS}>\n\n"
        f'    <transforms:transformation transforms:id="{lg}">\n'
        f'        <transforms:logicle transforms:T="{LOGICLE["T"]}" transforms:W="{LOGICLE["W"]}"'
        f' transforms:M="{LOGICLE["M"]}" transforms:A="{LOGICLE["A"]}" />\n'
        "    </transforms:transformation>\n\n"
        + _polygon("Cells", None, [_lin("FSC-A"), _lin("SSC-A")], cells)
        + "\n"
        + _polygon("Singlets", "Cells", [_lin("FSC-A"), _lin("FSC-H")], singlets)
        + "\n"
        + _polygon("Blasts", "Singlets", cd45, blasts, cluster)
        + "\n"
        + (_polygon("Lymphocytes", "Singlets", cd45, lymphs) + "\n" if adaptive else "")
        + _range("CD34pos", "Blasts", "PE-A", "FCS", lg, f' gating:min="{_num(cut)}"', valley_pos)
        + "\n"
        + _range("CD34neg", "Blasts", "PE-A", "FCS", lg, f' gating:max="{_num(cut)}"', valley_neg)
        + "\n</gating:Gating-ML>\n"
    )


def cellquest(adaptive: bool = True) -> str:
    """Gating-ML text of the CellQuest strategy (no singlet gate: no FSC-A)."""
    fl = "Log_10000_4"
    cut = flog(10 ** (CD34_CUT - CQ_LOG_SHIFT))
    # Saturated events (channel 1023) stay out: the far edges sit at channel 1000.
    cells = [(min(f * CQ_FSC, 1000.0), min(s * CQ_SSC, 1000.0)) for f, s in CELLS]
    blasts = [(flog(10 ** (c - CQ_LOG_SHIFT)), s * CQ_SSC) for c, s in BLASTS]
    lymphs = [(flog(10 ** (c - CQ_LOG_SHIFT)), s * CQ_SSC) for c, s in LYMPHOCYTES]
    cd45 = [_dimension("FL1-H", "uncompensated", fl), _dimension("SSC-H", "uncompensated", None)]
    cluster, valley_pos, valley_neg = (
        _searches(lambda c: flog(10 ** (c - CQ_LOG_SHIFT)), lambda s: s * CQ_SSC, FLOG["M"] ** -1)
        if adaptive
        else ("", "", "")
    )
    kind = "adaptive" if adaptive else "fixed"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<!-- sortpcr {kind} strategy for CellQuest FCS 2.0 (FSC-H, SSC-H linear 0-1023,\n"
        "     FL1-H = CD45, FL2-H = CD34 on 4-decade log scale values 1-10^4; no FSC-A, so no\n"
        "     singlet gate). Generated by build_strategies.py; see README.md. -->\n"
        f"<gating:Gating-ML\n    {NS_ADAPTIVE if adaptive else NS}>\n\n"
        f'    <transforms:transformation transforms:id="{fl}">\n'
        f'        <transforms:flog transforms:T="{FLOG["T"]}" transforms:M="{FLOG["M"]}" />\n'
        "    </transforms:transformation>\n\n"
        + _polygon("Cells", None, [_lin("FSC-H"), _lin("SSC-H")], cells)
        + "\n"
        + _polygon("Blasts", "Cells", cd45, blasts, cluster)
        + "\n"
        + (_polygon("Lymphocytes", "Cells", cd45, lymphs) + "\n" if adaptive else "")
        + _range(
            "CD34pos",
            "Blasts",
            "FL2-H",
            "uncompensated",
            fl,
            f' gating:min="{_num(cut)}"',
            valley_pos,
        )
        + "\n"
        + _range(
            "CD34neg",
            "Blasts",
            "FL2-H",
            "uncompensated",
            fl,
            f' gating:max="{_num(cut)}"',
            valley_neg,
        )
        + "\n</gating:Gating-ML>\n"
    )


def main() -> None:
    for name, build in (("facsdiva", facsdiva), ("cellquest", cellquest)):
        (HERE / f"{name}.xml").write_text(build(True), encoding="utf-8")
        (HERE / f"{name}_fixed.xml").write_text(build(False), encoding="utf-8")


if __name__ == "__main__":
    main()
