"""A BD FACSDiva experiment (its "Export experiment" XML) as a gating strategy.

A Diva experiment holds specimens and tubes; every tube records the name of its FCS data
file (``<data_filename>``) and its own gate tree (``<gates>``). An FCS file is gated with the
gates of the tube whose data file name equals the file's name (exact, else ignoring case);
no tube, or several, -> :class:`GatingError`. The XML is read with DTDs and entities
forbidden (:func:`sortpcr.safe_input.read_xml_file`). Other tubes' data file names and the
tube, specimen and owner names never enter a gating result or a message (a tube is named by
its data file, the file being gated).

The gates become our own model (:class:`sortpcr.gating.Strategy` of kind ``diva-tube``,
evaluated by :func:`sortpcr.gating.evaluate`). Gate IDs are Diva's population names
(``P1``, ``Q2`` ...); a gate's parent is its ``<parent>`` population ("All Events" = none).

Regions (``<region type=...>``): ``RECTANGLE_REGION`` (a rectangle gate),
``POLYGON_REGION`` (polygon), ``INTERVAL_REGION`` (a range on one parameter; the y of its two
points is only the height of its label), ``BINNER_REGION`` (the divider of a quadrant set: a
``Composite_Classifier`` without events of its own; its quadrants ``Q1``-``Q4`` are polygons,
children of the binner's parent). Populations (``type=`` of ``<gate>``): ``Region_Classifier``
and the Snap-To kinds (``SnapTo_Classifier``, ``SnapTo_Interval_Classifier``: Diva moves a
Snap-To region onto the data when it redraws it; the region stored, which is what Diva last
counted, is used as a fixed region), ``AND_``/``OR_``/``NOT_Classifier`` (Boolean over the
``<input>`` populations), ``RestOf_Classifier`` (the parent's events in none of its
region subpopulations; Boolean ones are not counted as siblings). Anything else is refused
by name.

Diva's coordinate system (facts learned from CytoML's Diva parser, ``R/diva2GatingSet.R``,
and its maintainers' notes; our own implementation):

* a gate stores, per axis, ``is_{x,y}_parameter_log``, ``is_{x,y}_parameter_scaled`` and
  ``{x,y}_parameter_scale_value`` (the biexponential scale value r of the plot it was drawn
  on; it can differ between gates on the same parameter);
* *scaled* axis: vertices are display channels 0-4095 of a 4096-channel axis.
  Biexponential (log and scaled): channel = 4096 x logicle(x; T = 262144, M = 4.5, A = 0,
  W = max(0, (4.5 - log10(262144 / r)) / 2)) (Gating-ML logicle, normalised 0-1; the W
  formula is the one BD gave CytoML's authors; r = 0 -> W = 0). Linear and scaled: channel =
  x x 4096 / 262144;
* *log, not scaled*: vertices are log10 of the scale value; the axis shows
  ``<log_decades>`` decades below the parameter's top (``<max>``, log10 units, e.g.
  log10(262143)), so with 5 decades it starts at 2.62 and with 4 at 26.2;
* *linear, not scaled*: vertices are scale values; the axis is the parameter's
  ``<min>``-``<max>``;
* events off an axis are drawn on its edge, and a gate drawn to the edge holds them: every
  value is clamped into the axis before the region test (a hair inside it, so that a vertex
  on the edge takes them whatever side of the region the edge is).

Coordinates and values are held in normalised units (0-1, as Gating-ML's transforms):
channel / 4096 on scaled axes (``logicle`` or ``flin`` with T = 262144), scale value /
``<max>`` on unscaled linear ones (``flin``), (log10 x - bottom) / decades on log ones
(``flog``). So the figures draw Diva gates as any other, and :func:`tube_gatingml` writes a
tube's gates as Gating-ML with the same numbers.

Compensation: when the tube's ``instrument_settings`` say ``compensation_enabled``, the
tube's own matrix is applied (each compensated parameter lists its compensation
coefficients, i.e. the inverse of the spillover matrix, over the compensated parameters in
order): the spillover is the inverse of the transposed coefficient matrix. This is the matrix
Diva applied; for ``124500.fcs`` of the shared example it agrees with the file's ``SPILL``
within 3e-5 (and gives the same counts). Otherwise the file's values are used uncompensated.

Tested on the shared example (``../shared/fcs/diva``, tube ``_001``; ``tests/test_diva.py``,
README). Its gates were drawn with the mouse, so every vertex mapped by these axes falls on a
whole display pixel of its plot (172 x 157 pixels; a linear axis shows <max> x
10^-log_decades to <max>, a scaled one channels 0-4095): the coordinates are read as Diva
drew them. Against Diva's ``num_events`` our counts are 32 short from P1 on: exactly the 32
events nearest above the FSC-W upper bound (within 0.91 % of it). With FSC-W and SSC-W 0.9 %
lower, every gate agrees within 3 events; no half-pixel shift, rounding or binning of the
gates does that. The FCS file is not the export belonging to the XML (its ``$FIL``, GUID
and experiment name differ from the tube's) and its widths are exactly 65536 x A / H, so the
widths Diva counted evidently differ from this file's; no factor is applied here. CytoML
maps these linear gates the same way (its test's 0.18 % is a mean over the gates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GatingError
from ..safe_input import read_xml_file
from .model import Dimension, Gate, Matrix, Strategy, Transform, dependency_order
from .xmlns import DT, GML, XF

__all__ = [
    "DivaExperiment",
    "DivaTube",
    "apply_transform",
    "biex_width",
    "experiment_strategy",
    "read_tube",
    "tube_gatingml",
    "tube_strategy",
]

#: biexponential display of Diva as logicle: top of scale, decades (CytoML's "pos")
BIEX_T = 262144.0
BIEX_M = 4.5
#: display channels of a scaled axis: coordinate = CHANNELS x normalised display value;
#: the highest channel (the axis' top edge) is CHANNELS - 1
CHANNELS = 4096.0
_TOP = (CHANNELS - 1) / CHANNELS
#: a value clamped onto an axis edge lands this far inside it (normalised units)
_EDGE = 1e-9
#: transform kinds this module adds to the evaluator (sortpcr.gating dispatches on "diva_")
KINDS = ("diva_lin", "diva_log", "diva_biex")
_REGION_CLASSIFIERS = ("Region_Classifier", "SnapTo_Classifier", "SnapTo_Interval_Classifier")
_BOOLEAN = {"AND_Classifier": "and", "OR_Classifier": "or", "NOT_Classifier": "not"}
_KNOWN_REGIONS = ("RECTANGLE_REGION", "POLYGON_REGION", "INTERVAL_REGION", "BINNER_REGION")
_MATRIX_ID = "diva-experiment"


@dataclass(frozen=True)
class DivaTube:
    """One tube of a Diva experiment, as a strategy for its data file.

    ``strategy``: the gates (kind ``diva-tube``); ``recorded``: the number of events Diva
    counted in each gate (``num_events``, by gate ID) and ``recorded_total`` in All Events.
    ``name``/``specimen``: the tube's and specimen's names (kept out of results and messages:
    a lab may have typed a patient's name into them).
    """

    name: str
    specimen: str
    data_filename: str
    strategy: Strategy
    recorded: dict[str, int] = field(repr=False)
    recorded_total: int | None = None


# --------------------------------------------------------------------------- transforms


def biex_width(r: float) -> float:
    """Logicle W (decades) of Diva's biexponential axis with scale value ``r``:
    ``max(0, (4.5 - log10(262144 / |r|)) / 2)``; r = 0 -> 0 (a logicle with W = 0)."""
    r = abs(float(r))
    if r == 0.0:
        return 0.0
    return max(0.0, (BIEX_M - float(np.log10(BIEX_T / r))) / 2.0)


def apply_transform(values: np.ndarray, t: Transform) -> np.ndarray:
    """Scale values -> a Diva axis in normalised units (0-1 as Gating-ML's transforms; the
    stored coordinates are converted to the same units), clamped into the axis (``lo``-``hi``,
    a hair inside its edges).

    ``diva_lin``: ``x / T`` (Gating-ML ``flin`` with A = 0); ``diva_log``:
    ``(log10 x - bottom) / decades`` (x below the axis -> its bottom; ``flog``);
    ``diva_biex``: ``logicle(x; T, W, M, A=0)``.
    """
    p = t.params
    lo, hi = p["lo"], p["hi"]
    values = np.asarray(values, dtype=np.float64)
    if t.kind == "diva_lin":
        shown = values / p["T"]
    elif t.kind == "diva_log":
        bottom = p["bottom"]
        shown = (np.log10(np.clip(values, 10.0**bottom, None)) - bottom) / p["decades"]
    elif t.kind == "diva_biex":
        import flowutils

        shown = flowutils.transforms.logicle(values, None, t=p["T"], m=p["M"], w=p["W"], a=0.0)
    else:
        raise GatingError(None, f"transform {t.kind!r} is not a Diva axis", "transform")
    return np.clip(shown, lo + _EDGE, hi - _EDGE)


# --------------------------------------------------------------------------- XML helpers


def _text(el, tag: str) -> str | None:
    child = el.find(tag)
    return None if child is None or child.text is None else child.text.strip()


def _flag(el, tag: str, path: str, where: str) -> bool:
    value = _text(el, tag)
    if value not in ("true", "false"):
        raise GatingError(path, f"<{tag}> is {value!r}, not true/false", where)
    return value == "true"


def _num(value: str | None, path: str, where: str, what: str) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        shown = "missing" if value is None else f"{value!r}, not a number"
        raise GatingError(path, f"{what} is {shown}", where) from None
    if not np.isfinite(out):
        raise GatingError(path, f"{what} is {value!r}, not a finite number", where)
    return out


def _experiment(root, path: str):
    if root.tag != "bdfacs":
        raise GatingError(path, f"root element <{root.tag}> is not <bdfacs>", "bdfacs")
    experiment = root.find("experiment")
    if experiment is None:
        raise GatingError(path, "no <experiment> element", "bdfacs")
    return experiment


def _tubes(experiment) -> list[tuple[str, object]]:
    return [
        (specimen.get("name") or "", tube)
        for specimen in experiment.findall("specimen")
        for tube in specimen.findall("tube")
    ]


# --------------------------------------------------------------------------- axes


@dataclass(frozen=True)
class _Param:
    """A parameter of a tube's instrument settings (axis range in its own units)."""

    name: str
    is_log: bool
    min: float
    max: float


def _parameters(tube, path: str, where: str) -> dict[str, _Param]:
    settings = tube.find("instrument_settings")
    if settings is None:
        raise GatingError(path, "the tube has no <instrument_settings>", where)
    out = {}
    for el in settings.findall("parameter"):
        name = el.get("name") or ""
        here = f"{where}, parameter {name!r}"
        is_log = _flag(el, "is_log", path, here)
        lo = _num(_text(el, "min"), path, here, "<min>")
        hi = _num(_text(el, "max"), path, here, "<max>")
        out[name] = _Param(name, is_log, lo, hi)
    return out


def _axis(gate_el, axis: str, param: _Param | None, decades: float, path: str, where: str):
    """This gate axis: (transform kind, its parameters, the function taking a stored
    coordinate to the transform's normalised units)."""
    is_log = _flag(gate_el, f"is_{axis}_parameter_log", path, where)
    scaled = _flag(gate_el, f"is_{axis}_parameter_scaled", path, where)
    r = _num(_text(gate_el, f"{axis}_parameter_scale_value"), path, where, f"{axis} scale value")
    if is_log and scaled:
        w = biex_width(r)
        if w >= BIEX_M / 2:
            raise GatingError(path, f"{axis} scale value {r:g} gives no biexponential axis", where)
        params = {"T": BIEX_T, "M": BIEX_M, "W": w, "lo": 0.0, "hi": _TOP}
        return "diva_biex", params, _per_channel
    if scaled:
        return "diva_lin", {"T": BIEX_T, "lo": 0.0, "hi": _TOP}, _per_channel
    if param is None:
        raise GatingError(path, f"{axis} parameter is not in the tube's instrument settings", where)
    if is_log:
        top = param.max if param.is_log else float(np.log10(param.max))
        bottom = top - decades
        params = {"bottom": bottom, "decades": decades, "lo": 0.0, "hi": 1.0}
        return "diva_log", params, lambda c: (c - bottom) / decades
    if param.is_log:
        raise GatingError(path, f"{axis} axis is linear but the parameter is logarithmic", where)
    if param.max <= 0 or param.min >= param.max:
        raise GatingError(path, f"{axis} parameter range {param.min:g}-{param.max:g}", where)
    params = {"T": param.max, "lo": param.min / param.max, "hi": 1.0}
    return "diva_lin", params, lambda c: c / param.max


def _per_channel(c: float) -> float:
    """A scaled axis' display channel (0-4095) in normalised units."""
    return c / CHANNELS


def _transform_id(kind: str, name: str, params: Mapping[str, float]) -> str:
    inner = ",".join(f"{k}={v:.17g}" for k, v in sorted(params.items()))
    return f"{kind}[{name}]({inner})"


# --------------------------------------------------------------------------- gates


def _points(region, path: str, where: str) -> list[tuple[float, float]]:
    holder = region.find("points")
    pts = [] if holder is None else holder.findall("point")
    out = []
    for k, p in enumerate(pts, 1):
        x = _num(p.get("x"), path, where, f"point {k} x")
        y = _num(p.get("y"), path, where, f"point {k} y") if p.get("y") is not None else 0.0
        out.append((x, y))
    return out


def _bound(value: float, params: Mapping[str, float], is_min: bool) -> float | None:
    """A range bound; one at or beyond its axis edge holds everything off the axis: none."""
    if is_min and value <= params["lo"]:
        return None
    if not is_min and value >= params["hi"]:
        return None
    return value


class _TubeParser:
    """Builds one tube's Strategy from its ``<gates>``."""

    def __init__(self, tube, decades: float, path: str) -> None:
        self.tube = tube
        self.path = path
        # the tube is named by its data file (the file being gated), never by the specimen
        # or tube names, which a lab may have typed a patient's name into
        self.where = f"tube of {_text(tube, 'data_filename')!r}"
        self.decades = decades
        self.params = _parameters(tube, path, self.where)
        self.transforms: dict[str, Transform] = {}
        self.matrix: Matrix | None = None
        self.comp = self._compensation()

    def _compensation(self) -> str | None:
        settings = self.tube.find("instrument_settings")
        here = f"{self.where}, instrument_settings"
        if _text(settings, "compensation_enabled") != "true":
            return None
        names, rows = [], []
        for el in settings.findall("parameter"):
            comp = el.find("compensation")
            if comp is None:
                continue
            name = el.get("name") or ""
            where = f"{here}, parameter {name!r}, compensation"
            coeffs = comp.findall("compensation_coefficient")
            rows.append([_num(c.text, self.path, where, "a coefficient") for c in coeffs])
            names.append(name)
        if not names:
            return None
        if any(len(r) != len(names) for r in rows):
            raise GatingError(
                self.path,
                f"compensation coefficients do not form a {len(names)} x {len(names)} matrix "
                f"(one row per compensated parameter: {', '.join(names)})",
                here,
            )
        coefficients = np.array(rows, dtype=float)
        if abs(np.linalg.det(coefficients)) < 1e-12:
            raise GatingError(self.path, "the compensation matrix is singular", here)
        spill = np.linalg.inv(coefficients.T)
        self.matrix = Matrix(_MATRIX_ID, tuple(names), tuple(names), spill)
        return _MATRIX_ID

    def _dimension(self, gate_el, axis: str, name: str, where: str):
        """(Dimension, transform parameters, stored coordinate -> normalised units)."""
        kind, params, norm = _axis(
            gate_el, axis, self.params.get(name), self.decades, self.path, where
        )
        tid = _transform_id(kind, name, params)
        self.transforms.setdefault(tid, Transform(tid, kind, params))
        return Dimension(name, self.comp, tid), params, norm

    def gates(self) -> tuple[dict[str, Gate], dict[str, int], int | None]:
        holder = self.tube.find("gates")
        elements = [] if holder is None else holder.findall("gate")
        ids: dict[str, str | None] = {}  # full name -> gate ID (None: All Events)
        binners: dict[str, str | None] = {}  # quadrant divider full name -> its parent ID
        gates: dict[str, Gate] = {}
        recorded: dict[str, int] = {}
        total = None
        rest_of: list[tuple[str, str | None]] = []
        for el in elements:
            full = el.get("fullname") or ""
            kind = el.get("type") or ""
            where = f"{self.where}, gate '{full}'"
            count = _text(el, "num_events")
            if kind == "EventSource_Classifier":
                ids[full] = None
                total = int(_num(count, self.path, where, "<num_events>"))
                continue
            gid = _text(el, "name")
            if not gid:
                raise GatingError(self.path, "a gate without a <name>", where)
            parent_full = _text(el, "parent")
            if parent_full is None:
                raise GatingError(self.path, "a gate without a <parent>", where)
            if parent_full in binners:
                parent = binners[parent_full]
            elif parent_full in ids:
                parent = ids[parent_full]
            else:
                raise GatingError(self.path, f"parent {parent_full!r} is not defined above", where)
            if kind == "Composite_Classifier":
                region = el.find("region")
                rtype = region.get("type") if region is not None else None
                if rtype != "BINNER_REGION":
                    raise GatingError(
                        self.path, f"composite population with region type {rtype!r}", where
                    )
                binners[full] = parent
                continue
            if gid in gates:
                raise GatingError(self.path, f"gate name {gid!r} is used twice in the tube", where)
            ids[full] = gid
            if kind in _REGION_CLASSIFIERS:
                gates[gid] = self._region_gate(el, gid, parent, where)
            elif kind in _BOOLEAN:
                gates[gid] = self._boolean_gate(el, gid, parent, _BOOLEAN[kind], ids, where)
            elif kind == "RestOf_Classifier":
                rest_of.append((gid, parent))
                gates[gid] = Gate(gid, parent, "boolean", op="and")
            else:
                raise GatingError(
                    self.path,
                    f"population type {kind!r} is not supported (known: EventSource, Region, "
                    "SnapTo, SnapTo_Interval, Composite (quadrants), RestOf, AND, OR, NOT)",
                    where,
                )
            if count is not None:
                recorded[gid] = int(_num(count, self.path, where, "<num_events>"))
        for gid, parent in rest_of:
            siblings = [g.id for g in gates.values() if g.parent == parent and g.kind != "boolean"]
            if not siblings:
                raise GatingError(self.path, f"'Rest of' population {gid!r} has no siblings")
            if len(siblings) == 1:  # Gating-ML's and/or need two references
                gates[gid] = Gate(gid, parent, "boolean", op="not", refs=((siblings[0], False),))
            else:
                refs = tuple((s, True) for s in siblings)
                gates[gid] = Gate(gid, parent, "boolean", op="and", refs=refs)
        return _order(gates, self.path), recorded, total

    def _region_gate(self, el, gid: str, parent: str | None, where: str) -> Gate:
        region = el.find("region")
        if region is None:
            raise GatingError(self.path, "a region population without a <region>", where)
        rtype = region.get("type") or ""
        if rtype not in _KNOWN_REGIONS or rtype == "BINNER_REGION":
            raise GatingError(
                self.path,
                f"region type {rtype!r} is not supported (known: RECTANGLE_REGION, "
                "POLYGON_REGION, INTERVAL_REGION, BINNER_REGION for quadrants)",
                where,
            )
        xname, yname = region.get("xparm"), region.get("yparm")
        if not xname:
            raise GatingError(self.path, f"{rtype} without an xparm", where)
        stored = _points(region, self.path, where)
        xdim, xp, xnorm = self._dimension(el, "x", xname, where)
        if rtype == "INTERVAL_REGION":
            xs = sorted({xnorm(x) for x, _ in stored})
            if len(xs) != 2:
                raise GatingError(self.path, "INTERVAL_REGION needs two distinct x values", where)
            lo, hi = _bound(xs[0], xp, True), _bound(xs[1], xp, False)
            dim = Dimension(xdim.name, xdim.comp, xdim.xform, lo, hi)
            return Gate(gid, parent, "rectangle", (dim,))
        if not yname:
            raise GatingError(self.path, f"{rtype} without a yparm", where)
        ydim, yp, ynorm = self._dimension(el, "y", yname, where)
        pts = [(xnorm(x), ynorm(y)) for x, y in stored]
        if rtype == "RECTANGLE_REGION":
            xs, ys = sorted({x for x, _ in pts}), sorted({y for _, y in pts})
            if len(xs) != 2 or len(ys) != 2:
                raise GatingError(
                    self.path, "RECTANGLE_REGION needs two distinct x and two distinct y", where
                )
            dims = (
                Dimension(xname, xdim.comp, xdim.xform, *_range(xs, xp)),
                Dimension(yname, ydim.comp, ydim.xform, *_range(ys, yp)),
            )
            return Gate(gid, parent, "rectangle", dims)
        if len(pts) < 3:
            raise GatingError(self.path, "POLYGON_REGION needs at least 3 points", where)
        return Gate(gid, parent, "polygon", (xdim, ydim), vertices=tuple(pts))

    def _boolean_gate(self, el, gid, parent, op: str, ids, where: str) -> Gate:
        refs = []
        for inp in el.findall("input"):
            full = (inp.text or "").strip()
            if full not in ids or ids[full] is None:
                raise GatingError(self.path, f"input {full!r} is not a population above", where)
            refs.append((ids[full], False))
        if (op == "not" and len(refs) != 1) or (op != "not" and len(refs) < 2):
            wanted = "one input" if op == "not" else "two or more inputs"
            raise GatingError(self.path, f"{op.upper()} population needs {wanted}", where)
        return Gate(gid, parent, "boolean", op=op, refs=tuple(refs))


def _range(values: list[float], params: Mapping[str, float]) -> tuple[float | None, float | None]:
    return _bound(values[0], params, True), _bound(values[1], params, False)


def _order(gates: dict[str, Gate], path: str) -> dict[str, Gate]:
    """Parents and Boolean inputs before the gates that use them."""

    def needs(gid: str) -> list[str]:
        gate = gates[gid]
        return [d for d in (gate.parent, *(r for r, _ in gate.refs)) if d is not None]

    return dependency_order(gates, needs, path, "population")


# --------------------------------------------------------------------------- public


def _find_tube(experiment, path: str, fcs_name: str):
    tubes = _tubes(experiment)
    with_data = [(s, t) for s, t in tubes if _text(t, "data_filename")]
    hits = [(s, t) for s, t in with_data if _text(t, "data_filename") == fcs_name]
    if not hits:
        folded = fcs_name.casefold()
        hits = [(s, t) for s, t in with_data if _text(t, "data_filename").casefold() == folded]
    if not hits:
        raise GatingError(
            path,
            f"no tube of this FACSDiva experiment records the data file {fcs_name!r} "
            f"({len(with_data)} tubes record data files); the FCS file must keep the name "
            "Diva gave it (tubes are matched by <data_filename>)",
            "samples",
        )
    if len(hits) > 1:
        raise GatingError(
            path,
            f"{len(hits)} tubes record the data file {fcs_name!r}: ambiguous; export the "
            "experiment with only one of them",
            "samples",
        )
    return hits[0]


@dataclass
class DivaExperiment(Strategy):
    """A whole experiment as a strategy (kind ``diva``, no gates of its own): the parsed XML
    and the tubes built so far, by data file name (each built once, on first use)."""

    root: Any = field(default=None, repr=False)
    tubes: dict[str, DivaTube] = field(default_factory=dict, repr=False)


def _tube_from_root(root, path: str, fcs_name: str) -> DivaTube:
    experiment = _experiment(root, path)
    specimen, tube = _find_tube(experiment, path, fcs_name)
    decades = _num(_text(experiment, "log_decades"), path, "experiment", "<log_decades>")
    parser = _TubeParser(tube, decades, path)
    gates, recorded, total = parser.gates()
    if not gates:
        raise GatingError(path, "the tube defines no gates", parser.where)
    matrices = {_MATRIX_ID: parser.matrix} if parser.comp else {}
    strategy = Strategy(path, "diva-tube", gates, parser.transforms, matrices)
    data_filename = _text(tube, "data_filename") or ""
    return DivaTube(tube.get("name") or "", specimen, data_filename, strategy, recorded, total)


def read_tube(path: str | Path, fcs_name: str) -> DivaTube:
    """The tube of the Diva experiment ``path`` whose data file is ``fcs_name`` (its name
    is used, not its folder), with its gates as a strategy and Diva's recorded counts."""
    root = read_xml_file(path, error=GatingError, kind="Diva experiment file")
    return _tube_from_root(root, str(path), Path(fcs_name).name)


def tube_strategy(experiment: Strategy | str | Path, fcs_name: str) -> Strategy:
    """The gates of the tube recording ``fcs_name``: from a loaded :class:`DivaExperiment`
    (built once per file name) or from the experiment's file (see :func:`read_tube`)."""
    if not isinstance(experiment, DivaExperiment):
        path = experiment.path if isinstance(experiment, Strategy) else experiment
        return read_tube(path, fcs_name).strategy
    name = Path(fcs_name).name
    if name not in experiment.tubes:
        experiment.tubes[name] = _tube_from_root(experiment.root, experiment.path, name)
    return experiment.tubes[name].strategy


def experiment_strategy(root, path: str) -> DivaExperiment:
    """A whole experiment as a strategy (kind ``diva``): checked to hold tubes; its gates are
    per tube, resolved by :func:`sortpcr.gating.evaluate` from the FCS file's name."""
    experiment = _experiment(root, path)
    if not _tubes(experiment):
        raise GatingError(path, "the FACSDiva experiment has no tubes", "experiment")
    _num(_text(experiment, "log_decades"), path, "experiment", "<log_decades>")
    return DivaExperiment(path, "diva", {}, {}, {}, root=root)


# --------------------------------------------------------------------------- as Gating-ML

#: how far beyond an axis a vertex on its edge is moved in Gating-ML (normalised units)
_BEYOND = 1000.0


def _gml_axis(t: Transform, k: int) -> Transform:
    """A Diva axis as a Gating-ML transform ``axis{k}`` giving the same normalised units:
    ``logicle`` (A = 0), ``flin`` (A = 0) or ``flog`` (T = 10^top, M = decades)."""
    p = t.params
    if t.kind == "diva_biex":
        return Transform(f"axis{k}", "logicle", {"T": p["T"], "W": p["W"], "M": p["M"], "A": 0.0})
    if t.kind == "diva_lin":
        return Transform(f"axis{k}", "flin", {"T": p["T"], "A": 0.0})
    top = p["bottom"] + p["decades"]
    return Transform(f"axis{k}", "flog", {"T": 10.0**top, "M": p["decades"]})


def tube_gatingml(strategy: Strategy, fcs=None, note: str = "") -> str:
    """The gates of a Diva tube as Gating-ML 2.0 text (never the experiment's own text).

    ``strategy``: a tube's strategy (kind ``diva-tube``) or a whole experiment (kind
    ``diva``, the tube then chosen by ``fcs``'s file name). Each axis becomes the Gating-ML
    transform computing the same normalised units (:func:`_gml_axis`); ranges on log axes are
    written in scale values. The experiment's matrix becomes a ``spectrumMatrix``. A range bound on
    an axis edge is left out and a polygon vertex on an edge is moved far beyond it, so the
    events Diva draws on the edge stay in - exact for rectangles, intervals, quadrants and
    polygons whose edge vertices join axis-parallel sides; on a log axis, events at or below
    zero cannot be in a Gating-ML polygon (``flog`` is undefined there). Gate IDs are the
    population names made valid XML names (:func:`_gml_ids`).
    """
    import xml.etree.ElementTree as ET

    if strategy.kind == "diva":
        if fcs is None:
            raise GatingError(strategy.path, "a Diva experiment's gates depend on the file")
        strategy = tube_strategy(strategy, Path(fcs.path).name)
    if strategy.kind != "diva-tube":
        raise GatingError(strategy.path, f"is not a Diva tube strategy ({strategy.kind})")
    ET.register_namespace("gating", GML)
    ET.register_namespace("transforms", XF)
    ET.register_namespace("data-type", DT)
    root = ET.Element(f"{{{GML}}}Gating-ML")
    axes = {tid: _gml_axis(t, k) for k, (tid, t) in enumerate(strategy.transforms.items(), 1)}
    ids = _gml_ids(strategy)
    for xf in axes.values():
        el = ET.SubElement(root, f"{{{XF}}}transformation", {f"{{{XF}}}id": xf.id})
        ET.SubElement(el, f"{{{XF}}}{xf.kind}",
                      {f"{{{XF}}}{k}": repr(float(v)) for k, v in xf.params.items()})  # fmt: skip
    for m in strategy.matrices.values():
        el = ET.SubElement(root, f"{{{XF}}}spectrumMatrix", {f"{{{XF}}}id": m.id})
        for tag, names in (("fluorochromes", m.fluorochromes), ("detectors", m.detectors)):
            holder = ET.SubElement(el, f"{{{XF}}}{tag}")
            for name in names:
                ET.SubElement(holder, f"{{{DT}}}fcs-dimension", {f"{{{DT}}}name": name})
        for row in m.values:
            spectrum = ET.SubElement(el, f"{{{XF}}}spectrum")
            for value in row:
                ET.SubElement(
                    spectrum, f"{{{XF}}}coefficient", {f"{{{XF}}}value": repr(float(value))}
                )
    for gate in strategy.gates.values():
        _gml_gate(root, gate, strategy, axes, ids)
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode")
    comment = f"<!-- {note.replace('--', '- -')} -->\n" if note else ""
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{comment}{text}\n'


def _gml_ids(strategy: Strategy) -> dict[str, str]:
    """Gate IDs valid in Gating-ML (XML names): Diva's population names with every other
    character made ``_`` (``Rest of All Events`` -> ``Rest_of_All_Events``), kept unique."""
    import re

    out: dict[str, str] = {}
    for gid in strategy.gates:
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", gid)
        if not re.match(r"[A-Za-z_]", name):
            name = f"_{name}"
        while name in out.values():
            name = f"{name}_"
        out[gid] = name
    return out


def _gml_gate(root, gate: Gate, strategy: Strategy, axes, ids: dict[str, str]) -> None:
    import xml.etree.ElementTree as ET

    attrs = {f"{{{GML}}}id": ids[gate.id]}
    if gate.parent is not None:
        attrs[f"{{{GML}}}parent_id"] = ids[gate.parent]
    if gate.kind == "boolean":
        el = ET.SubElement(root, f"{{{GML}}}BooleanGate", attrs)
        op = ET.SubElement(el, f"{{{GML}}}{gate.op}")
        for ref, complement in gate.refs:
            ref_attrs = {f"{{{GML}}}ref": ids[ref]}
            if complement:
                ref_attrs[f"{{{GML}}}use-as-complement"] = "true"
            ET.SubElement(op, f"{{{GML}}}gateReference", ref_attrs)
        return
    tag = "RectangleGate" if gate.kind == "rectangle" else "PolygonGate"
    el = ET.SubElement(root, f"{{{GML}}}{tag}", attrs)
    dims = []
    for dim in gate.dims:
        t = strategy.transforms[dim.xform]
        xf = axes[dim.xform]
        d_attrs = {f"{{{GML}}}compensation-ref": dim.comp or "uncompensated"}
        if gate.kind == "rectangle":
            lo, hi = dim.min, dim.max
            if lo is None and hi is None:
                continue  # the whole axis: no bound at all
            if t.kind == "diva_log":  # a range on a log axis: in scale values, no transform
                p = t.params
                xf = None
                lo, hi = ((None if b is None else 10.0 ** (p["bottom"] + b * p["decades"]))
                          for b in (lo, hi))  # fmt: skip
            if lo is not None:
                d_attrs[f"{{{GML}}}min"] = repr(float(lo))
            if hi is not None:
                d_attrs[f"{{{GML}}}max"] = repr(float(hi))
        if xf is not None:
            d_attrs[f"{{{GML}}}transformation-ref"] = xf.id
        dims.append((d_attrs, dim.name))
    if not dims:  # a rectangle over whole axes holds every event of its parent
        first = gate.dims[0]
        comp = first.comp or "uncompensated"
        dims = [({f"{{{GML}}}compensation-ref": comp, f"{{{GML}}}min": "-inf"}, first.name)]
    for d_attrs, name in dims:
        d_el = ET.SubElement(el, f"{{{GML}}}dimension", d_attrs)
        ET.SubElement(d_el, f"{{{DT}}}fcs-dimension", {f"{{{DT}}}name": name})
    if gate.kind != "polygon":
        return
    for vertex in gate.vertices:
        v_el = ET.SubElement(el, f"{{{GML}}}vertex")
        for dim, value in zip(gate.dims, vertex, strict=True):
            p = strategy.transforms[dim.xform].params
            if value <= p["lo"]:
                value -= _BEYOND
            elif value >= p["hi"]:
                value += _BEYOND
            ET.SubElement(v_el, f"{{{GML}}}coordinate", {f"{{{DT}}}value": repr(float(value))})
