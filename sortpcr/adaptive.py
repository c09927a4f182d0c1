"""Density searches behind adaptive gates: the blast cluster's mode and the CD34 valley.

Pure numpy functions on the values of one population in a gate's *display* coordinates
(the strategy's transform: logicle / flog / ... units, or scale values for an untransformed
scatter axis). :mod:`sortpcr.gating` calls them while it evaluates a strategy and moves the
template gate accordingly; the rules are documented there and in resources/gating/README.md.

* :func:`cluster_mode` - the densest point of a 2-D search window: a histogram smoothed by a
  Gaussian kernel (sigma in bins), its highest bin refined to the density-weighted centroid
  of the 5 x 5 bins around it (sub-bin precision). Evidence: events in the window and the
  smoothed peak height (events per bin).
* :func:`density_valley` - the deepest minimum between two modes of a 1-D distribution: a
  histogram smoothed by a Gaussian kernel (sigma ``bandwidth`` display units); for every bin
  the highest density on its left and on its right are the two modes it would separate, and
  its *depth* is its density over the lower of those two (0 = empty valley, 1 = no valley).
  Candidate bins lie inside the allowed range, with at least ``min_share`` of the events on
  each side and a lower mode of at least 2 % of the highest. The deepest candidate wins if its
  depth is at most ``max_depth``; where the valley floor is flat (an empty gap between two
  well separated populations) the cut is the middle of the floor, as a person would draw it.

Both return plain dicts (JSON-able) with the result or ``None`` and a reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["cluster_mode", "density_valley", "smooth"]

#: the valley floor: bins within this share of the highest density above the minimum
_FLOOR = 1e-3
#: a mode lower than this share of the highest cannot bound a valley (stray tail events)
_MIN_MODE = 0.02


def _kernel(sigma: float) -> np.ndarray:
    if sigma <= 0:
        return np.ones(1)
    half = max(1, int(np.ceil(3.0 * sigma)))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    return k / k.sum()


def smooth(values: np.ndarray, sigma: float, axis: int = 0) -> np.ndarray:
    """Gaussian smoothing along one axis (sigma in bins; zeros beyond the edges)."""
    k = _kernel(sigma)
    half = (k.size - 1) // 2
    n = values.shape[axis]

    def one(v: np.ndarray) -> np.ndarray:
        return np.convolve(v, k, mode="full")[half : half + n]

    return np.apply_along_axis(one, axis, np.asarray(values, dtype=float))


def cluster_mode(
    x: np.ndarray,
    y: np.ndarray,
    window: tuple[tuple[float, float], tuple[float, float]],
    *,
    bins: int = 64,
    sigma: float = 1.5,
    min_events: int = 100,
) -> dict[str, Any]:
    """The densest point of the events inside ``window`` ((x lo, x hi), (y lo, y hi)).

    Returns ``mode`` ([x, y] display units, or None), ``window_events`` and ``peak_density``
    (smoothed events per bin at the mode), ``reason`` when no mode is given.
    """
    (x0, x1), (y0, y1) = window
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    inside = np.isfinite(x) & np.isfinite(y) & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    n = int(inside.sum())
    out: dict[str, Any] = {"mode": None, "window_events": n, "peak_density": None, "reason": ""}
    if n < min_events:
        out["reason"] = f"only {n} events in the search window (fewer than {min_events})"
        return out
    hist, xe, ye = np.histogram2d(x[inside], y[inside], bins=bins, range=[[x0, x1], [y0, y1]])
    dens = smooth(smooth(hist, sigma, 0), sigma, 1)
    i, j = np.unravel_index(int(np.argmax(dens)), dens.shape)
    i0, i1 = max(i - 2, 0), min(i + 3, bins)
    j0, j1 = max(j - 2, 0), min(j + 3, bins)
    local = dens[i0:i1, j0:j1]
    xc = (xe[:-1] + xe[1:]) / 2
    yc = (ye[:-1] + ye[1:]) / 2
    total = float(local.sum())
    mx = float((local.sum(axis=1) * xc[i0:i1]).sum() / total)
    my = float((local.sum(axis=0) * yc[j0:j1]).sum() / total)
    out.update(mode=[mx, my], peak_density=float(dens[i, j]))
    return out


def density_valley(
    values: np.ndarray,
    window: tuple[float, float],
    allowed: tuple[float, float],
    *,
    bandwidth: float,
    bins: int = 256,
    max_depth: float = 0.5,
    min_share: float = 0.01,
    min_events: int = 100,
) -> dict[str, Any]:
    """The deepest density minimum between two modes, inside ``allowed`` (display units).

    ``window``: the span whose histogram is searched (modes may lie anywhere in it);
    ``allowed``: where the cut may be. Returns ``cut`` (display units, or None), ``depth``
    (valley density / lower mode density, 0-1), ``modes`` ([left, right] positions),
    ``events`` (values inside the window), ``share_below`` (fraction of them below the cut)
    and ``reason`` when no valley is given.
    """
    lo, hi = window
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v >= lo) & (v <= hi)]
    n = int(v.size)
    out: dict[str, Any] = {"cut": None, "depth": None, "modes": None, "events": n, "reason": ""}
    if n < min_events:
        out["reason"] = f"only {n} events in the search window (fewer than {min_events})"
        return out
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    width = (hi - lo) / bins
    dens = smooth(counts.astype(float), bandwidth / width)
    centres = (edges[:-1] + edges[1:]) / 2
    left = np.maximum.accumulate(dens)
    right = np.maximum.accumulate(dens[::-1])[::-1]
    lower = np.minimum(left, right)
    share_left = (np.cumsum(counts) - counts / 2) / n
    top = float(dens.max())
    ok = (
        (centres >= allowed[0])
        & (centres <= allowed[1])
        & (share_left >= min_share)
        & (1 - share_left >= min_share)
        & (lower >= _MIN_MODE * top)
    )
    if not ok.any():
        out["reason"] = (
            "no bin of the allowed range has two modes around it (one population, or one "
            f"side holds less than {100 * min_share:g} % of the events)"
        )
        return out
    ratio = np.where(ok, dens / np.where(lower > 0, lower, 1.0), np.inf)
    k = int(np.argmin(ratio))
    depth = float(ratio[k])
    out["depth"] = depth
    if depth > max_depth:
        out["reason"] = (
            f"no valley: the deepest minimum in range is {depth:.2f} of the lower mode "
            f"(a valley needs at most {max_depth:g})"
        )
        return out
    floor = dens[k] + _FLOOR * top
    i = j = k
    while i > 0 and ok[i - 1] and dens[i - 1] <= floor:
        i -= 1
    while j < bins - 1 and ok[j + 1] and dens[j + 1] <= floor:
        j += 1
    cut = float((centres[i] + centres[j]) / 2)
    left_mode = float(centres[int(np.argmax(dens[: k + 1]))])
    right_mode = float(centres[k + int(np.argmax(dens[k:]))])
    out.update(cut=cut, modes=[left_mode, right_mode], share_below=float(np.mean(v < cut)))
    return out
