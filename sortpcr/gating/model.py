"""The gate model: plain dataclasses for a loaded strategy and the result of gating one file.

Calling convention: data only. Frozen dataclasses (:class:`Dimension`, :class:`Gate`,
:class:`ClusterSearch`, :class:`ValleySearch`, :class:`Transform`, :class:`Matrix`,
:class:`GatingResult`, :class:`GateView`) built by the readers (:mod:`.gatingml`,
:mod:`.diva`) and the engine; :class:`Strategy` (mutable: FlowKit's parsed object is
cached on it) answers questions about its own gate tree. Nothing here reads a file, imports
FlowKit or evaluates a gate. Display coordinates are the units after a gate dimension's
transform; scale values are the FCS file's values (compensated as the gate says).

Errors: gate IDs required by the configuration but absent -> :class:`GatingError` listing
the IDs that exist (:func:`require_gates`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import GatingError

if TYPE_CHECKING:
    from ..fcs import FCSData


#: compensation references that mean the file's values as recorded
_UNCOMP = (None, "uncompensated")


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


def require_gates(strategy: Strategy, gate_ids: Iterable[str], what: str = "configuration") -> None:
    """Every gate ID the configuration names must exist; else GatingError listing them all.

    For a FlowJo workspace or a Diva experiment the gates are per sample / tube: the caller
    checks them on the sample's gating result with :func:`check_gate_ids`.
    """
    if strategy.kind in ("flowjo", "diva"):  # gates per sample / per Diva tube
        return
    check_gate_ids(strategy.path, gate_ids, list(strategy.gates), f"the {what}")


def check_gate_ids(
    path: str | None, gate_ids: Iterable[str], defined: Sequence[str], named_in: str
) -> None:
    """GatingError naming every ID of ``gate_ids`` not in ``defined`` (the strategy's gate
    IDs, in order), and listing the IDs it does define; ``named_in`` says who asked."""
    missing = [g for g in gate_ids if g not in defined]
    if missing:
        raise GatingError(
            path,
            f"gate ID(s) {', '.join(repr(m) for m in missing)} named in {named_in} are not in "
            f"the strategy; it defines: {', '.join(defined)}",
            "gate IDs",
        )


def dependency_order(
    gates: dict[str, Gate], needs: Callable[[str], Iterable[str]], path: str, what: str
) -> dict[str, Gate]:
    """``gates`` reordered so that each follows the gates it needs (``needs(gate_id)``: the
    IDs of its parent, Boolean inputs, ...); a cycle -> :class:`GatingError` naming a gate
    on it (``what``: the file's word for a gate, e.g. ``gate`` or ``population``)."""
    order: dict[str, Gate] = {}
    visiting: set[str] = set()

    def visit(gid: str) -> None:
        if gid in order:
            return
        if gid in visiting:
            raise GatingError(path, f"cyclic {what} references around {gid!r}")
        visiting.add(gid)
        for dep in needs(gid):
            visit(dep)
        visiting.discard(gid)
        order[gid] = gates[gid]

    for gid in gates:
        visit(gid)
    return order
