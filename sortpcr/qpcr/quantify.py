"""Quantities of unknowns from their own plate's standard curve, with replicate and control QC.

For each (plate, target, sample) of unknown wells:

1. Replicates are recomputed from single wells (:func:`sortpcr.qpcr.replicates.well_qc`):
   undetermined wells and at most one outlier per group of >= 3 are not used.
2. ``ct_mean`` / ``ct_sd`` (cycles): mean and sample SD (n - 1) of the used wells.
3. ``log10_quantity = (ct_mean - intercept) / slope``; ``quantity = 10 ** log10_quantity`` in
   the standard's unit (IM-9 relative units, or copies).
4. Standard error of ``log10_quantity`` (inverse prediction from the calibration line, with
   the replicate spread in place of the pure-error term)::

       se = sqrt( s_rep**2 / k  +  s**2 / n  +  s**2 * (x0 - xbar)**2 / sxx ) / |slope|

   ``k`` = used replicates, ``s_rep`` = their sample SD (when k = 1: the curve's residual
   SD ``s``), ``n``, ``xbar`` (``mean_log10q``), ``sxx`` and ``s`` (``residual_sd``) from
   the curve, ``x0`` = ``log10_quantity``. Term 1 is the unknown's own Ct noise, terms 2-3
   the uncertainty of the fitted line at ``x0`` (intercept and slope).
5. ``status``: ``not_evaluable`` (no curve / failed curve / NTC amplified under
   ``ntc_policy: invalidate``; reason given) > ``undetected`` (no used well has a Ct) >
   ``above_range`` / ``below_range`` (``log10_quantity`` beyond the highest / lowest standard
   level with a Ct; the quantity is still reported, never silently extrapolated) > ``ok``.
6. ``flags`` (``;``-joined): ``partial_undetermined`` (some, not all, wells without Ct),
   ``outlier_removed:<well>``, ``replicates_disagree`` (used wells span more than
   ``outlier_ct`` cycles), ``ntc_amplified`` (under ``ntc_policy: flag``), ``no_ntc``
   (no NTC for this target on the plate), ``single_replicate``.

NTCs: an NTC well of the target (or an NTC naming no target, in the same fluor) with a Ct
below ``ct_max`` has amplified.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sortpcr.io import (
    Rows,
    as_records,
    cell_float,
    cell_text,
    column_floats,
    group_rows,
    is_missing,
)
from sortpcr.qpcr.replicates import outlier_threshold, well_qc

QUANTITY_COLUMNS = [
    "plate",
    "target",
    "sample",
    "unit",
    "n_wells",
    "n_used",
    "ct_mean",
    "ct_sd",
    "quantity",
    "log10_quantity",
    "log10_quantity_se",
    "status",
    "flags",
    "reason",
]
NTC_POLICIES = ("flag", "invalidate")
_RANGE_TOL = 1e-9


def predict_log10(ct_mean: float, curve: Mapping[str, Any]) -> float:
    """log10 quantity (in the curve's unit) at a mean Ct (cycles) on a fitted curve."""
    return (ct_mean - cell_float(curve["intercept"])) / cell_float(curve["slope"])


def log10_se(x0: float, k: int, ct_sd: float, curve: Mapping[str, Any]) -> float:
    """Standard error of a predicted log10 quantity (formula in the module docstring).

    ``x0``: predicted log10 quantity; ``k``: replicates used; ``ct_sd``: their sample SD in
    cycles (NaN or ignored when ``k == 1``); ``curve``: a row of ``curves.tsv``.
    """
    s = cell_float(curve["residual_sd"])
    n = cell_float(curve["n"])
    xbar = cell_float(curve["mean_log10q"])
    sxx = cell_float(curve["sxx"])
    slope = cell_float(curve["slope"])
    s_rep = ct_sd if (k >= 2 and not math.isnan(ct_sd)) else s
    var = s_rep**2 / k + s**2 / n + s**2 * (x0 - xbar) ** 2 / sxx
    return math.sqrt(var) / abs(slope)


def _ntc_status(
    qc: list[dict[str, Any]], plate: str, target: str, fluors: set[str]
) -> tuple[list[str], bool]:
    """Amplified NTC wells ("A12 (Ct 34.98)") of a target and whether any NTC exists.

    The target's own NTCs come first, then NTCs naming no target in one of ``fluors`` (or
    naming no fluor), each in plate order.
    """
    ntc = [r for r in qc if r["plate"] == plate and r["role"] == "ntc"]
    own = [r for r in ntc if r["target"] == target]
    shared = [r for r in ntc if r["target"] == "" and r.get("fluor", "") in fluors | {""}]
    relevant = own + shared
    amplified = [
        f"{r['well']} (Ct {float(r['ct']):.2f})" for r in relevant if not is_missing(r["ct"])
    ]
    return amplified, bool(relevant)


def quantify(
    wells: Rows, curves: Rows, settings: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Quantify every unknown (target, sample) of a plate's well table.

    ``wells``: reader rows (Ct in cycles); ``curves``: :func:`sortpcr.qpcr.curves.fit_curves`
    rows for the same plate(s); both dict rows or DataFrames. ``settings``: the config's
    ``qpcr`` section (``replicates.outlier_ct``, ``ntc_policy``). Returns
    ``(quantities, wells_qc, log)``: dict rows of :data:`QUANTITY_COLUMNS` sorted by plate,
    target, sample (quantities in the standard's unit); the well rows with ``used`` and
    ``exclusion``; and one log line per decision (exclusions, NTC, range, status).
    """
    import numpy as np  # not at module level: the pair job imports QUANTITY_COLUMNS

    policy = str(settings.get("ntc_policy", "invalidate"))
    if policy not in NTC_POLICIES:
        raise ValueError(f"qpcr.ntc_policy must be one of {NTC_POLICIES}, not {policy!r}")
    threshold = outlier_threshold(settings)
    qc, log = well_qc(wells, settings)
    curve_of = {(str(r["plate"]), str(r["target"])): r for r in as_records(curves)}

    rows = []
    unknown = group_rows([r for r in qc if r["role"] == "unknown"], ("plate", "target", "sample"))
    for key in sorted(unknown):
        group = unknown[key]
        plate, target, sample = (str(part) for part in key)
        label = f"{plate} {target} {sample}"
        unit = str(group[0]["unit"])
        flags: list[str] = []
        reasons: list[str] = []
        n_wells = len(group)
        used = [r for r in group if r["used"]]
        k = len(used)
        n_undet = sum(is_missing(r["ct"]) for r in group)
        if 0 < n_undet < n_wells:
            flags.append("partial_undetermined")
            log.append(f"{label}: {n_undet} of {n_wells} wells undetermined")
        for r in group:
            if r["exclusion"].startswith("outlier"):
                flags.append(f"outlier_removed:{r['well']}")
        cts = np.array(column_floats(used, "ct"), dtype=float)
        ct_mean = float(cts.mean()) if k else math.nan
        ct_sd = float(cts.std(ddof=1)) if k >= 2 else math.nan
        if k >= 2 and float(cts.max() - cts.min()) > threshold:
            flags.append("replicates_disagree")
            log.append(
                f"{label}: used replicates span {float(cts.max() - cts.min()):.2f} cycles "
                f"(> {threshold:g}), flagged replicates_disagree"
            )
        if k == 1 and n_wells > 1:
            flags.append("single_replicate")

        fluors = {str(r["fluor"]) for r in group} if "fluor" in group[0] else {""}
        amplified, has_ntc = _ntc_status(qc, plate, target, fluors)
        if not has_ntc:
            flags.append("no_ntc")
        not_evaluable = False
        if amplified:
            if policy == "invalidate":
                not_evaluable = True
                reasons.append(f"NTC amplified: {', '.join(amplified)}")
            else:
                flags.append("ntc_amplified")
                reasons.append(f"NTC amplified (flagged only): {', '.join(amplified)}")

        curve = curve_of.get((plate, target))
        if curve is None:
            not_evaluable = True
            reasons.append(f"no standard curve for {target} on plate {plate}")
        elif curve["status"] != "pass":
            not_evaluable = True
            reasons.append(f"standard curve failed: {cell_text(curve['reason'])}")

        quantity = log10q = se = math.nan
        if curve is not None and k and not math.isnan(cell_float(curve["slope"])):
            log10q = predict_log10(ct_mean, curve)
            quantity = 10.0**log10q
            if not math.isnan(cell_float(curve["residual_sd"])):
                se = log10_se(log10q, k, ct_sd, curve)

        if not_evaluable:
            status = "not_evaluable"
        elif k == 0:
            status = "undetected"
            reasons.append(f"no amplification in {n_wells} well(s)")
        elif log10q > math.log10(cell_float(curve["range_high"])) + _RANGE_TOL:
            status = "above_range"
            reasons.append(
                f"{quantity:.4g} {unit} above the highest standard {curve['range_high']:g}"
            )
        elif log10q < math.log10(cell_float(curve["range_low"])) - _RANGE_TOL:
            status = "below_range"
            reasons.append(
                f"{quantity:.4g} {unit} below the lowest standard {curve['range_low']:g}"
            )
        else:
            status = "ok"
        if status != "ok":
            log.append(f"{label}: {status}: {'; '.join(reasons)}")
        rows.append(
            {
                "plate": plate,
                "target": target,
                "sample": sample,
                "unit": unit,
                "n_wells": n_wells,
                "n_used": k,
                "ct_mean": ct_mean,
                "ct_sd": ct_sd,
                "quantity": quantity,
                "log10_quantity": log10q,
                "log10_quantity_se": se,
                "status": status,
                "flags": ";".join(flags),
                "reason": "; ".join(reasons),
            }
        )
    return rows, qc, log
