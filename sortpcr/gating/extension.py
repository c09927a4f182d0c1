"""Our adaptive-gating extension of Gating-ML, read and written back.

Calling convention: ``_parse_search(element, gate, path)`` reads one gate element's
``<sortpcr:cluster>``/``<sortpcr:valley>`` (inside ``data-type:custom_info``, namespace
:data:`SPCR`) into a :class:`ClusterSearch`/:class:`ValleySearch` or None;
``gatingml_text(strategy, note) -> str`` writes a parsed strategy back as Gating-ML text with
the coordinates an evaluation applied. Bad search parameters -> :class:`GatingError` naming
the file, the gate and the attribute. Format and parameters: resources/gating/README.md.

A gate's ``<sortpcr:cluster>`` (polygon: moved onto the densest point of its parent's events
in a search window) or ``<sortpcr:valley>`` (one-dimension range: its bound set at the
deepest density valley, else a quantile of an internal negative population, else the
template's) is found in each file while it is evaluated (:mod:`.adapt`). The written text
holds the coordinates used and a ``<sortpcr:applied>`` record instead of the search: loaded
again, it gives the same memberships in our engine and in FlowKit (which ignores our
element and sees the template).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import GatingError
from .model import ClusterSearch, Gate, Strategy, ValleySearch
from .xmlns import _GATE_TAGS, DT, GML, SPCR, XF, _attr, _d, _g, _s

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
