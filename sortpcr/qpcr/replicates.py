"""Replicate QC of single wells: which wells are used, and why the others are not.

One rule for standards and unknowns alike, recomputed from single wells (the export's
``Ct Mean`` is never read):

* a well without a Ct (undetermined) is not used (``exclusion = "undetermined"``);
* in a replicate group with at least three wells that have a Ct, the well furthest from the
  median Ct of the *other* wells of its group is excluded when that distance exceeds
  ``settings["replicates"]["outlier_ct"]`` cycles (default 1.0). At most one well per group
  is excluded; ties go to the first well in plate order. The decision is logged.
* groups of two cannot say which well is wrong: both stay, and the group is flagged
  ``replicates_disagree`` downstream when they differ by more than ``outlier_ct``.

Replicate groups: standards by (target, quantity), unknowns by (target, sample). Controls
(``ntc``) and ``other`` wells are never used for quantities.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_OUTLIER_CT = 1.0


def outlier_threshold(settings: Mapping[str, Any]) -> float:
    """The outlier distance in cycles from ``settings["replicates"]["outlier_ct"]``."""
    rep = settings.get("replicates") or {}
    return float(rep.get("outlier_ct", DEFAULT_OUTLIER_CT))


def find_outlier(cts: list[float], threshold: float) -> tuple[int, float, float] | None:
    """Index of the replicate to exclude, its distance and the median of the others.

    ``cts`` are the Ct values (cycles) of the wells of one group that have a Ct, in plate
    order. Returns ``None`` when fewer than three or when no well is further than
    ``threshold`` cycles from the median of the others.
    """
    import statistics

    if len(cts) < 3:
        return None
    best: tuple[int, float, float] | None = None
    for i, ct in enumerate(cts):
        others = cts[:i] + cts[i + 1 :]
        med = statistics.median(others)
        dist = abs(ct - med)
        if best is None or dist > best[1] + 1e-12:
            best = (i, dist, med)
    if best is not None and best[1] > threshold:
        return best
    return None


def group_key(role: str, target: str, sample: str, quantity: float) -> str:
    """Replicate group of a well: ``target|std|quantity`` or ``target|sample``."""
    if role == "standard":
        return f"{target}|std|{quantity:.6g}"
    return f"{target}|{sample}"


def well_qc(wells: pd.DataFrame, settings: Mapping[str, Any]) -> tuple[pd.DataFrame, list[str]]:
    """Add ``used`` (bool) and ``exclusion`` (reason, ``""`` when used) to a well table.

    Returns ``(wells_qc, log)``; ``log`` holds one line per excluded outlier.
    """
    threshold = outlier_threshold(settings)
    qc = wells.copy().reset_index(drop=True)
    used = [False] * len(qc)
    exclusion = [""] * len(qc)
    log: list[str] = []
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(qc.itertuples(index=False)):
        if row.role == "ntc":
            exclusion[i] = "control (NTC)"
            continue
        if row.role not in ("standard", "unknown"):
            exclusion[i] = f"not analysed (role {row.role})"
            continue
        if row.ct is None or math.isnan(row.ct):
            exclusion[i] = "undetermined"
            continue
        used[i] = True
        key = group_key(row.role, row.target, row.sample, row.quantity)
        groups.setdefault(key, []).append(i)
    for key in sorted(groups):
        idx = groups[key]
        cts = [float(qc.at[i, "ct"]) for i in idx]
        found = find_outlier(cts, threshold)
        if found is None:
            continue
        j, dist, med = found
        i = idx[j]
        used[i] = False
        exclusion[i] = (
            f"outlier: Ct {cts[j]:.2f} is {dist:.2f} cycles from the median {med:.2f} of the "
            f"other replicates (> {threshold:g})"
        )
        plate = qc.at[i, "plate"] if "plate" in qc.columns else ""
        log.append(f"{plate} {key}: well {qc.at[i, 'well']} excluded, {exclusion[i]}".strip())
    qc["used"] = used
    qc["exclusion"] = exclusion
    return qc, log
