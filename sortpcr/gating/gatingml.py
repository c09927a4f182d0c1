"""Reading a gating strategy: Gating-ML 2.0 parsed by us, FlowJo/Diva files recognised.

Calling convention: ``load_strategy(path) -> Strategy``; every other function here is a
private step that takes an ElementTree element and the file's ``path`` (for messages) and
returns model objects, raising :class:`GatingError` naming the file and gate for bad content
and ``_Unsupported`` for valid Gating-ML our evaluator does not cover.

Every XML input is first read and parsed by :mod:`sortpcr.safe_input` (a regular file under
a size limit, defusedxml with DTDs forbidden), so any ``<!DOCTYPE``/``<!ENTITY`` (external
entities, "billion laughs") is refused with :class:`XMLSecurityError` before FlowKit/lxml
ever sees the file. A Gating-ML file is then parsed (ElementTree) into :mod:`.model`
dataclasses, gates in evaluation order (parents and references first); a gate's adaptive
search is read by :mod:`.extension`. Something ``_Unsupported`` makes FlowKit parse and
evaluate the file instead (``Strategy.engine == "flowkit"``, with the reason). A FlowJo 10
workspace is recognised and its sample names listed (FlowKit reads it when a file is
gated: :mod:`.flowkit_bridge`); a BD FACSDiva experiment goes to :mod:`.diva`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import GatingError
from ..safe_input import read_xml_file
from .extension import _parse_search
from .flowkit_bridge import _flowkit_gatingml, _flowkit_parent
from .model import (
    _UNCOMP,
    Dimension,
    Gate,
    Matrix,
    Strategy,
    Transform,
    ValleySearch,
    dependency_order,
)
from .xmlns import _GATE_TAGS, DT, GML, XF, _attr, _d, _g, _t


def read_xml_safely(path: str | Path):
    """Parse an XML file with DTDs and entities forbidden; return the ElementTree root.

    Any DOCTYPE or ENTITY declaration -> :class:`XMLSecurityError` (nothing is resolved or
    expanded); malformed XML, a missing, unreadable, oversized or non-regular file ->
    :class:`GatingError` (:mod:`sortpcr.safe_input`).
    """
    return read_xml_file(path, error=GatingError, kind="gating strategy file")


class _Unsupported(Exception):
    """Something our parser/evaluator does not cover: use FlowKit instead."""


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

    def needs(gid: str) -> list[str]:
        # a quadrant gate container used as parent: depend on its quadrants
        return [
            q
            for dep in sorted(deps.get(gid, ()))
            for q in ([dep] if dep in gates else [g.id for g in gates.values() if g.group == dep])
        ]

    return dependency_order(gates, needs, path, "gate")


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
    if tag == "bdfacs":  # a BD FACSDiva experiment: gates per tube (sortpcr.gating.diva)
        from .diva import experiment_strategy

        return experiment_strategy(root, name)
    raise GatingError(name, f"root element <{tag}> is neither Gating-ML 2.0 nor a FlowJo workspace")
