"""Replicate QC of single wells: which wells are used, and why the others are not.

One rule for standards and unknowns alike, recomputed from single wells (the export's
``Ct Mean`` is never read). Replicate groups are keyed by plate too: standards by (plate,
target, quantity), unknowns by (plate, target, sample), so wells of two plates given together
give the same result as each plate alone. Controls (``ntc``) and ``other`` wells are never
used for quantities.

* a well without a Ct (undetermined) is not used (``exclusion = "undetermined"``);
* a Ct below ``settings.ct_min`` (shipped: 5 cycles; baseline artefacts such as 1.35) is
  implausible: not used (``exclusion = "implausible Ct ..."``), and an NTC with such a Ct
  does not count as amplified;
* replicate tolerance ``tol`` = ``settings.outlier_ct`` cycles (shipped: 1.0). For a
  copy-number standard below ``settings.poisson_copies_max`` (shipped: 100) copies it is
  widened by the expected Poisson scatter of a single well,
  ``sd_P(N) = 1 / (ln 2 * sqrt(N))`` cycles (about 0.37 at 15 copies, 0.14 at 100), as
  ``tol(N) = sqrt(tol^2 + (2 * sqrt(2) * sd_P(N))^2)``: a difference of two wells has SD
  ``sqrt(2) * sd_P``, allowed at two SDs, added in quadrature to the ordinary tolerance
  (1.45 cycles at 15 copies, 1.08 at 99);
* in a group of three or more wells with a Ct, the well furthest from the median Ct of the
  *other* wells of its group is excluded when that distance exceeds ``tol``. At most one
  well per group is excluded; ties go to the first well in plate order. The decision is
  logged.
* a group of exactly two wells that differ by more than ``tol`` has no majority
  (a *discordant duplicate*). ``settings.discordant`` decides: ``keep_earlier``
  (shipped) keeps the well with the lower Ct and excludes the later one (a late well is the
  usual failure: less template, inhibition, a bubble; an early one needs contamination);
  ``not_evaluable`` excludes both, and the quantity becomes ``not_evaluable``. Either way the
  quantity is flagged ``discordant_duplicate``; under ``keep_earlier`` half the two wells'
  gap joins the quantity's error budget (:func:`sortpcr.qpcr.quantify.discordance_term`).

:func:`pooled_replicate_sd` pools the within-group variance of the used wells of every
replicate group of one (plate, target), standards and unknowns alike: many degrees of
freedom instead of the 1 of a duplicate. It is robust to the odd outlier well because
outliers (groups of >= 3) and the later well of a discordant duplicate are excluded before
pooling; standard levels whose tolerance was widened for Poisson scatter are left out (their
scatter is not the plate's pipetting/reading noise).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from sortpcr.io import (
    Rows,
    as_records,
    cell_float,
    cell_text,
    column_floats,
    is_missing,
)

if TYPE_CHECKING:
    from sortpcr.settings import QpcrSettings

#: the columns :func:`well_qc` adds to a well table (``wells_qc.tsv`` = reader columns + these)
QC_COLUMNS = ["used", "exclusion"]
DISCORDANT = "discordant duplicate"
IMPLAUSIBLE = "implausible Ct"


def plausible_ct(ct: Any, ct_min: float) -> bool:
    """True for a Ct (cycles) that is present and at least ``ct_min``."""
    return not is_missing(ct) and cell_float(ct) >= ct_min


def poisson_ct_sd(copies: float) -> float:
    """Expected SD (cycles) of one well's Ct from Poisson sampling of ``copies`` templates.

    ``1 / (ln 2 * sqrt(copies))`` at 100 % efficiency (delta method on log2 of a Poisson
    count); NaN for copies <= 0.
    """
    if not copies > 0:
        return math.nan
    return 1.0 / (math.log(2.0) * math.sqrt(copies))


def tolerance(
    settings: QpcrSettings, role: str = "unknown", unit: str = "", quantity: float = math.nan
) -> float:
    """Replicate tolerance (cycles) of a group; widened for low-copy standards (module doc)."""
    base = settings.outlier_ct
    if role == "standard" and unit == "copies" and 0 < quantity < settings.poisson_copies_max:
        return math.hypot(base, 2.0 * math.sqrt(2.0) * poisson_ct_sd(quantity))
    return base


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


def group_key(role: str, target: str, sample: str, quantity: float, plate: str = "") -> str:
    """Replicate group of a well: ``plate|target|std|quantity`` or ``plate|target|sample``."""
    if role == "standard":
        return f"{plate}|{target}|std|{quantity:.6g}"
    return f"{plate}|{target}|{sample}"


def well_qc(wells: Rows, settings: QpcrSettings) -> tuple[list[dict[str, Any]], list[str]]:
    """Add ``used`` (bool) and ``exclusion`` (reason, ``""`` when used) to a well table.

    ``wells``: dict rows (or a DataFrame) of the reader's columns, Ct in cycles. Returns
    ``(wells_qc, log)``: the rows in the same order with :data:`QC_COLUMNS` added, and one
    log line per excluded well (outlier, discordant duplicate, implausible Ct).
    """
    ct_min, rule = settings.ct_min, settings.discordant
    qc = as_records(wells)
    groups: dict[str, list[dict[str, Any]]] = {}
    log: list[str] = []
    for row in qc:
        row["used"], row["exclusion"] = False, ""
        role = row["role"]
        if role == "ntc":
            row["exclusion"] = "control (NTC)"
            if not is_missing(row["ct"]) and not plausible_ct(row["ct"], ct_min):
                row["exclusion"] += f"; {IMPLAUSIBLE} {cell_float(row['ct']):.2f} < {ct_min:g}"
        elif role not in ("standard", "unknown"):
            row["exclusion"] = f"not analysed (role {role})"
        elif is_missing(row["ct"]):
            row["exclusion"] = "undetermined"
        elif not plausible_ct(row["ct"], ct_min):
            row["exclusion"] = (
                f"{IMPLAUSIBLE} {cell_float(row['ct']):.2f} < {ct_min:g} (qpcr.ct_min)"
            )
            log.append(f"{cell_text(row.get('plate'))} well {row['well']}: {row['exclusion']}")
        else:
            row["used"] = True
            key = group_key(
                role,
                row["target"],
                row["sample"],
                cell_float(row["quantity"]),
                cell_text(row.get("plate")),
            )
            groups.setdefault(key, []).append(row)
    for key in sorted(groups):
        members = groups[key]
        first = members[0]
        tol = tolerance(
            settings, first["role"], cell_text(first.get("unit")), cell_float(first["quantity"])
        )
        cts = column_floats(members, "ct")
        if len(cts) == 2 and abs(cts[0] - cts[1]) > tol:
            late = 0 if cts[0] > cts[1] else 1
            gap = abs(cts[0] - cts[1])
            drop = [0, 1] if rule == "not_evaluable" else [late]
            for j in drop:
                members[j]["used"] = False
                members[j]["exclusion"] = (
                    f"{DISCORDANT}: Ct {cts[0]:.2f} and {cts[1]:.2f} differ by {gap:.2f} "
                    f"cycles (> {tol:.3g}); "
                    + ("neither kept" if rule == "not_evaluable" else "the later well dropped")
                )
                log.append(f"{key}: well {members[j]['well']} excluded, {members[j]['exclusion']}")
            continue
        found = find_outlier(cts, tol)
        if found is None:
            continue
        j, dist, med = found
        row = members[j]
        row["used"] = False
        row["exclusion"] = (
            f"outlier: Ct {cts[j]:.2f} is {dist:.2f} cycles from the median {med:.2f} of the "
            f"other replicates (> {tol:.3g})"
        )
        log.append(f"{key}: well {row['well']} excluded, {row['exclusion']}")
    return qc, log


def pooled_replicate_sd(
    qc: list[dict[str, Any]], settings: QpcrSettings
) -> dict[tuple[str, str], tuple[float, int]]:
    """(plate, target) -> (pooled within-group SD in cycles, df) from :func:`well_qc` rows.

    Used wells of every replicate group (standards and unknowns) with two or more used wells;
    standard levels with a Poisson-widened tolerance are left out (module docstring).
    """
    from sortpcr.uncertainty import pooled_sd

    groups: dict[tuple[str, str], dict[str, list[float]]] = {}
    base = settings.outlier_ct
    for row in qc:
        if not row.get("used"):
            continue
        quantity = cell_float(row.get("quantity"))
        if tolerance(settings, row["role"], cell_text(row.get("unit")), quantity) != base:
            continue
        plate = cell_text(row.get("plate"))
        key = group_key(row["role"], row["target"], row["sample"], quantity, plate)
        groups.setdefault((plate, str(row["target"])), {}).setdefault(key, []).append(
            cell_float(row["ct"])
        )
    return {pt: pooled_sd(list(by_group.values())) for pt, by_group in groups.items()}
