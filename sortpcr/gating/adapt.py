"""Adaptive gates: move a gate's template onto this file's events before it is tested.

Calling convention: ``_adapt(ev, gate, rows, key, members, cuts) -> (gate, record)``, called
by the engine for a gate with a search: ``ev`` is the engine's evaluator for the file,
``rows``/``key`` the parent's events, ``members`` the memberships so far, ``cuts`` the
valley cuts already found (shared by complementary gates). It returns the gate at its
adapted coordinates and a JSON-ready record (method, evidence, shift from the template,
reason); it never raises for data that give no answer: the template is kept and the reason
recorded. The density searches themselves are :mod:`sortpcr.adaptive`; at most
``_SEARCH_EVENTS`` events (an even stride) enter a search.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from .model import _UNCOMP, ClusterSearch, Dimension, Gate, Strategy, ValleySearch
from .transforms import _transform, inverse_values


class _Evaluator(Protocol):
    """What the searches read from the engine's evaluator (:mod:`.engine`): the strategy
    and one dimension's untransformed values for some events."""

    s: Strategy

    def raw(self, dim: Dimension, comp: str | None, rows: np.ndarray | None, key) -> np.ndarray: ...


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
    from ..adaptive import cluster_mode

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
    from ..adaptive import density_valley

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
    from ..adaptive import density_valley

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
