"""Quantities of unknowns from their own plate's standard curve, with replicate and control QC.

For each (plate, target, sample) of unknown wells:

1. Replicates are recomputed from single wells (:func:`sortpcr.qpcr.replicates.well_qc`):
   undetermined and implausible wells, at most one outlier per group of >= 3 and the later
   well of a discordant duplicate are not used.
2. ``ct_mean`` / ``ct_sd`` (cycles): mean and sample SD (n - 1) of the used wells.
3. ``log10_quantity = (ct_mean - intercept) / slope``; ``quantity = 10 ** log10_quantity`` in
   the standard's unit (IM-9 relative units, or copies).
4. Uncertainty: an error budget (:mod:`sortpcr.uncertainty`, column ``log10_budget``) of
   three independent components of ``x0 = xbar + (ct_mean - ybar) / b`` (OLS with centred
   x: the curve's level ``ybar`` and slope ``b`` are uncorrelated)::

       replicates  s_p / sqrt(k) / b           source rep/<plate>/<target>,   df of the pool
       level      -s / sqrt(n) / b             source curve/<plate>/<target>, df n - 2
       slope      -(x0 - xbar) / b * s / sqrt(sxx)   (same source)

   ``s_p`` = the plate's pooled within-group replicate SD of this target (``rep_sd`` of the
   curve; many df instead of the 1 of a duplicate), ``k`` = used replicates, ``s``
   (``residual_sd``), ``n``, ``xbar`` (``mean_log10q``), ``sxx`` from the curve. Without a
   pool (no group of two) the curve's ``s`` stands in for ``s_p``, in the curve's source.
   A quantity read from the kept well of a discordant duplicate adds half the two wells' gap
   (:func:`discordance_term`).
   ``log10_quantity_se`` = sqrt(sum of squared loadings); ``df`` by Welch-Satterthwaite.
5. ``status``: ``not_evaluable`` (no curve / failed curve / NTC amplified under
   ``ntc_policy: invalidate`` / discordant duplicate under ``replicates.discordant:
   not_evaluable``, no usable well because of implausible Cts, or no standard level that
   qualifies as LOQ; reason given) >
   ``undetected`` (every well undetermined: ``censor`` ``<``,
   ``bound`` = the curve's LOD) > ``below_range`` (mean Ct above the LOQ level's highest Ct +
   ``range_ct_tolerance``: ``censor`` ``<``, ``bound`` = LOQ, and *no* quantity: a value
   below the limit of quantification is never reported as a number) > ``above_range`` (mean
   Ct below ``ct_top`` - ``range_ct_tolerance``: the extrapolated quantity is reported and
   flagged) > ``ok``.
6. ``flags`` (``;``-joined): ``partial_undetermined`` (some, not all, wells without Ct),
   ``outlier_removed:<well>``, ``discordant_duplicate``, ``implausible_ct:<well>``,
   ``replicates_disagree`` (used wells span more than the tolerance), ``ntc_amplified``
   (under ``ntc_policy: flag``), ``no_ntc`` (no NTC for this target on the plate),
   ``single_replicate``.

NTCs: an NTC well of the target (or an NTC naming no target, in the same fluor) with a
plausible Ct (``ct_min`` <= Ct < ``ct_max``) has amplified.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sortpcr.io import (
    Rows,
    as_records,
    cell_float,
    cell_text,
    column_floats,
    group_rows,
    is_missing,
)
from sortpcr.qpcr.replicates import (
    DISCORDANT,
    IMPLAUSIBLE,
    plausible_ct,
    tolerance,
    well_qc,
)
from sortpcr.uncertainty import budget_df, combine, component, to_text, variance

if TYPE_CHECKING:
    from sortpcr.settings import QpcrSettings

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
    "censor",
    "bound",
    "df",
    "log10_budget",
]


def predict_log10(ct_mean: float, curve: Mapping[str, Any]) -> float:
    """log10 quantity (in the curve's unit) at a mean Ct (cycles) on a fitted curve."""
    return (ct_mean - cell_float(curve["intercept"])) / cell_float(curve["slope"])


def quantity_budget(
    x0: float, k: int, curve: Mapping[str, Any], sample: str
) -> dict[str, tuple[float, float]]:
    """Error budget of a predicted log10 quantity (module docstring, item 4).

    ``x0``: predicted log10 quantity; ``k``: replicates used; ``curve``: a row of
    ``curves.tsv`` (``plate``, ``target``, ``slope``, ``residual_sd``, ``n``,
    ``mean_log10q``, ``sxx``, ``rep_sd``, ``rep_df``). Empty when the curve has no residual
    SD (two points).
    """
    s = cell_float(curve["residual_sd"])
    n = cell_float(curve["n"])
    xbar = cell_float(curve["mean_log10q"])
    sxx = cell_float(curve["sxx"])
    b = cell_float(curve["slope"])
    if not (math.isfinite(s) and n > 2 and sxx > 0 and b != 0 and k > 0):
        return {}
    where = f"{curve['plate']}/{curve['target']}"
    curve_source, df_curve = f"curve/{where}", n - 2
    s_p, df_p = cell_float(curve.get("rep_sd")), cell_float(curve.get("rep_df"))
    if math.isfinite(s_p) and df_p > 0:
        rep = component(f"rep/{where}", sample, s_p / math.sqrt(k) / b, df_p)
    else:
        rep = component(curve_source, f"rep:{sample}", s / math.sqrt(k) / b, df_curve)
    level = component(curve_source, "level", -s / math.sqrt(n) / b, df_curve)
    slope = component(curve_source, "slope", -(x0 - xbar) / b * s / math.sqrt(sxx), df_curve)
    return combine([(1.0, rep), (1.0, level), (1.0, slope)])


def discordance_term(
    group: list[dict[str, Any]], ct_min: float, curve: Mapping[str, Any]
) -> dict[str, tuple[float, float]]:
    """The extra error of a quantity read from the kept well of a discordant duplicate.

    Two wells without a majority leave it open which one is right: the kept (earlier) well
    is uncertain by half their gap, ``(Ct_late - Ct_early) / 2 / |slope|`` log10 units, an
    independent component (source ``discordant/<plate>/<target>``, infinite df). On the
    calibration benchmark it brings the coverage of the affected pairs from 90 % to 96 %.
    """
    cts = [cell_float(r["ct"]) for r in group if plausible_ct(r["ct"], ct_min)]
    gap = max(cts) - min(cts) if len(cts) >= 2 else 0.0
    b = cell_float(curve["slope"])
    if not (gap > 0 and b != 0):
        return {}
    sample = str(group[0]["sample"])
    return component(
        f"discordant/{curve['plate']}/{curve['target']}", sample, gap / 2 / b, math.inf
    )


def log10_se(x0: float, k: int, s_rep: float, curve: Mapping[str, Any]) -> float:
    """Standard error of a predicted log10 quantity, closed form of :func:`quantity_budget`::

        se = sqrt( s_rep**2 / k  +  s**2 / n  +  s**2 * (x0 - xbar)**2 / sxx ) / |slope|

    ``s_rep``: the replicate SD in cycles (the pooled SD; NaN -> the curve's ``s``).
    """
    s = cell_float(curve["residual_sd"])
    n = cell_float(curve["n"])
    xbar = cell_float(curve["mean_log10q"])
    sxx = cell_float(curve["sxx"])
    slope = cell_float(curve["slope"])
    s_rep = s_rep if math.isfinite(s_rep) else s
    var = s_rep**2 / k + s**2 / n + s**2 * (x0 - xbar) ** 2 / sxx
    return math.sqrt(var) / abs(slope)


def _ntc_status(
    qc: list[dict[str, Any]], plate: str, target: str, fluors: set[str], ct_min: float
) -> tuple[list[str], bool]:
    """Amplified NTC wells ("A12 (Ct 34.98)") of a target and whether any NTC exists.

    The target's own NTCs come first, then NTCs naming no target in one of ``fluors`` (or
    naming no fluor), each in plate order. A Ct below ``ct_min`` is not an amplification.
    """
    ntc = [r for r in qc if r["plate"] == plate and r["role"] == "ntc"]
    own = [r for r in ntc if r["target"] == target]
    shared = [r for r in ntc if r["target"] == "" and r.get("fluor", "") in fluors | {""}]
    relevant = own + shared
    amplified = [
        f"{r['well']} (Ct {float(r['ct']):.2f})" for r in relevant if plausible_ct(r["ct"], ct_min)
    ]
    return amplified, bool(relevant)


def quantify(
    wells: Rows, curves: Rows, settings: QpcrSettings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Quantify every unknown (target, sample) of a plate's well table.

    ``wells``: reader rows (Ct in cycles); ``curves``: :func:`sortpcr.qpcr.curves.fit_curves`
    rows for the same plate(s); both dict rows or DataFrames. ``settings``: the qPCR
    settings (replicate rules, ``ntc_policy``, ``ct_min``, ``range_ct_tolerance``).
    Returns ``(quantities, wells_qc, log)``: dict rows of :data:`QUANTITY_COLUMNS` sorted by
    plate, target, sample (quantities in the standard's unit); the well rows with ``used``
    and ``exclusion``; and one log line per decision (exclusions, NTC, range, status).
    """
    import numpy as np  # not at module level: the pair job imports QUANTITY_COLUMNS

    policy, discordant = settings.ntc_policy, settings.discordant
    ct_min, range_tol = settings.ct_min, settings.range_ct_tolerance
    qc, log = well_qc(wells, settings)
    log = [line for line in log if "|std|" not in line]
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
        discordant_wells = [r for r in group if r["exclusion"].startswith(DISCORDANT)]
        for r in group:
            if r["exclusion"].startswith("outlier"):
                flags.append(f"outlier_removed:{r['well']}")
            elif r["exclusion"].startswith(IMPLAUSIBLE):
                flags.append(f"implausible_ct:{r['well']}")
        if discordant_wells:
            flags.append("discordant_duplicate")
            reasons.append(discordant_wells[0]["exclusion"])
        cts = np.array(column_floats(used, "ct"), dtype=float)
        ct_mean = float(cts.mean()) if k else math.nan
        ct_sd = float(cts.std(ddof=1)) if k >= 2 else math.nan
        tol = tolerance(settings)
        if k >= 2 and float(cts.max() - cts.min()) > tol:
            flags.append("replicates_disagree")
            log.append(
                f"{label}: used replicates span {float(cts.max() - cts.min()):.2f} cycles "
                f"(> {tol:g}), flagged replicates_disagree"
            )
        if k == 1 and n_wells > 1 and not discordant_wells:
            flags.append("single_replicate")

        fluors = {str(r["fluor"]) for r in group} if "fluor" in group[0] else {""}
        amplified, has_ntc = _ntc_status(qc, plate, target, fluors, ct_min)
        if not has_ntc:
            flags.append("no_ntc")
        not_evaluable = False
        if discordant_wells and discordant == "not_evaluable":
            not_evaluable = True
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

        quantity = log10q = se = df = math.nan
        budget: dict[str, tuple[float, float]] = {}
        if curve is not None and k and not math.isnan(cell_float(curve["slope"])):
            log10q = predict_log10(ct_mean, curve)
            quantity = 10.0**log10q
            budget = quantity_budget(log10q, k, curve, sample)
            if discordant_wells and budget:
                budget = combine([(1.0, budget), (1.0, discordance_term(group, ct_min, curve))])
            if budget:
                se = math.sqrt(variance(budget))
                df = budget_df(budget)

        censor, bound = "", math.nan
        ct_top = cell_float(curve.get("ct_top")) if curve is not None else math.nan
        loq_ct = cell_float(curve.get("loq_ct")) if curve is not None else math.nan
        implausible = [r for r in group if r["exclusion"].startswith(IMPLAUSIBLE)]
        if k == 0 and implausible and not not_evaluable:
            not_evaluable = True
            reasons.append(
                f"no usable well: {len(implausible)} with an implausible Ct (< {ct_min:g}), "
                f"the rest undetermined"
            )
        if not_evaluable:
            status = "not_evaluable"
        elif k == 0:
            status = "undetected"
            censor, bound = "<", cell_float(curve.get("lod"))
            reasons.append(
                f"no amplification in {n_wells} well(s)"
                + (f"; below the LOD {bound:g} {unit}" if math.isfinite(bound) else "")
            )
        elif math.isfinite(loq_ct) and ct_mean > loq_ct + range_tol:
            status = "below_range"
            censor, bound = "<", cell_float(curve["loq"])
            reasons.append(
                f"mean Ct {ct_mean:.2f} beyond the LOQ standard's Ct {loq_ct:.2f}: < {bound:g} "
                f"{unit} (extrapolated {quantity:.4g} not reported)"
            )
            quantity = log10q = se = df = math.nan
            budget = {}
        elif not math.isfinite(loq_ct):
            status = "not_evaluable"
            reasons.append(f"no standard level of {target} on plate {plate} passes as LOQ")
        elif math.isfinite(ct_top) and ct_mean < ct_top - range_tol:
            status = "above_range"
            reasons.append(
                f"mean Ct {ct_mean:.2f} below the top standard's Ct {ct_top:.2f}: "
                f"{quantity:.4g} {unit} above the highest standard {curve['range_high']:g}, "
                "extrapolated"
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
                "censor": censor,
                "bound": bound,
                "df": df,
                "log10_budget": to_text(budget),
            }
        )
    return rows, qc, log
