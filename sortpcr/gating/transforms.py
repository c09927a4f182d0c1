"""Gating-ML transforms applied to event values, and their inverses.

Calling convention: pure functions ``f(values, transform) -> ndarray`` on float64 arrays,
scale values -> display coordinates (:func:`transform_values`, private ``_transform``) or
back (:func:`inverse_values`); None as transform is the identity. The same
flowutils calls as FlowKit make, so the results are equal to the bit; ``diva_*`` kinds are
applied by :mod:`.diva`. A transform without an inverse here -> :class:`GatingError`.
"""

from __future__ import annotations

import numpy as np

from ..errors import GatingError
from .model import Transform


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
    if t.kind.startswith("diva_"):  # BD FACSDiva axes (sortpcr.gating.diva)
        from .diva import apply_transform

        return apply_transform(values, t)
    raise GatingError("", f"transform {t.kind!r} cannot be applied to a channel")


#: transforms that are strictly increasing on all reals, so a bound in display space is a
#: bound in raw space (flog is not: it is NaN at and below zero)
_MONOTONE = frozenset({"logicle", "hyperlog", "fasinh"})
#: half-width, in display units, of the band around a bound where events are transformed
#: exactly; far wider than the transforms' numerical error (~1e-12), far narrower than data
_BAND = 1e-6


def _raw_window(lo: float, hi: float, t: Transform) -> tuple[float, float]:
    """Raw interval that holds every event whose display value may lie in ``[lo, hi]``."""
    edges = inverse_values(np.array([lo - _BAND, hi + _BAND], dtype=np.float64), t)
    return float(edges[0]), float(edges[1])


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
    import flowutils  # the inverses FlowKit uses

    if transform.kind == "logicle":
        return flowutils.transforms.logicle_inverse(values, None, t=p["T"], m=p["M"], w=p["W"],
                                                    a=p["A"])  # fmt: skip
    if transform.kind == "hyperlog":
        return flowutils.transforms.hyperlog_inverse(values, None, t=p["T"], m=p["M"], w=p["W"],
                                                     a=p["A"])  # fmt: skip
    if transform.kind == "fasinh":
        return flowutils.transforms.asinh_inverse(values, None, t=p["T"], m=p["M"], a=p["A"])
    raise GatingError("", f"transform {transform.kind!r} has no inverse here")


def transform_values(values: np.ndarray, transform: Transform | None) -> np.ndarray:
    """Scale values -> a transform's display coordinates (identity for None)."""
    values = np.asarray(values, dtype=float)
    return values if transform is None else _transform(values, transform)
