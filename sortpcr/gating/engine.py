"""The evaluation engine: gate one FCS file with a loaded strategy.

Calling convention: ``evaluate(strategy, fcs, *, sample, engine, adapt) -> GatingResult``
(and :func:`gate_view` for one gate's coordinates); inside, one ``_Evaluator`` per file
holds the compensated arrays and transformed columns, cached, and answers per-gate tests on
the events of the gate's parent (row indices into the file, ``None`` for all events).

Our evaluator reproduces FlowKit's ``GatingStrategy.gate_sample`` semantics exactly (the
differential tests prove equal memberships, including the Gating-ML 2.0 compliance set)
while being faster and not importing FlowKit: it uses the same numerical primitives
(flowutils' transforms, ``points_in_polygon``, ``points_in_ellipsoid``, ``compensate``),
compensates once per matrix, transforms each (channel, transform) once per parent
population, and tests a gate only on the events of its parent. Semantics mirrored from
FlowKit / Gating-ML 2.0:

* compensation per gate: the one non-``uncompensated`` ``compensation-ref`` of its
  dimensions (``FCS`` = the file's own matrix, applied by :mod:`sortpcr.fcs`; no matrix in
  the file -> uncompensated, as the Gating-ML spec says; else a ``spectrumMatrix`` of the
  strategy, whose fluorochrome names may stand for their detectors); ratio dimensions
  (``fratio``) are computed on uncompensated values;
* ranges ``min <= x < max``; polygons by winding number with edge points inside (flowutils);
  ellipsoids ``d^2 <= distanceSquare``; quadrants by divider values (``min <= x < max``);
  Boolean ``and``/``or``/``not`` over the referenced gates' memberships, ``use-as-complement``;
* every gate is ANDed with its parent (``parent_id``).

Strategies FlowKit must evaluate (fallback, FlowJo workspaces) go to :mod:`.flowkit_bridge`;
a Diva experiment's tube is chosen by :mod:`.diva`; adaptive gates are moved by
:mod:`.adapt` before they are tested. Dimension names that are not channels of a file ->
:class:`GatingError` naming the missing channels and the file.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import GatingError
from .adapt import _adapt
from .flowkit_bridge import _evaluate_workspace, evaluate_flowkit
from .model import _UNCOMP, Dimension, Gate, GateView, GatingResult, Strategy, Transform, _result
from .transforms import _MONOTONE, _raw_window, _transform

if TYPE_CHECKING:
    from ..fcs import FCSData


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
        if comp == "FCS":  # the acquisition matrix as read_fcs applied it (file, sheet or
            return self.fcs.events  # none: then the same array as uncompensated)
        if comp not in self.comp_cache:
            from flowutils.compensate import compensate

            m = self.s.matrices[comp]
            idx = [self.channel(d, None) for d in m.detectors]
            self.comp_cache[comp] = compensate(self.fcs.uncompensated, m.values, idx)
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
