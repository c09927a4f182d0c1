"""Gating strategies as data: load Gating-ML 2.0 or a FlowJo 10 workspace, evaluate on FCS data.

Loading. Every XML input is first read and parsed by :mod:`sortpcr.safe_input` (a regular
file under a size limit, defusedxml with DTDs forbidden), so any
``<!DOCTYPE``/``<!ENTITY`` (external entities, "billion laughs") is refused with
:class:`XMLSecurityError` before FlowKit/lxml ever sees the file. A Gating-ML file is then
parsed by us (ElementTree) into plain dataclasses; a FlowJo workspace is handed to
``flowkit.Workspace`` and its gating for one sample (chosen by name; absent sample ->
:class:`GatingError`).

Evaluation. Our evaluator reproduces FlowKit's ``GatingStrategy.gate_sample`` semantics
exactly (the differential tests prove equal memberships, including the Gating-ML 2.0
compliance set) while being faster and not importing FlowKit (``import flowkit`` costs
~2.6 s): it uses the same numerical primitives (flowutils' transforms, ``points_in_polygon``,
``points_in_ellipsoid``, ``compensate``), compensates once per matrix, transforms each
(channel, transform) once per parent population, and tests a gate only on the events of its
parent. Semantics mirrored from FlowKit / Gating-ML 2.0:

* compensation per gate: the one non-``uncompensated`` ``compensation-ref`` of its
  dimensions (``FCS`` = the file's own matrix, applied by :mod:`sortpcr.fcs`; no matrix in
  the file -> uncompensated, as the Gating-ML spec says; else a ``spectrumMatrix`` of the
  strategy, whose fluorochrome names may stand for their detectors); ratio dimensions
  (``fratio``) are computed on uncompensated values;
* ranges ``min <= x < max``; polygons by winding number with edge points inside (flowutils);
  ellipsoids ``d^2 <= distanceSquare``; quadrants by divider values (``min <= x < max``);
  Boolean ``and``/``or``/``not`` over the referenced gates' memberships, ``use-as-complement``;
* every gate is ANDed with its parent (``parent_id``).

Gates or transforms it does not know make the strategy fall back to FlowKit
(``Strategy.engine == "flowkit"``, with the reason). FlowJo workspaces always use FlowKit.

Adaptive gates. A gate whose ``data-type:custom_info`` holds a ``<sortpcr:cluster>``
(polygon: moved onto the densest point of its parent's events in a search window) or a
``<sortpcr:valley>`` (one-dimension range: its bound set at the deepest density valley,
else a quantile of an internal negative population, else the template's) is found in each
file while it is evaluated (:class:`ClusterSearch`, :class:`ValleySearch`; the searches in
:mod:`sortpcr.adaptive`; format and parameters in resources/gating/README.md). The result's
``applied`` strategy holds the coordinates used and no search: gate other files with it
(a patient's sorted tubes), or write it with :func:`gatingml_text` - loaded again, it gives
the same memberships in our engine and in FlowKit. FlowKit itself ignores our element and
sees the template.

Errors: dimension names that are not channels of a file -> :class:`GatingError` naming the
missing channels and the file; gate IDs required by the configuration but absent ->
:class:`GatingError` listing the IDs that exist (:func:`require_gates`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import GatingError
from .safe_input import read_xml_file

if TYPE_CHECKING:
    from .fcs import FCSData

__all__ = [
    "ClusterSearch",
    "Dimension",
    "Gate",
    "GatingResult",
    "Strategy",
    "ValleySearch",
    "applied_gatingml",
    "evaluate",
    "evaluate_flowkit",
    "flowkit_sample",
    "gate_view",
    "gatingml_text",
    "inverse_values",
    "load_strategy",
    "read_xml_safely",
    "require_gates",
    "transform_values",
]

GML = "http://www.isac-net.org/std/Gating-ML/v2.0/gating"
XF = "http://www.isac-net.org/std/Gating-ML/v2.0/transformations"
DT = "http://www.isac-net.org/std/Gating-ML/v2.0/datatypes"
#: our namespace for adaptive gates, inside a gate's ``data-type:custom_info``
SPCR = "urn:sortpcr:adaptive-gating:1"
_UNCOMP = (None, "uncompensated")


def _g(name: str) -> str:
    return f"{{{GML}}}{name}"


def _t(name: str) -> str:
    return f"{{{XF}}}{name}"


def _d(name: str) -> str:
    return f"{{{DT}}}{name}"


def _s(name: str) -> str:
    return f"{{{SPCR}}}{name}"


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Dimension:
    """One gate dimension: an FCS channel (``name``) or a ratio (``ratio``, a transform ID),
    with its compensation and transformation references and optional range bounds."""

    name: str | None
    comp: str | None = None
    xform: str | None = None
    min: float | None = None
    max: float | None = None
    ratio: str | None = None


@dataclass(frozen=True)
class Gate:
    """A gate. ``kind``: rectangle, polygon, ellipsoid, quadrant (one per quadrant ID, with
    ``dims`` = the dividers it uses and ``bounds`` their [min, max)), boolean."""

    id: str
    parent: str | None
    kind: str
    dims: tuple[Dimension, ...] = ()
    vertices: tuple[tuple[float, float], ...] = ()
    mean: tuple[float, ...] = ()
    covariance: tuple[tuple[float, ...], ...] = ()
    distance_square: float = 1.0
    op: str = ""
    refs: tuple[tuple[str, bool], ...] = ()
    bounds: tuple[tuple[float | None, float | None], ...] = ()
    group: str | None = None  # quadrant gate ID a quadrant belongs to
    search: ClusterSearch | ValleySearch | None = None  # adaptive: found in each file


@dataclass(frozen=True)
class ClusterSearch:
    """Adaptive polygon (``<sortpcr:cluster>``): the template is moved onto the densest point
    of its parent's events inside ``window`` (display units of the gate's two dimensions).

    ``anchor``: where the template expects that point; ``move`` per dimension: ``shift``
    (translate by mode - anchor, at most ``limit`` display units), ``scale`` (multiply by
    mode / anchor, within 1/``limit``-``limit``) or ``fixed``. ``bins``/``sigma``: the 2-D
    histogram per axis and its Gaussian smoothing (bins); ``min_events`` in the window, else
    the template stays. ``trim`` > 0: after the move, the side of the gate beyond the mode
    on the first axis (the CD45-bright side) is cut back to the density valley between the
    cluster and a neighbouring population (looked for up to ``trim`` display units beyond
    the gate, in the gate's band of the second axis, smoothed with ``trim_bandwidth``) when
    that valley lies in the outer half of the gate's span beyond the mode.
    """

    window: tuple[tuple[float, float], tuple[float, float]]
    anchor: tuple[float, float]
    move: tuple[str, str] = ("shift", "shift")
    limit: tuple[float, float] = (np.inf, np.inf)
    bins: int = 64
    sigma: float = 1.5
    min_events: int = 100
    trim: float = 0.0
    trim_bandwidth: float = 0.0


@dataclass(frozen=True)
class ValleySearch:
    """Adaptive one-dimension range gate (``<sortpcr:valley>``): its bound is set at the
    deepest density valley of the parent's events (:func:`sortpcr.adaptive.density_valley`).

    ``cut``: an ID shared by the gates that take the same bound (CD34pos ``min`` and
    CD34neg ``max``: complementary). ``window``: histogram span, ``allowed``: where the cut
    may lie, ``bandwidth``: Gaussian sigma (display units), ``max_depth``, ``min_share``.
    No valley -> the ``fallback_quantile`` of the ``fallback_gate``'s events (an internal
    negative population) plus ``fallback_offset``, kept within ``allowed``; too few of those
    (``min_events``) or no fallback gate -> the template's bound. The reason is recorded.
    """

    cut: str
    window: tuple[float, float]
    allowed: tuple[float, float]
    bandwidth: float
    bins: int = 256
    max_depth: float = 0.5
    min_share: float = 0.01
    min_events: int = 100
    fallback_gate: str | None = None
    fallback_quantile: float = 0.995
    fallback_offset: float = 0.0


@dataclass(frozen=True)
class Transform:
    """A Gating-ML transformation (``flin``, ``flog``, ``fasinh``, ``logicle``, ``hyperlog``,
    ``fratio``) with its parameters (T, W, M, A; A, B, C and two channels for ``fratio``)."""

    id: str
    kind: str
    params: Mapping[str, float]
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Matrix:
    """A Gating-ML ``spectrumMatrix``: rows are fluorochromes' spill into the detectors."""

    id: str
    fluorochromes: tuple[str, ...]
    detectors: tuple[str, ...]
    values: np.ndarray = field(repr=False)


@dataclass
class Strategy:
    """A loaded gating strategy.

    ``gates`` are in evaluation order (parents and Boolean references first). ``engine`` is
    ``sortpcr`` (our evaluator) or ``flowkit`` (with ``fallback_reason``). For a FlowJo
    workspace ``kind == "flowjo"`` and ``sample_ids`` lists its samples.
    """

    path: str
    kind: str
    gates: dict[str, Gate]
    transforms: dict[str, Transform]
    matrices: dict[str, Matrix]
    engine: str = "sortpcr"
    fallback_reason: str = ""
    sample_ids: tuple[str, ...] = ()
    _flowkit: Any = field(default=None, repr=False)
    #: the parsed Gating-ML root (ElementTree), for writing the applied gates back
    source: Any = field(default=None, repr=False)
    #: gate ID -> what the adaptive search found (set on a strategy returned as ``applied``)
    adaptations: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def adaptive(self) -> bool:
        """True when some gate is searched for in each file."""
        return any(g.search is not None for g in self.gates.values())

    def gate_ids(self) -> list[str]:
        """All gate IDs (quadrant IDs included, quadrant gate containers excluded)."""
        return list(self.gates)

    def parent(self, gate_id: str) -> str | None:
        return self.gates[gate_id].parent

    def path_of(self, gate_id: str) -> tuple[str, ...]:
        """Ancestors of a gate from ``root`` (FlowKit's gate path), without the gate."""
        chain: list[str] = []
        parent = self.gates[gate_id].parent
        while parent is not None:
            gate = self.gates.get(parent)
            if gate is None:  # a quadrant gate container
                chain.append(parent)
                break
            if gate.group is not None:
                chain.append(parent)
                chain.append(gate.group)
            else:
                chain.append(parent)
            parent = gate.parent
        return ("root", *reversed(chain))

    def dimension_names(self) -> set[str]:
        """Every FCS channel name the strategy refers to (ratio inputs included)."""
        names = {d.name for g in self.gates.values() for d in g.dims if d.name}
        for t in self.transforms.values():
            names.update(t.channels)
        return names


@dataclass(frozen=True)
class GatingResult:
    """Memberships (boolean, one per event) and counts after every gate of one file."""

    path: str
    n_events: int
    memberships: dict[str, np.ndarray] = field(repr=False)
    counts: dict[str, int]
    parents: dict[str, str | None]
    gate_paths: dict[str, tuple[str, ...]]
    engine: str
    #: the strategy as applied to this file (adapted coordinates, no searches left)
    applied: Strategy | None = field(default=None, repr=False)
    #: gate ID -> the search's record (method, evidence, shift from the template)
    adaptations: dict[str, dict[str, Any]] = field(default_factory=dict)


# --------------------------------------------------------------------------- XML safety


def read_xml_safely(path: str | Path):
    """Parse an XML file with DTDs and entities forbidden; return the ElementTree root.

    Any DOCTYPE or ENTITY declaration -> :class:`XMLSecurityError` (nothing is resolved or
    expanded); malformed XML, a missing, unreadable, oversized or non-regular file ->
    :class:`GatingError` (:mod:`sortpcr.safe_input`).
    """
    return read_xml_file(path, error=GatingError, kind="gating strategy file")


# --------------------------------------------------------------------------- Gating-ML parser


class _Unsupported(Exception):
    """Something our parser/evaluator does not cover: use FlowKit instead."""


def _attr(el, ns: str, name: str) -> str | None:
    value = el.get(f"{{{ns}}}{name}")
    if value is None:
        value = el.get(name)
    return value


def _float(el, ns: str, name: str, path: str) -> float | None:
    value = _attr(el, ns, name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise GatingError(path, f"attribute {name}={value!r} is not a number", el.tag) from None


def _number(el, ns: str, name: str, path: str, where: str) -> float:
    """A required numeric attribute (vertex coordinate, matrix entry ...): GatingError
    naming the gate when it is missing or not a number."""
    value = _attr(el, ns, name)
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        what = "missing" if value is None else f"{value!r}, not a number"
        tag = el.tag.rpartition("}")[2]
        raise GatingError(path, f"{where}: attribute {name} is {what}", tag) from None


def _text_number(el, path: str, where: str) -> float:
    """A required numeric element text (quadrant divider value)."""
    try:
        return float(el.text)
    except (TypeError, ValueError):
        what = f"{where}: value {el.text!r} is not a number"
        raise GatingError(path, what, el.tag.rpartition("}")[2]) from None


def _dimension(el, path: str) -> Dimension:
    comp = _attr(el, GML, "compensation-ref")
    xform = _attr(el, GML, "transformation-ref")
    lo, hi = _float(el, GML, "min", path), _float(el, GML, "max", path)
    fcs_dim = el.find(_d("fcs-dimension"))
    if fcs_dim is not None:
        name = _attr(fcs_dim, DT, "name")
        if not name:
            raise GatingError(path, "fcs-dimension without a name", "dimension")
        return Dimension(name, comp, xform, lo, hi)
    new_dim = el.find(_d("new-dimension"))
    if new_dim is None:
        raise GatingError(path, "dimension has neither fcs-dimension nor new-dimension")
    ratio = _attr(new_dim, DT, "transformation-ref")
    if not ratio:
        raise GatingError(path, "new-dimension without a transformation-ref")
    return Dimension(None, comp, xform, lo, hi, ratio=ratio)


def _parse_transform(el, path: str) -> Transform:
    tid = _attr(el, XF, "id")
    children = list(el)
    if not tid or len(children) != 1:
        raise GatingError(path, "transformation needs an id and one child", "transformation")
    child = children[0]
    kind = child.tag.rpartition("}")[2]
    wanted = {
        "flin": ("T", "A"),
        "flog": ("T", "M"),
        "fasinh": ("T", "M", "A"),
        "logicle": ("T", "W", "M", "A"),
        "hyperlog": ("T", "W", "M", "A"),
        "fratio": ("A", "B", "C"),
    }
    if kind not in wanted:
        raise _Unsupported(f"transformation {kind!r} ({tid})")
    params = {}
    for key in wanted[kind]:
        value = _float(child, XF, key, path)
        if value is None:
            raise GatingError(path, f"{kind} transformation {tid!r} lacks parameter {key}")
        params[key] = value
    channels: tuple[str, ...] = ()
    if kind == "fratio":
        channels = tuple(_attr(c, DT, "name") or "" for c in child.findall(_d("fcs-dimension")))
        if len(channels) != 2 or not all(channels):
            raise GatingError(path, f"fratio {tid!r} needs two fcs-dimensions")
    return Transform(tid, kind, params, channels)


def _parse_matrix(el, path: str) -> Matrix:
    mid = _attr(el, XF, "id")
    if _attr(el, XF, "matrix-inverted-already") in ("true", "1"):
        raise _Unsupported(f"spectrumMatrix {mid!r} marked matrix-inverted-already")

    def names(tag: str) -> tuple[str, ...]:
        holder = el.find(_t(tag))
        if holder is None:
            raise GatingError(path, f"spectrumMatrix {mid!r} lacks {tag}")
        return tuple(_attr(c, DT, "name") or "" for c in holder.findall(_d("fcs-dimension")))

    fluoro, detectors = names("fluorochromes"), names("detectors")
    rows = []
    for spectrum in el.findall(_t("spectrum")):
        rows.append(
            [
                _number(c, XF, "value", path, f"spectrumMatrix {mid!r}")
                for c in spectrum.findall(_t("coefficient"))
            ]
        )
    values = np.array(rows, dtype=float)
    if values.shape != (len(fluoro), len(detectors)):
        raise GatingError(path, f"spectrumMatrix {mid!r} is {values.shape}, not square n x n")
    if len(fluoro) != len(detectors):
        raise _Unsupported(f"non-square (spectral) matrix {mid!r}")
    return Matrix(mid, fluoro, detectors, values)


def _parse_gate(el, path: str) -> list[Gate]:
    kind_tag = el.tag.rpartition("}")[2]
    gid = _attr(el, GML, "id")
    if not gid:
        raise GatingError(path, f"{kind_tag} without an id")
    parent = _attr(el, GML, "parent_id")
    if kind_tag == "RectangleGate":
        dims = tuple(_dimension(d, path) for d in el.findall(_g("dimension")))
        if not dims or any(d.min is None and d.max is None for d in dims):
            raise GatingError(path, f"rectangle gate {gid!r}: every dimension needs min or max")
        return [Gate(gid, parent, "rectangle", dims)]
    if kind_tag == "PolygonGate":
        dims = tuple(_dimension(d, path) for d in el.findall(_g("dimension")))
        vertices = []
        for v in el.findall(_g("vertex")):
            where = f"polygon gate {gid!r} vertex"
            coords = [_number(c, DT, "value", path, where) for c in v.findall(_g("coordinate"))]
            vertices.append(tuple(coords))
        if len(dims) != 2 or len(vertices) < 3 or any(len(v) != 2 for v in vertices):
            raise GatingError(path, f"polygon gate {gid!r}: needs 2 dimensions and >= 3 vertices")
        return [Gate(gid, parent, "polygon", dims, vertices=tuple(vertices))]
    if kind_tag == "EllipsoidGate":
        dims = tuple(_dimension(d, path) for d in el.findall(_g("dimension")))
        mean_el = el.find(_g("mean"))
        cov_el = el.find(_g("covarianceMatrix"))
        d2_el = el.find(_g("distanceSquare"))
        if mean_el is None or cov_el is None or d2_el is None:
            raise GatingError(path, f"ellipsoid gate {gid!r}: needs mean, covariance, distance")
        where = f"ellipsoid gate {gid!r}"
        mean = tuple(
            _number(c, DT, "value", path, where) for c in mean_el.findall(_g("coordinate"))
        )
        cov = tuple(
            tuple(_number(e, DT, "value", path, where) for e in row.findall(_g("entry")))
            for row in cov_el.findall(_g("row"))
        )
        d2 = _number(d2_el, DT, "value", path, where)
        if len(dims) < 2 or len(mean) != len(dims) or len(cov) != len(dims):
            raise GatingError(path, f"ellipsoid gate {gid!r}: dimensions, mean, covariance differ")
        return [Gate(gid, parent, "ellipsoid", dims, mean=mean, covariance=cov, distance_square=d2)]
    if kind_tag == "QuadrantGate":
        dividers: dict[str, tuple[Dimension, list[float]]] = {}
        for div in el.findall(_g("divider")):
            did = _attr(div, GML, "id")
            fcs_dim = div.find(_d("fcs-dimension"))
            if did is None or fcs_dim is None:
                raise _Unsupported(f"quadrant gate {gid!r} divider without id/fcs-dimension")
            dim = Dimension(
                _attr(fcs_dim, DT, "name"),
                _attr(div, GML, "compensation-ref"),
                _attr(div, GML, "transformation-ref"),
            )
            where = f"quadrant gate {gid!r} divider {did!r}"
            values = [_text_number(v, path, where) for v in div.findall(_g("value"))]
            dividers[did] = (dim, values)
        out = []
        for quad in el.findall(_g("Quadrant")):
            qid = _attr(quad, GML, "id")
            dims, bounds = [], []
            for pos in quad.findall(_g("position")):
                ref = _attr(pos, GML, "divider_ref")
                location = _number(pos, GML, "location", path, f"quadrant {qid!r}")
                if ref not in dividers:
                    raise GatingError(path, f"quadrant {qid!r} refers to unknown divider {ref!r}")
                dim, values = dividers[ref]
                lo = hi = None
                for v in sorted(values):
                    if v > location:
                        hi = v
                        break
                    lo = v
                dims.append(dim)
                bounds.append((lo, hi))
            out.append(Gate(qid, parent, "quadrant", tuple(dims), bounds=tuple(bounds), group=gid))
        return out
    if kind_tag == "BooleanGate":
        for op in ("and", "or", "not"):
            op_el = el.find(_g(op))
            if op_el is not None:
                refs = tuple(
                    (_attr(r, GML, "ref"), _attr(r, GML, "use-as-complement") == "true")
                    for r in op_el.findall(_g("gateReference"))
                )
                if not refs or any(r is None for r, _ in refs) or (op == "not" and len(refs) != 1):
                    raise GatingError(path, f"boolean gate {gid!r}: bad gate references")
                return [Gate(gid, parent, "boolean", op=op, refs=refs)]
        raise GatingError(path, f"boolean gate {gid!r} has no and/or/not")
    raise _Unsupported(f"gate element {kind_tag!r}")


_GATE_TAGS = ("RectangleGate", "PolygonGate", "EllipsoidGate", "QuadrantGate", "BooleanGate")
_MOVES = ("shift", "scale", "fixed")


def _numbers(el, name: str, path: str, where: str, count: int) -> tuple[float, ...]:
    """``count`` finite numbers separated by spaces in attribute ``name`` (required)."""
    text = el.get(name)
    try:
        values = tuple(float(v) for v in (text or "").split())
    except ValueError:
        values = ()
    if len(values) != count or not all(np.isfinite(values)):
        raise GatingError(
            path, f"{where}: attribute {name} needs {count} number(s), got {text!r}", "sortpcr"
        )
    return values


def _span(el, name: str, path: str, where: str) -> tuple[float, float]:
    lo, hi = _numbers(el, name, path, where, 2)
    if not lo < hi:
        raise GatingError(path, f"{where}: {name} {lo:g} {hi:g} is not increasing", "sortpcr")
    return lo, hi


def _option(el, name: str, path: str, where: str, default: float, lo: float, hi: float) -> float:
    if el.get(name) is None:
        return default
    (value,) = _numbers(el, name, path, where, 1)
    if not lo <= value <= hi:
        raise GatingError(path, f"{where}: {name}={value:g} is outside {lo:g}-{hi:g}", "sortpcr")
    return value


def _parse_search(el, gate: Gate, path: str) -> ClusterSearch | ValleySearch | None:
    """The ``<sortpcr:cluster>`` / ``<sortpcr:valley>`` of a gate's ``custom_info``, if any
    (``<sortpcr:applied>``, a record of an earlier adaptation, is information only)."""
    info = el.find(_d("custom_info"))
    if info is None:
        return None
    found = [c for c in info if c.tag in (_s("cluster"), _s("valley"))]
    if not found:
        return None
    if len(found) > 1:
        raise GatingError(path, f"gate {gate.id!r} has more than one adaptive search", "sortpcr")
    spec = found[0]
    kind = spec.tag.rpartition("}")[2]
    where = f"gate {gate.id!r} sortpcr:{kind}"
    ints = {"bins": (64 if kind == "cluster" else 256, 8, 4096), "min-events": (100, 1, 1e9)}
    bins, min_events = (
        int(_option(spec, k, path, where, d, lo, hi)) for k, (d, lo, hi) in ints.items()
    )
    if kind == "cluster":
        if gate.kind != "polygon" or len(gate.dims) != 2:
            raise GatingError(
                path, f"{where}: a cluster search moves a 2-D polygon gate", "sortpcr"
            )
        window = (_span(spec, "search-x", path, where), _span(spec, "search-y", path, where))
        anchor = _numbers(spec, "anchor", path, where, 2)
        move = (spec.get("move-x", "shift"), spec.get("move-y", "shift"))
        limit = []
        for axis, how in zip("xy", move, strict=True):
            if how not in _MOVES:
                raise GatingError(path, f"{where}: move-{axis}={how!r}; use {', '.join(_MOVES)}")
            floor = 1.0 if how == "scale" else 0.0
            limit.append(_option(spec, f"limit-{axis}", path, where, np.inf, floor, np.inf))
            if how == "scale" and anchor["xy".index(axis)] <= 0:
                raise GatingError(path, f"{where}: scaling needs a positive anchor", "sortpcr")
        sigma = _option(spec, "smooth", path, where, 1.5, 0.0, 100.0)
        trim = _option(spec, "trim-x", path, where, 0.0, 0.0, np.inf)
        trim_bw = _option(spec, "trim-bandwidth", path, where, 0.0, 0.0, np.inf)
        if trim > 0 and trim_bw <= 0:
            raise GatingError(path, f"{where}: trim-x needs a positive trim-bandwidth", "sortpcr")
        return ClusterSearch(
            window, anchor, move, tuple(limit), bins, sigma, min_events, trim, trim_bw
        )
    if (
        gate.kind != "rectangle"
        or len(gate.dims) != 1
        or ((gate.dims[0].min is None) == (gate.dims[0].max is None))
    ):
        raise GatingError(
            path, f"{where}: a valley search sets the one bound (min or max) of a "
            "one-dimension range gate", "sortpcr"
        )  # fmt: skip
    window = _span(spec, "search", path, where)
    allowed = _span(spec, "range", path, where)
    if not window[0] <= allowed[0] < allowed[1] <= window[1]:
        raise GatingError(path, f"{where}: range must lie within search", "sortpcr")
    (bandwidth,) = _numbers(spec, "bandwidth", path, where, 1)
    if bandwidth <= 0:
        raise GatingError(path, f"{where}: bandwidth must be positive", "sortpcr")
    return ValleySearch(
        cut=spec.get("cut") or gate.id,
        window=window,
        allowed=allowed,
        bandwidth=bandwidth,
        bins=bins,
        max_depth=_option(spec, "max-depth", path, where, 0.5, 0.0, 1.0),
        min_share=_option(spec, "min-share", path, where, 0.01, 0.0, 0.5),
        min_events=min_events,
        fallback_gate=spec.get("fallback-gate") or None,
        fallback_quantile=_option(spec, "fallback-quantile", path, where, 0.995, 0.0, 1.0),
        fallback_offset=_option(spec, "fallback-offset", path, where, 0.0, -np.inf, np.inf),
    )


def _order_gates(gates: dict[str, Gate], quad_groups: set[str], path: str) -> dict[str, Gate]:
    """Parents and Boolean references before dependants; unknown references -> GatingError."""
    deps: dict[str, set[str]] = {}
    for g in gates.values():
        need = set()
        if g.parent is not None:
            if g.parent not in gates and g.parent not in quad_groups:
                raise GatingError(path, f"gate {g.id!r} has unknown parent {g.parent!r}")
            need.add(g.parent)
        for ref, _ in g.refs:
            if ref not in gates:
                raise GatingError(path, f"boolean gate {g.id!r} refers to unknown gate {ref!r}")
            need.add(ref)
        fallback = getattr(g.search, "fallback_gate", None)
        if fallback is not None:
            if fallback not in gates:
                raise GatingError(
                    path, f"gate {g.id!r}: fallback-gate {fallback!r} is not a gate of the "
                    f"strategy; it defines: {', '.join(gates)}", "sortpcr"
                )  # fmt: skip
            need.add(fallback)
        deps[g.id] = need
    # A quadrant gate container used as parent: its quadrants' parent is that of the group.
    order: list[str] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(gid: str) -> None:
        if gid in done:
            return
        if gid in visiting:
            raise GatingError(path, f"cyclic gate references around {gid!r}")
        visiting.add(gid)
        for dep in sorted(deps.get(gid, ())):
            if dep in gates:
                visit(dep)
            else:  # parent is a quadrant gate container: depend on its quadrants
                for q in gates.values():
                    if q.group == dep:
                        visit(q.id)
        visiting.discard(gid)
        done.add(gid)
        order.append(gid)

    for gid in gates:
        visit(gid)
    return {gid: gates[gid] for gid in order}


def _parse_gatingml(root, path: str) -> Strategy:
    transforms: dict[str, Transform] = {}
    matrices: dict[str, Matrix] = {}
    gates: dict[str, Gate] = {}
    quad_groups: set[str] = set()
    for el in root.findall(_t("transformation")):
        t = _parse_transform(el, path)
        transforms[t.id] = t
    for el in root.findall(_t("spectrumMatrix")):
        m = _parse_matrix(el, path)
        matrices[m.id] = m
    for tag in _GATE_TAGS:
        for el in root.findall(_g(tag)):
            for gate in _parse_gate(el, path):
                search = _parse_search(el, gate, path)
                if search is not None:
                    gate = replace(gate, search=search)
                if gate.id in gates:
                    raise GatingError(path, f"gate ID {gate.id!r} is defined twice")
                gates[gate.id] = gate
            if tag == "QuadrantGate":
                quad_groups.add(_attr(el, GML, "id"))
    if not gates:
        raise GatingError(path, "the Gating-ML file defines no gates")
    for g in gates.values():
        for d in g.dims:
            if d.xform is not None and d.xform not in transforms:
                raise GatingError(path, f"gate {g.id!r} refers to unknown transform {d.xform!r}")
            if d.ratio is not None and d.ratio not in transforms:
                raise GatingError(path, f"gate {g.id!r} refers to unknown ratio {d.ratio!r}")
            if d.comp not in (*_UNCOMP, "FCS") and d.comp not in matrices:
                raise GatingError(path, f"gate {g.id!r} refers to unknown matrix {d.comp!r}")
        comps = {d.comp for d in g.dims if d.comp not in _UNCOMP}
        if len(comps) > 1:
            raise _Unsupported(f"gate {g.id!r} mixes compensation references {sorted(comps)}")
    cuts: dict[str, Gate] = {}
    for g in gates.values():
        if isinstance(g.search, ValleySearch):
            first = cuts.setdefault(g.search.cut, g)
            if (first.parent, first.dims[0].name, first.dims[0].xform) != (
                g.parent,
                g.dims[0].name,
                g.dims[0].xform,
            ):
                raise GatingError(
                    path, f"gates {first.id!r} and {g.id!r} share the cut {g.search.cut!r} but "
                    "not the parent and dimension", "sortpcr"
                )  # fmt: skip
    ordered = _order_gates(gates, quad_groups, path)
    return Strategy(path, "gatingml", ordered, transforms, matrices, source=root)


# --------------------------------------------------------------------------- loading


def load_strategy(path: str | Path) -> Strategy:
    """Load a Gating-ML 2.0 file or a FlowJo 10 workspace (``.wsp``) after the XML check.

    Gating-ML is parsed by us (no FlowKit import) unless it uses something our evaluator does
    not cover, in which case FlowKit parses it and evaluates it. A workspace is parsed by
    FlowKit; its gates are per sample (see :func:`evaluate`).
    """
    root = read_xml_safely(path)
    name = str(path)
    tag = root.tag.rpartition("}")[2]
    if tag == "Gating-ML":
        try:
            return _parse_gatingml(root, name)
        except _Unsupported as reason:
            strategy = Strategy(name, "gatingml", {}, {}, {}, engine="flowkit")
            strategy.fallback_reason = str(reason)
            strategy._flowkit = _flowkit_gatingml(name)
            strategy.gates = {
                gid: Gate(gid, _flowkit_parent(strategy._flowkit, gid, gpath), "flowkit")
                for gid, gpath in strategy._flowkit.get_gate_ids()
            }
            return strategy
    if tag == "Workspace":
        version = root.get("flowJoVersion", "")
        major = version.split(".")[0].strip()
        if not major.isdigit() or int(major) < 10:
            raise GatingError(name, f"FlowJo workspace version {version!r}; 10 or later is read")
        names = tuple(sorted({n.get("name") for n in root.iter("SampleNode") if n.get("name")}))
        return Strategy(name, "flowjo", {}, {}, {}, engine="flowkit", sample_ids=names)
    if tag == "bdfacs":  # a BD FACSDiva experiment: gates per tube (sortpcr.diva)
        from .diva import experiment_strategy

        return experiment_strategy(root, name)
    raise GatingError(name, f"root element <{tag}> is neither Gating-ML 2.0 nor a FlowJo workspace")


def _flowkit_gatingml(path: str, handle=None):
    import flowkit

    try:
        return flowkit.parse_gating_xml(path if handle is None else handle)
    except Exception as err:  # FlowKit raises ValueError and friends
        raise GatingError(path, f"FlowKit cannot parse this Gating-ML: {err}") from None


def _flowkit_parent(fk_strategy, gate_id: str, gate_path: tuple[str, ...]) -> str | None:
    parent = gate_path[-1] if gate_path else "root"
    return None if parent == "root" else parent


def require_gates(strategy: Strategy, gate_ids: Iterable[str], what: str = "configuration") -> None:
    """Every gate ID the configuration names must exist; else GatingError listing them all.

    For a FlowJo workspace the gates are per sample: this check is made by
    :func:`evaluate` on the sample's gates.
    """
    if strategy.kind in ("flowjo", "diva"):  # gates per sample / per Diva tube
        return
    missing = [g for g in gate_ids if g not in strategy.gates]
    if missing:
        raise GatingError(
            strategy.path,
            f"gate ID(s) {', '.join(repr(m) for m in missing)} named in the {what} are not in "
            f"the strategy; it defines: {', '.join(strategy.gates)}",
            "gate IDs",
        )


# --------------------------------------------------------------------------- evaluation


def _transform(values: np.ndarray, t: Transform) -> np.ndarray:
    """Apply a Gating-ML transform exactly as FlowKit does (same flowutils calls)."""
    import flowutils

    p = t.params
    if t.kind == "flin":
        return (values + p["A"]) / (p["T"] + p["A"])
    if t.kind == "flog":
        return flowutils.transforms.log(values, None, t=p["T"], m=p["M"])
    if t.kind == "fasinh":
        return flowutils.transforms.asinh(values, None, t=p["T"], m=p["M"], a=p["A"])
    if t.kind == "logicle":
        return flowutils.transforms.logicle(values, None, t=p["T"], m=p["M"], w=p["W"], a=p["A"])
    if t.kind == "hyperlog":
        return flowutils.transforms.hyperlog(values, None, t=p["T"], m=p["M"], w=p["W"], a=p["A"])
    if t.kind.startswith("diva_"):  # BD FACSDiva axes (sortpcr.diva)
        from .diva import apply_transform

        return apply_transform(values, t)
    raise GatingError("", f"transform {t.kind!r} cannot be applied to a channel")


#: transforms that are strictly increasing on all reals, so a bound in display space is a
#: bound in raw space (flog is not: it is NaN at and below zero)
_MONOTONE = frozenset({"logicle", "hyperlog", "fasinh"})
#: half-width, in display units, of the band around a bound where events are transformed
#: exactly; far wider than the transforms' numerical error (~1e-12), far narrower than data
_BAND = 1e-6


def _inverse(values: np.ndarray, t: Transform) -> np.ndarray:
    """Raw values whose transform is ``values`` (the flowutils inverse of :func:`_transform`)."""
    import flowutils

    p = t.params
    if t.kind == "logicle":
        return flowutils.transforms.logicle_inverse(values, None, t=p["T"], m=p["M"], w=p["W"],
                                                    a=p["A"])  # fmt: skip
    if t.kind == "hyperlog":
        return flowutils.transforms.hyperlog_inverse(values, None, t=p["T"], m=p["M"], w=p["W"],
                                                     a=p["A"])  # fmt: skip
    return flowutils.transforms.asinh_inverse(values, None, t=p["T"], m=p["M"], a=p["A"])


def _raw_window(lo: float, hi: float, t: Transform) -> tuple[float, float]:
    """Raw interval that holds every event whose display value may lie in ``[lo, hi]``."""
    edges = _inverse(np.array([lo - _BAND, hi + _BAND], dtype=np.float64), t)
    return float(edges[0]), float(edges[1])


class _Evaluator:
    """State of one evaluation: compensated arrays and transformed columns, cached."""

    def __init__(self, strategy: Strategy, fcs: FCSData) -> None:
        self.s = strategy
        self.fcs = fcs
        self.comp_cache: dict[str | None, np.ndarray] = {}
        self.col_cache: dict[tuple, np.ndarray] = {}
        self.flowjo = [c.replace("/", "_") for c in fcs.channels]

    def channel(self, name: str, comp: str | None) -> int:
        fcs = self.fcs
        if name in fcs.channels:
            return fcs.channels.index(name)
        if name in fcs.stains:
            return fcs.stains.index(name)
        if name in self.flowjo:
            return self.flowjo.index(name)
        if comp not in (*_UNCOMP, "FCS"):
            matrix = self.s.matrices[comp]
            if name in matrix.fluorochromes:
                detector = matrix.detectors[matrix.fluorochromes.index(name)]
                if detector in fcs.channels:
                    return fcs.channels.index(detector)
        raise KeyError(name)

    def events(self, comp: str | None) -> np.ndarray:
        if comp in _UNCOMP:
            return self.fcs.uncompensated
        if comp not in self.comp_cache:
            if comp == "FCS":
                if self.fcs.compensation == "file":
                    arr = self.fcs.events
                elif self.fcs.spill_matrix is None:
                    arr = self.fcs.uncompensated  # Gating-ML: no matrix -> uncompensated
                else:  # pragma: no cover - read_fcs always applies a matrix it found
                    arr = self.fcs.events
            else:
                from flowutils.compensate import compensate

                m = self.s.matrices[comp]
                idx = [self.channel(d, None) for d in m.detectors]
                arr = compensate(self.fcs.uncompensated, m.values, idx)
            self.comp_cache[comp] = arr
        return self.comp_cache[comp]

    def raw(self, dim: Dimension, comp: str | None, rows: np.ndarray | None, key) -> np.ndarray:
        """Untransformed values of one dimension for the events ``rows`` (None = all)."""
        ck = (dim.name, dim.ratio, comp, None, key)
        if ck in self.col_cache:
            return self.col_cache[ck]
        if dim.ratio is not None:
            t = self.s.transforms[dim.ratio]
            raw = self.fcs.uncompensated
            x = raw[:, self.channel(t.channels[0], None)]
            y = raw[:, self.channel(t.channels[1], None)]
            if rows is not None:
                x, y = x[rows], y[rows]
            p = t.params
            values = p["A"] * ((x - p["B"]) / (y - p["C"]))
        else:
            col = self.events(comp)[:, self.channel(dim.name, comp)]
            values = col[rows] if rows is not None else col.copy()
        self.col_cache[ck] = values
        return values

    def column(self, dim: Dimension, comp: str | None, rows: np.ndarray | None, key) -> np.ndarray:
        """Values of one dimension for the events ``rows`` (None = all), transformed."""
        if dim.xform is None:
            return self.raw(dim, comp, rows, key)
        ck = (dim.name, dim.ratio, comp, dim.xform, key)
        if ck not in self.col_cache:
            values = self.raw(dim, comp, rows, key)
            self.col_cache[ck] = _transform(values, self.s.transforms[dim.xform])
        return self.col_cache[ck]

    def monotone(self, dim: Dimension) -> Transform | None:
        """The dimension's transform when bounds can be tested on raw values, else None."""
        t = self.s.transforms[dim.xform] if dim.xform is not None else None
        return t if t is not None and t.kind in _MONOTONE else None

    def bounded(self, dim: Dimension, comp, rows, key, lo: float | None, hi: float | None):
        """``lo <= transformed < hi`` for one dimension. For a monotone transform the test is
        made on raw values and only the events within :data:`_BAND` of a bound are
        transformed, so the result is the same as transforming every event (the same
        flowutils call decides every event that could go either way)."""
        t = self.monotone(dim)
        if t is None:
            values = self.column(dim, comp, rows, key)
            res = np.ones(values.shape[0], dtype=bool)
            if lo is not None:
                res &= values >= lo
            if hi is not None:
                res &= values < hi
            return res
        raw = self.raw(dim, comp, rows, key)
        res = np.ones(raw.shape[0], dtype=bool)
        for bound, is_min in ((lo, True), (hi, False)):
            if bound is None:
                continue
            below, above = _raw_window(bound, bound, t)
            ok = raw > above if is_min else raw < below  # NaN: False, as its transform is
            near = np.flatnonzero((raw >= below) & (raw <= above))
            if near.size:
                exact = _transform(raw[near], t)
                ok[near] = exact >= bound if is_min else exact < bound
            res &= ok
        return res

    def polygon(self, gate: Gate, comp, rows, key) -> np.ndarray:
        """Point-in-polygon (flowutils, as FlowKit) on the events inside the polygon's
        bounding box; events outside it, decided on raw values, are out."""
        from flowutils.gating import points_in_polygon

        vertices = np.array(gate.vertices, dtype=np.float64)
        raws = [self.raw(d, comp, rows, key) for d in gate.dims]
        candidate = np.ones(raws[0].shape[0], dtype=bool)
        for k, (dim, raw) in enumerate(zip(gate.dims, raws, strict=True)):
            lo, hi = float(vertices[:, k].min()), float(vertices[:, k].max())
            t = self.monotone(dim)
            if t is not None:
                lo, hi = _raw_window(lo, hi, t)
            elif dim.xform is not None:
                continue  # a transform we do not invert: no pre-selection on this axis
            candidate &= (raw >= lo) & (raw <= hi)
        picked = np.flatnonzero(candidate)
        points = np.empty((picked.size, len(raws)), dtype=np.float64)
        for k, (dim, raw) in enumerate(zip(gate.dims, raws, strict=True)):
            points[:, k] = raw[picked]
            if dim.xform is not None:
                points[:, k] = _transform(points[:, k], self.s.transforms[dim.xform])
        inside = np.zeros(raws[0].shape[0], dtype=bool)
        inside[picked] = points_in_polygon(vertices, points)
        return inside

    def test(self, gate: Gate, rows: np.ndarray | None, key) -> np.ndarray:
        """Boolean result of the gate's own region on the events ``rows``."""
        comps = {d.comp for d in gate.dims if d.comp not in _UNCOMP}
        comp = next(iter(comps)) if comps else None
        if gate.kind in ("rectangle", "quadrant"):
            bounds = gate.bounds if gate.kind == "quadrant" else [(d.min, d.max) for d in gate.dims]
            res = None
            for d, (lo, hi) in zip(gate.dims, bounds, strict=True):
                one = self.bounded(d, comp, rows, key, lo, hi)
                res = one if res is None else res & one
            return res
        if gate.kind == "polygon":
            return self.polygon(gate, comp, rows, key)
        if gate.kind == "ellipsoid":
            from flowutils.gating import points_in_ellipsoid

            points = np.column_stack([self.column(d, comp, rows, key) for d in gate.dims])
            return points_in_ellipsoid(
                np.array(gate.covariance, dtype=float),
                np.array(gate.mean, dtype=float),
                gate.distance_square,
                points,
            )
        raise GatingError(self.s.path, f"gate kind {gate.kind!r} cannot be evaluated")


def _missing_channels(strategy: Strategy, fcs: FCSData) -> list[str]:
    present = set(fcs.channels) | set(s for s in fcs.stains if s)
    present |= {c.replace("/", "_") for c in fcs.channels}
    for m in strategy.matrices.values():
        present |= {f for f, d in zip(m.fluorochromes, m.detectors, strict=True) if d in present}
    return sorted(n for n in strategy.dimension_names() if n not in present)


def _result(strategy_path: str, fcs: FCSData, members: dict, parents: dict, paths: dict, engine):
    return GatingResult(
        path=fcs.path,
        n_events=fcs.n_events,
        memberships=members,
        counts={g: int(m.sum()) for g, m in members.items()},
        parents=parents,
        gate_paths=paths,
        engine=engine,
    )


def evaluate(
    strategy: Strategy,
    fcs: FCSData,
    *,
    sample: str | None = None,
    engine: str = "auto",
    adapt: bool = True,
) -> GatingResult:
    """Gate one file: membership arrays and counts after every gate.

    ``engine``: ``auto`` (ours when the strategy allows, else FlowKit), ``sortpcr`` or
    ``flowkit``. ``sample``: the FlowJo sample name (default: the file name).
    ``adapt``: adaptive gates are searched for in this file (our engine; FlowKit always sees
    the template's coordinates); ``False`` applies the template as it is. The result's
    ``applied`` strategy holds the coordinates used (gate other files with it, or write it
    with :func:`gatingml_text`), ``adaptations`` what each search found.
    Strategy channels absent from the file -> GatingError naming them and the file.
    """
    if strategy.kind == "diva":  # a FACSDiva experiment: the gates of the file's tube
        from .diva import tube_strategy

        strategy = tube_strategy(strategy, sample or Path(fcs.path).name)
    if strategy.kind == "flowjo":
        return _evaluate_workspace(strategy, fcs, sample or Path(fcs.path).name)
    missing = _missing_channels(strategy, fcs) if strategy.engine == "sortpcr" else []
    if missing:
        raise GatingError(
            fcs.path,
            f"the gating strategy {strategy.path} uses channel(s) {', '.join(missing)} that "
            f"this file does not have (its channels: {', '.join(fcs.channels)})",
            "channels",
        )
    use_flowkit = engine == "flowkit" or strategy.engine == "flowkit"
    if engine == "sortpcr" and strategy.engine == "flowkit":
        reason = strategy.fallback_reason
        raise GatingError(strategy.path, f"not covered by our evaluator: {reason}")
    if use_flowkit:
        return evaluate_flowkit(strategy, fcs)

    ev = _Evaluator(strategy, fcs)
    n = fcs.n_events
    members: dict[str, np.ndarray] = {}
    rows_of: dict[str, np.ndarray] = {}
    adapting = adapt and strategy.adaptive
    applied: dict[str, Gate] = {}
    records: dict[str, dict[str, Any]] = {}
    cuts: dict[tuple, dict[str, Any]] = {}
    try:
        for gid, gate in strategy.gates.items():
            parent = gate.parent
            if parent is not None and parent not in strategy.gates:
                # parent is a quadrant gate container: FlowKit requires a quadrant as parent
                raise GatingError(strategy.path, f"gate {gid!r} has a quadrant gate as parent")
            if gate.kind == "boolean":
                refs = [~members[r] if comp else members[r] for r, comp in gate.refs]
                if gate.op == "and":
                    own = np.logical_and.reduce(refs)
                elif gate.op == "or":
                    own = np.logical_or.reduce(refs)
                else:
                    own = ~refs[0]
                members[gid] = own & members[parent] if parent is not None else own
                continue
            if parent is None:
                rows = None
                key = None
            else:
                if parent not in rows_of:
                    rows_of[parent] = np.flatnonzero(members[parent])
                rows = rows_of[parent]
                key = parent
            if adapting and gate.search is not None:
                gate, records[gid] = _adapt(ev, gate, rows, key, members, cuts)
            applied[gid] = replace(gate, search=None) if gate.search is not None else gate
            inside = ev.test(gate, rows, key)
            if gid in records:
                records[gid]["events_in_gate"] = int(np.count_nonzero(inside))
            if rows is None:
                members[gid] = np.asarray(inside, dtype=bool)
            else:
                full = np.zeros(n, dtype=bool)
                full[rows[inside]] = True
                members[gid] = full
    except KeyError as err:
        raise GatingError(
            fcs.path, f"the strategy uses channel {err.args[0]!r} this file lacks", "channels"
        ) from None
    parents = {g: strategy.gates[g].parent for g in members}
    paths = {g: strategy.path_of(g) for g in members}
    result = _result(strategy.path, fcs, members, parents, paths, "sortpcr")
    if not adapting:
        return replace(result, applied=strategy)
    done = replace(strategy, gates={**strategy.gates, **applied}, adaptations=records)
    done._flowkit = None
    return replace(result, applied=done, adaptations=records)


# --------------------------------------------------------------------------- adaptation

#: at most this many events enter a density search (an even stride through the parent):
#: the search's cost stays bounded on a million-event file, deterministic, no random draw
_SEARCH_EVENTS = 60_000


def _sample_rows(rows: np.ndarray | None, n: int) -> slice | np.ndarray:
    size = n if rows is None else rows.size
    step = max(1, -(-size // _SEARCH_EVENTS))
    return slice(None, None, step)


def _display(ev: _Evaluator, dim: Dimension, comp, rows, key) -> np.ndarray:
    """A stride sample of one dimension's values in display units (the gate's transform)."""
    raw = ev.raw(dim, comp, rows, key)
    picked = raw[_sample_rows(rows, raw.shape[0])]
    if dim.xform is None:
        return picked
    return _transform(np.ascontiguousarray(picked, dtype=np.float64), ev.s.transforms[dim.xform])


def _comp_of(gate: Gate) -> str | None:
    comps = {d.comp for d in gate.dims if d.comp not in _UNCOMP}
    return next(iter(comps)) if comps else None


def _decades(ev: _Evaluator, dim: Dimension, a: float, b: float) -> float | None:
    """log10 of the data-unit ratio between display positions ``b`` and ``a`` (None when
    either is not a positive intensity)."""
    t = ev.s.transforms.get(dim.xform) if dim.xform else None
    va, vb = (float(x) for x in inverse_values(np.array([a, b]), t))
    if not (va > 0 and vb > 0):
        return None
    return float(np.log10(vb / va))


def _adapt(ev: _Evaluator, gate: Gate, rows, key, members, cuts) -> tuple[Gate, dict[str, Any]]:
    """The gate moved by its search on this file's parent events, and the record."""
    if isinstance(gate.search, ClusterSearch):
        return _adapt_cluster(ev, gate, rows, key)
    return _adapt_valley(ev, gate, rows, key, members, cuts)


def _adapt_cluster(ev: _Evaluator, gate: Gate, rows, key) -> tuple[Gate, dict[str, Any]]:
    from .adaptive import cluster_mode

    s: ClusterSearch = gate.search  # type: ignore[assignment]
    comp = _comp_of(gate)
    x, y = (_display(ev, d, comp, rows, key) for d in gate.dims)
    found = cluster_mode(x, y, s.window, bins=s.bins, sigma=s.sigma, min_events=s.min_events)
    record: dict[str, Any] = {
        "kind": "cluster",
        "dimensions": [d.name or d.ratio for d in gate.dims],
        "anchor": list(s.anchor),
        "mode": found["mode"],
        "window_events": found["window_events"],
        "peak_density": found["peak_density"],
        "template_vertices": [list(v) for v in gate.vertices],
    }
    if found["mode"] is None:
        record.update(method="template", reason=found["reason"], shift=[0.0, 0.0],
                      scale=[1.0, 1.0], clipped=False, shift_decades=[0.0, 0.0],
                      vertices=record["template_vertices"])  # fmt: skip
        return gate, record
    shift, scale, clipped, decades = [0.0, 0.0], [1.0, 1.0], [], [0.0, 0.0]
    for k, (how, limit) in enumerate(zip(s.move, s.limit, strict=True)):
        anchor, mode = s.anchor[k], found["mode"][k]
        if how == "shift":
            want = mode - anchor
            shift[k] = float(np.clip(want, -limit, limit))
            if shift[k] != want:
                clipped.append(f"{record['dimensions'][k]} shift {want:+.4g} beyond {limit:g}")
            decades[k] = _decades(ev, gate.dims[k], anchor, anchor + shift[k])
        elif how == "scale":
            want = mode / anchor if mode > 0 else 1.0 / limit
            scale[k] = float(np.clip(want, 1.0 / limit, limit))
            if scale[k] != want:
                clipped.append(f"{record['dimensions'][k]} scale {want:.3g} beyond x{limit:g}")
            decades[k] = float(np.log10(scale[k]))
    vertices = tuple(
        tuple(float(v[k] * scale[k] + shift[k]) for k in range(2)) for v in gate.vertices
    )
    if s.trim > 0:
        vertices, record["trim"] = _trim_bright_side(x, y, vertices, found["mode"][0], s)
    record.update(
        method="cluster",
        reason=("limited: " + "; ".join(clipped)) if clipped else "",
        shift=shift,
        scale=scale,
        clipped=bool(clipped),
        shift_decades=decades,
        vertices=[list(v) for v in vertices],
    )
    return replace(gate, vertices=vertices), record


def _trim_bright_side(x, y, vertices, mode_x: float, s: ClusterSearch):
    """Vertices with the first axis cut back to the valley between the cluster and a
    brighter neighbour (see :class:`ClusterSearch`), and the record of that search."""
    from .adaptive import density_valley

    ys = [v[1] for v in vertices]
    right = max(v[0] for v in vertices)
    band = (y >= min(ys)) & (y <= max(ys))
    found = density_valley(
        x[band], (mode_x - s.trim, right + s.trim), ((mode_x + right) / 2, right),
        bandwidth=s.trim_bandwidth, bins=128,
    )  # fmt: skip
    record = {"cut": found["cut"], "depth": found["depth"], "reason": found["reason"]}
    if found["cut"] is None:
        return vertices, record
    cut = found["cut"]
    return tuple((min(vx, cut), vy) for vx, vy in vertices), record


def _adapt_valley(ev: _Evaluator, gate: Gate, rows, key, members, cuts):
    from .adaptive import density_valley

    s: ValleySearch = gate.search  # type: ignore[assignment]
    dim = gate.dims[0]
    comp = _comp_of(gate)
    template = dim.min if dim.min is not None else dim.max
    ck = (s.cut, gate.parent, dim.name, dim.xform)
    if ck not in cuts:
        values = _display(ev, dim, comp, rows, key)
        found = density_valley(
            values, s.window, s.allowed, bandwidth=s.bandwidth, bins=s.bins,
            max_depth=s.max_depth, min_share=s.min_share, min_events=s.min_events,
        )  # fmt: skip
        rec: dict[str, Any] = {
            "kind": "valley",
            "cut_id": s.cut,
            "dimension": dim.name,
            "template_cut": template,
            "depth": found["depth"],
            "modes": found["modes"],
            "events": found["events"],
            "fallback_gate": s.fallback_gate,
        }
        if found["cut"] is not None:
            rec.update(method="valley", cut=found["cut"], reason="")
        else:
            rec.update(_fallback_cut(ev, s, dim, comp, members, template, found["reason"]))
        t = ev.s.transforms.get(dim.xform) if dim.xform else None
        rec["cut_value"] = float(inverse_values(np.array([rec["cut"]]), t)[0])
        rec["template_cut_value"] = float(inverse_values(np.array([template]), t)[0])
        rec["shift_decades"] = _decades(ev, dim, template, rec["cut"])
        cuts[ck] = rec
    rec = dict(cuts[ck])
    bound = "min" if dim.min is not None else "max"
    rec["bound"] = bound
    return replace(gate, dims=(replace(dim, **{bound: rec["cut"]}),)), rec


def _fallback_cut(ev, s: ValleySearch, dim, comp, members, template, why: str) -> dict[str, Any]:
    """No valley: a quantile of the internal negative population, else the template."""
    if s.fallback_gate is not None:
        frows = np.flatnonzero(members[s.fallback_gate])
        if frows.size >= s.min_events:
            values = _display(ev, dim, comp, frows, s.fallback_gate)
            values = values[np.isfinite(values)]
        else:
            values = np.empty(0)
        if values.size >= s.min_events:
            want = float(np.quantile(values, s.fallback_quantile)) + s.fallback_offset
            cut = float(np.clip(want, *s.allowed))
            note = "" if cut == want else f", kept within the range (was {want:.4g})"
            return {
                "method": "negative_population",
                "cut": cut,
                "reason": f"{why}; cut at the {100 * s.fallback_quantile:g}th percentile of "
                f"{s.fallback_gate} ({values.size} events){note}",
            }
        why = f"{why}; {s.fallback_gate} has only {frows.size} events (fewer than {s.min_events})"
    return {"method": "template", "cut": float(template), "reason": f"{why}; template cut kept"}


# --------------------------------------------------------------------------- writing back


def _record_attributes(record: Mapping[str, Any]) -> dict[str, str]:
    """A search record as XML attribute text (numbers as repr, lists space-separated)."""

    def text(value: Any) -> str:
        if isinstance(value, list | tuple):
            return " ".join(text(v) for v in value)
        if isinstance(value, float):
            return repr(value)
        return "" if value is None else str(value)

    flat: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, Mapping):  # a nested record (the bright-side trim): trim-cut ...
            flat.update({f"{key}_{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return {k.replace("_", "-"): text(v) for k, v in sorted(flat.items())}


def gatingml_text(strategy: Strategy, note: str = "") -> str:
    """Gating-ML 2.0 text of ``strategy`` as applied: the source file with every adapted
    gate at its adapted coordinates (exact: numbers written as Python ``repr``), its search
    replaced by a ``<sortpcr:applied>`` record (template coordinates, shift, evidence), and
    no search left anywhere - loaded again, it gates every file exactly as it gated the one
    it was adapted on, in our engine or FlowKit. ``note`` goes into a leading comment.
    """
    import copy
    import xml.etree.ElementTree as ET

    if strategy.source is None:
        raise GatingError(strategy.path, "is not a Gating-ML file we parsed; nothing to write")
    root = copy.deepcopy(strategy.source)
    for el in list(root):
        if el.tag.rpartition("}")[2] not in _GATE_TAGS:
            continue
        gid = _attr(el, GML, "id")
        info = el.find(_d("custom_info"))
        if info is not None:
            for child in list(info):
                if child.tag in (_s("cluster"), _s("valley"), _s("applied")):
                    info.remove(child)
        record = strategy.adaptations.get(gid or "")
        if record is not None:
            gate = strategy.gates[gid]
            if gate.kind == "polygon":
                for vertex, coords in zip(el.findall(_g("vertex")), gate.vertices, strict=True):
                    for c_el, value in zip(vertex.findall(_g("coordinate")), coords, strict=True):
                        c_el.set(_d("value"), repr(float(value)))
            else:
                dim_el = el.find(_g("dimension"))
                bound = record["bound"]
                name = _g(bound) if dim_el.get(_g(bound)) is not None else bound
                if dim_el.get(name) is None:
                    name = _g(bound)
                dim_el.set(name, repr(float(getattr(gate.dims[0], bound))))
            if info is None:
                info = ET.Element(_d("custom_info"))
                el.insert(0, info)
            keep = {k: v for k, v in record.items() if k not in ("vertices",)}
            ET.SubElement(info, _s("applied"), _record_attributes(keep))
        if info is not None and not len(info) and not (info.text or "").strip():
            el.remove(info)
    for prefix, uri in (("gating", GML), ("transforms", XF), ("data-type", DT), ("sortpcr", SPCR)):
        ET.register_namespace(prefix, uri)
    ET.indent(root, space="    ")
    body = ET.tostring(root, encoding="unicode")
    comment = note.replace("--", "- -")
    head = f"<!-- {comment} -->\n" if comment else ""
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{head}{body}\n'


def applied_gatingml(strategy: Strategy, fcs: FCSData | None, note: str = "") -> str:
    """Gating-ML 2.0 text of the gates ``strategy`` applies: :func:`gatingml_text` for a
    Gating-ML file we parsed; the file's own text for one FlowKit evaluates; for a FlowJo
    workspace, FlowKit's Gating-ML export of the gating of ``fcs``'s sample (its file name).
    """
    if strategy.source is not None:
        return gatingml_text(strategy, note)
    if strategy.kind in ("diva", "diva-tube"):  # the file's tube only, never the experiment
        from .diva import tube_gatingml

        return tube_gatingml(strategy, fcs, note)
    if strategy.kind != "flowjo":
        return Path(strategy.path).read_text(encoding="utf-8")
    import io
    import warnings

    import flowkit

    if fcs is None:
        raise GatingError(strategy.path, "a FlowJo workspace's gates depend on the sample")
    name = Path(fcs.path).name
    sample = flowkit_sample(fcs, sample_id=name)
    sample.pnn_labels = [label.replace("/", "_") for label in sample.pnn_labels]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            wsp = flowkit.Workspace(strategy.path, fcs_samples=[sample])
            out = io.BytesIO()
            flowkit.export_gatingml(wsp.get_gating_strategy(name), out, sample_id=name)
        except Exception as err:
            raise GatingError(
                strategy.path, f"FlowKit cannot write this workspace's gates as Gating-ML: {err}"
            ) from None
    return out.getvalue().decode("utf-8")


# --------------------------------------------------------------------------- FlowKit paths


def flowkit_sample(fcs: FCSData, sample_id: str = "sample"):
    """A ``flowkit.Sample`` holding exactly the values we read (via :func:`fcs.flowio_view`)."""
    import flowkit

    from .fcs import flowio_view

    view = flowio_view(fcs.path, dataset=fcs.dataset if fcs.n_datasets > 1 else None)
    return flowkit.Sample(view, sample_id=sample_id)


def _flowkit_strategy(strategy: Strategy):
    if strategy._flowkit is None:
        if strategy.adaptations:  # applied coordinates: FlowKit reads what we would write
            import io

            text = gatingml_text(strategy).encode("utf-8")
            strategy._flowkit = _flowkit_gatingml(strategy.path, io.BytesIO(text))
        else:
            strategy._flowkit = _flowkit_gatingml(strategy.path)
    return strategy._flowkit


def evaluate_flowkit(strategy: Strategy, fcs: FCSData, sample=None) -> GatingResult:
    """Gate with FlowKit's ``GatingStrategy.gate_sample`` (reference and fallback path).

    ``sample``: an existing ``flowkit.Sample`` (e.g. FlowKit reading the file itself);
    default: built from our reader's values.
    """
    if strategy.kind == "flowjo":
        return _evaluate_workspace(strategy, fcs, Path(fcs.path).name, sample=sample)
    fk_strategy = _flowkit_strategy(strategy)
    if sample is None:
        sample = flowkit_sample(fcs)
    try:
        results = fk_strategy.gate_sample(sample)
    except (LookupError, ValueError) as err:
        raise GatingError(fcs.path, f"FlowKit cannot gate this file: {err}", "channels") from None
    except Exception as err:  # NotImplementedError (mixed compensation) and the like
        raise GatingError(strategy.path, f"FlowKit cannot evaluate this strategy: {err}") from None
    return _from_flowkit_results(strategy.path, fcs, fk_strategy.get_gate_ids(), results)


def _from_flowkit_results(strategy_path, fcs, gate_ids, results) -> GatingResult:
    members, parents, paths = {}, {}, {}
    for gid, gpath in gate_ids:
        try:
            members[gid] = np.asarray(results.get_gate_membership(gid, gate_path=gpath), bool)
        except Exception:  # quadrant containers have no single membership
            continue
        paths[gid] = tuple(gpath)
        parents[gid] = None if gpath[-1] == "root" else gpath[-1]
    return _result(strategy_path, fcs, members, parents, paths, "flowkit")


def _evaluate_workspace(strategy: Strategy, fcs: FCSData, sample_name: str, sample=None):
    import warnings

    import flowkit

    if strategy.sample_ids and sample_name not in strategy.sample_ids:
        raise GatingError(
            strategy.path,
            f"the FlowJo workspace has no sample {sample_name!r}; it has: "
            f"{', '.join(strategy.sample_ids)}",
            "samples",
        )
    if sample is None:
        sample = flowkit_sample(fcs, sample_id=sample_name)
    sample.id = sample_name
    sample.pnn_labels = [label.replace("/", "_") for label in sample.pnn_labels]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            wsp = flowkit.Workspace(strategy.path, fcs_samples=[sample])
        except Exception as err:
            raise GatingError(strategy.path, f"FlowKit cannot read the workspace: {err}") from None
    if sample_name not in wsp.get_sample_ids():
        raise GatingError(
            strategy.path,
            f"the FlowJo workspace has no sample {sample_name!r}; it has: "
            f"{', '.join(wsp.get_sample_ids(loaded_only=False)) or 'none'}",
            "samples",
        )
    try:
        wsp.analyze_samples(sample_id=sample_name, use_mp=False)
    except (LookupError, ValueError) as err:
        raise GatingError(fcs.path, f"FlowKit cannot gate this file: {err}", "channels") from None
    results = wsp.get_gating_results(sample_name)
    return _from_flowkit_results(strategy.path, fcs, wsp.get_gate_ids(sample_name), results)


@dataclass(frozen=True)
class GateView:
    """A gate's own coordinates for plotting: all events of a file in the gate's dimensions
    (compensated and transformed as the gate sees them).

    ``values``: n x k (k = number of dimensions); ``labels``: channel names;
    ``transforms``: the transform of each dimension (None = scale values).
    """

    gate: Gate
    labels: tuple[str, ...]
    values: np.ndarray = field(repr=False)
    transforms: tuple[Transform | None, ...]


def gate_view(strategy: Strategy, fcs: FCSData, gate_id: str) -> GateView | None:
    """The coordinates of ``gate_id`` on ``fcs`` (None for gates we cannot draw: Boolean
    gates and strategies evaluated by FlowKit)."""
    if strategy.kind == "diva":  # a FACSDiva experiment: the gates of the file's tube
        from .diva import tube_strategy

        strategy = tube_strategy(strategy, Path(fcs.path).name)
    if strategy.engine != "sortpcr" or gate_id not in strategy.gates:
        return None
    gate = strategy.gates[gate_id]
    if gate.kind == "boolean":
        return None
    ev = _Evaluator(strategy, fcs)
    comps = {d.comp for d in gate.dims if d.comp not in _UNCOMP}
    comp = next(iter(comps)) if comps else None
    try:
        cols = [ev.column(d, comp, None, "view") for d in gate.dims]
    except KeyError:
        return None
    labels = tuple(d.name or (d.ratio or "") for d in gate.dims)
    xforms = tuple(strategy.transforms.get(d.xform) if d.xform else None for d in gate.dims)
    return GateView(gate, labels, np.column_stack(cols), xforms)


def inverse_values(values: np.ndarray, transform: Transform | None) -> np.ndarray:
    """A transform's display coordinates -> scale values (identity for None)."""
    values = np.asarray(values, dtype=np.float64)
    if transform is None:
        return values
    p = transform.params
    if transform.kind == "flog":
        return p["T"] * 10.0 ** (p["M"] * (values - 1.0))
    if transform.kind == "flin":
        return values * (p["T"] + p["A"]) - p["A"]
    if transform.kind in ("logicle", "hyperlog", "fasinh"):
        return _inverse(values, transform)
    raise GatingError("", f"transform {transform.kind!r} has no inverse here")


def transform_values(values: np.ndarray, transform: Transform | None) -> np.ndarray:
    """Scale values -> a transform's display coordinates (identity for None)."""
    values = np.asarray(values, dtype=float)
    return values if transform is None else _transform(values, transform)
