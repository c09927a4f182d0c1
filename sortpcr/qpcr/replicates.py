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

from collections.abc import Mapping
from typing import Any

from sortpcr.io import (
    Rows,
    as_records,
    cell_float,
    cell_text,
    column_floats,
    is_missing,
)

DEFAULT_OUTLIER_CT = 1.0
#: the columns :func:`well_qc` adds to a well table (``wells_qc.tsv`` = reader columns + these)
QC_COLUMNS = ["used", "exclusion"]


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


def well_qc(wells: Rows, settings: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Add ``used`` (bool) and ``exclusion`` (reason, ``""`` when used) to a well table.

    ``wells``: dict rows (or a DataFrame) of the reader's columns, Ct in cycles. Returns
    ``(wells_qc, log)``: the rows in the same order with :data:`QC_COLUMNS` added, and one
    log line per excluded outlier.
    """
    threshold = outlier_threshold(settings)
    qc = as_records(wells)
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in qc:
        row["used"], row["exclusion"] = False, ""
        role = row["role"]
        if role == "ntc":
            row["exclusion"] = "control (NTC)"
        elif role not in ("standard", "unknown"):
            row["exclusion"] = f"not analysed (role {role})"
        elif is_missing(row["ct"]):
            row["exclusion"] = "undetermined"
        else:
            row["used"] = True
            key = group_key(role, row["target"], row["sample"], cell_float(row["quantity"]))
            groups.setdefault(key, []).append(row)
    log: list[str] = []
    for key in sorted(groups):
        members = groups[key]
        cts = column_floats(members, "ct")
        found = find_outlier(cts, threshold)
        if found is None:
            continue
        j, dist, med = found
        row = members[j]
        row["used"] = False
        row["exclusion"] = (
            f"outlier: Ct {cts[j]:.2f} is {dist:.2f} cycles from the median {med:.2f} of the "
            f"other replicates (> {threshold:g})"
        )
        plate = cell_text(row.get("plate"))
        log.append(f"{plate} {key}: well {row['well']} excluded, {row['exclusion']}".strip())
    return qc, log
