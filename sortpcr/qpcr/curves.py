"""Standard curves: ordinary least squares of Ct on log10 quantity, per plate and target.

Model: ``Ct = intercept + slope * log10(quantity)`` fitted over the individual standard
wells that are used (undetermined wells and replicate outliers excluded, see
:mod:`sortpcr.qpcr.replicates`). Never pooled over targets and never carried over from
another plate: Bio-Rad software pools all targets of a fluorophore into one curve
(:func:`pooled_fit` reproduces that number, to show it is not what we use).

Reported per curve (``curves.tsv``):

- ``slope`` (cycles per log10 unit), ``intercept`` (Ct at quantity 1 in ``unit``), ``r2``
- ``efficiency`` = 10^(-1/slope) - 1 (fraction; 1.0 = 100 %), with ``efficiency_low`` /
  ``efficiency_high`` from the slope's two-sided t interval at ``ci_level`` (n - 2 degrees of
  freedom), mapped through the same formula
- ``points`` (standard wells used), ``levels`` (dilution levels with a used well),
  ``range_low`` / ``range_high`` (quantities of the lowest / highest level with a used well)
- ``n``, ``mean_log10q`` (mean log10 quantity of the points), ``sxx`` (sum of squared
  deviations of log10 quantity), ``residual_sd`` (sqrt(SSE / (n - 2)), cycles), ``slope_se``:
  what the prediction standard error of an unknown needs
- ``unit`` (``relative`` or ``copies``), ``status`` (``pass`` | ``fail``), ``reason``
- ``ct_top``: the lowest Ct of a used well of the highest standard level (cycles); a sample
  is above the standards' range only when its mean Ct is below ``ct_top`` minus
  ``qpcr.range_ct_tolerance`` (shipped: 0 cycles), i.e. judged on the observed Ct span, so a
  sample at the top standard's own Ct is in range
- limits: ``loq`` (the lowest standard level whose wells all amplified and were all used by
  the replicate rules) and ``loq_ct`` (the highest Ct of its wells); ``lod`` (the lowest
  standard level whose wells all amplified, used or not) and ``lod_ct``. With 2-3 wells a
  level no 95 % hit rate can be estimated: this LOD is the lowest level *seen* to amplify
  reliably, an upper estimate of the true LOD. Quantities in the plate's unit.
- ``rep_sd`` / ``rep_df``: the pooled within-plate replicate SD of this target (cycles) and
  its degrees of freedom (:func:`sortpcr.qpcr.replicates.pooled_replicate_sd`, all replicate
  groups of the plate, standards and unknowns)

Acceptance (``settings.curves[unit]``, a :class:`~sortpcr.settings.CurveRules`): ``relative``
checks ``efficiency_min`` / ``efficiency_max`` (shipped 0.90-1.10: common practice; MIQE,
Bustin 2009, asks that efficiency and R2 be reported and sets no threshold); ``copies``
checks ``slope_min`` / ``slope_max`` (Ipsogen / EAC, Gabert 2003: -3.9 to -3.0); both check
``r2_min``, ``min_points`` (wells) and ``min_levels`` (dilution levels; shipped 3). A limit
set to None is not checked. A curve
whose standards are all undetermined or censored fails (too few levels).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from sortpcr.io import Rows, as_records, cell_float, column_floats, group_rows, is_missing
from sortpcr.qpcr.replicates import plausible_ct, pooled_replicate_sd, well_qc
from sortpcr.uncertainty import t_quantile

if TYPE_CHECKING:
    from sortpcr.settings import CurveRules, QpcrSettings

CURVE_COLUMNS = [
    "plate",
    "target",
    "unit",
    "slope",
    "intercept",
    "r2",
    "efficiency",
    "efficiency_low",
    "efficiency_high",
    "ci_level",
    "points",
    "levels",
    "range_low",
    "range_high",
    "residual_sd",
    "slope_se",
    "n",
    "mean_log10q",
    "sxx",
    "ct_top",
    "loq",
    "loq_ct",
    "lod",
    "lod_ct",
    "rep_sd",
    "rep_df",
    "status",
    "reason",
]


def efficiency_from_slope(slope: float) -> float:
    """Amplification efficiency (fraction) from the slope of Ct on log10 quantity.

    ``10^(-1/slope) - 1``; NaN for a slope >= 0 (no valid efficiency).
    """
    if not slope < 0:
        return math.nan
    return 10.0 ** (-1.0 / slope) - 1.0


def fit_line(log10q: Any, ct: Any, ci_level: float) -> dict[str, float]:
    """OLS of ``ct`` (cycles) on ``log10q``; returns the fit statistics as a dict.

    Keys: ``slope, intercept, r2, efficiency, efficiency_low, efficiency_high, residual_sd,
    slope_se, n, mean_log10q, sxx``. Needs at least two distinct quantities; with n = 2 the
    residual SD and the interval are NaN.
    """
    x = np.asarray(log10q, dtype=float)
    y = np.asarray(ct, dtype=float)
    n = int(x.size)
    nan = math.nan
    out = {
        "slope": nan,
        "intercept": nan,
        "r2": nan,
        "efficiency": nan,
        "efficiency_low": nan,
        "efficiency_high": nan,
        "residual_sd": nan,
        "slope_se": nan,
        "n": n,
        "mean_log10q": float(x.mean()) if n else nan,
        "sxx": nan,
    }
    if n < 2:
        return out
    xm, ym = x.mean(), y.mean()
    sxx = float(((x - xm) ** 2).sum())
    out["sxx"] = sxx
    if sxx <= 0:
        return out
    slope = float(((x - xm) * (y - ym)).sum() / sxx)
    intercept = float(ym - slope * xm)
    resid = y - (intercept + slope * x)
    sse = float((resid**2).sum())
    syy = float(((y - ym) ** 2).sum())
    out.update(
        slope=slope,
        intercept=intercept,
        r2=1.0 - sse / syy if syy > 0 else nan,
        efficiency=efficiency_from_slope(slope),
    )
    if n > 2:
        residual_sd = math.sqrt(sse / (n - 2))
        slope_se = residual_sd / math.sqrt(sxx)
        t = t_quantile(0.5 + ci_level / 2.0, n - 2)
        steep, shallow = slope - t * slope_se, slope + t * slope_se
        out.update(
            residual_sd=residual_sd,
            slope_se=slope_se,
            efficiency_low=efficiency_from_slope(steep),
            efficiency_high=efficiency_from_slope(shallow) if shallow < 0 else math.inf,
        )
    return out


def pooled_fit(wells: Rows, fluor: str | None, ci_level: float) -> dict[str, float]:
    """Bio-Rad's "Standard Curve Results": one OLS over every standard well with a Ct of a
    fluorophore, all targets pooled, no outlier rule. For comparison only, never used.

    ``wells``: dict rows (or a DataFrame) of the reader's columns; ``fluor=None`` pools all
    standard wells of the table; ``ci_level``: level of the efficiency interval (Bio-Rad
    prints none).
    """
    std = [
        row
        for row in as_records(wells)
        if row["role"] == "standard"
        and not is_missing(row["ct"])
        and (fluor is None or row["fluor"] == fluor)
    ]
    return fit_line(np.log10(column_floats(std, "quantity")), column_floats(std, "ct"), ci_level)


def _acceptance(
    fit: dict[str, float], points: int, levels: int, unit: str, rules: CurveRules
) -> list[str]:
    problems = []
    min_points, min_levels = rules.min_points, rules.min_levels
    if points < min_points:
        problems.append(f"{points} standard wells with a Ct (< {min_points})")
    if levels < min_levels:
        problems.append(f"{levels} standard levels with a Ct (< {min_levels})")
    if math.isnan(fit["slope"]):
        problems.append("no slope could be fitted")
        return problems
    if unit == "copies":
        lo, hi = rules.slope_min, rules.slope_max
        if lo is not None and fit["slope"] < lo:
            problems.append(f"slope {fit['slope']:.3f} below {lo:g}")
        if hi is not None and fit["slope"] > hi:
            problems.append(f"slope {fit['slope']:.3f} above {hi:g}")
    else:
        lo, hi = rules.efficiency_min, rules.efficiency_max
        eff = fit["efficiency"]
        if math.isnan(eff):
            problems.append(f"slope {fit['slope']:.3f} gives no efficiency")
        else:
            if lo is not None and eff < lo:
                problems.append(f"efficiency {eff:.1%} below {lo:.0%}")
            if hi is not None and eff > hi:
                problems.append(f"efficiency {eff:.1%} above {hi:.0%}")
    r2_min = rules.r2_min
    if r2_min is not None and not (fit["r2"] >= r2_min):
        problems.append(f"R2 {fit['r2']:.4f} below {r2_min:g}")
    return problems


def standard_limits(std_wells: Rows, ct_min: float) -> dict[str, float]:
    """``ct_top``, ``loq``, ``loq_ct``, ``lod``, ``lod_ct`` of one target's standards.

    ``std_wells``: rows of :func:`sortpcr.qpcr.replicates.well_qc` (``used``, ``ct``,
    ``quantity``); ``ct_min``: the plausibility floor (cycles). Definitions in the module
    docstring; NaN where no level qualifies.
    """
    levels: dict[float, list[dict[str, Any]]] = {}
    for row in as_records(std_wells):
        levels.setdefault(cell_float(row["quantity"]), []).append(row)
    nan = math.nan
    out = {"ct_top": nan, "loq": nan, "loq_ct": nan, "lod": nan, "lod_ct": nan}
    used_levels = [q for q in sorted(levels) if any(r["used"] for r in levels[q])]
    if used_levels:
        top = [cell_float(r["ct"]) for r in levels[used_levels[-1]] if r["used"]]
        out["ct_top"] = min(top)
    for q in sorted(levels):
        wells = levels[q]
        amplified = all(plausible_ct(r["ct"], ct_min) for r in wells)
        if amplified and math.isnan(out["lod"]):
            out["lod"] = q
            out["lod_ct"] = max(cell_float(r["ct"]) for r in wells)
        if all(r["used"] for r in wells) and math.isnan(out["loq"]):
            out["loq"] = q
            out["loq_ct"] = max(cell_float(r["ct"]) for r in wells)
    return out


def fit_target(
    std_wells: Rows,
    plate: str,
    target: str,
    unit: str,
    settings: QpcrSettings,
    rep: tuple[float, float] = (math.nan, 0),
) -> dict[str, Any]:
    """Fit and judge one target's curve from its standard wells (with a ``used`` column).

    ``std_wells``: dict rows (or a DataFrame) of :func:`sortpcr.qpcr.replicates.well_qc`,
    Ct in cycles, quantity in ``unit``; ``rep``: the plate's pooled replicate SD (cycles)
    and df for this target. Returns one row of :data:`CURVE_COLUMNS`.
    """
    ci_level = settings.curve_ci_level
    records = as_records(std_wells)
    use = [row for row in records if row["used"]]
    quantity = column_floats(use, "quantity")
    fit = fit_line(np.log10(quantity), column_floats(use, "ct"), ci_level)
    levels = sorted(set(quantity))
    problems = _acceptance(fit, len(use), len(levels), unit, settings.curves[unit])
    row: dict[str, Any] = {"plate": plate, "target": target, "unit": unit, **fit}
    row.update(standard_limits(records, settings.ct_min))
    row.update(
        ci_level=ci_level,
        points=len(use),
        levels=len(levels),
        range_low=levels[0] if levels else math.nan,
        range_high=levels[-1] if levels else math.nan,
        rep_sd=rep[0],
        rep_df=rep[1],
        status="fail" if problems else "pass",
        reason="; ".join(problems),
    )
    return {column: row[column] for column in CURVE_COLUMNS}


def fit_curves(wells: Rows, settings: QpcrSettings) -> tuple[list[dict[str, Any]], list[str]]:
    """Fit one standard curve per plate and target of a tidy well table.

    ``wells``: the reader's rows (``plate, well, target, role, ct, quantity, unit``; dict
    rows or a DataFrame); ``settings``: the qPCR settings. Returns
    ``(curves, log)``: one dict row per (plate, target) with standards, keys
    :data:`CURVE_COLUMNS`, sorted by plate and target; the log names every excluded standard
    well and every failed curve. The pooled replicate SD uses the unknowns' wells too.
    """
    qc, qc_log = well_qc(wells, settings)
    log = [line for line in qc_log if "|std|" in line]
    pooled = pooled_replicate_sd(qc, settings)
    std = [row for row in qc if row["role"] == "standard"]
    groups = group_rows(std, ("plate", "target"))
    rows = []
    for plate, target in sorted(groups):
        group = groups[(plate, target)]
        rep = pooled.get((str(plate), str(target)), (math.nan, 0))
        row = fit_target(group, str(plate), str(target), str(group[0]["unit"]), settings, rep)
        rows.append(row)
        if row["status"] == "fail":
            log.append(f"{plate} {target}: standard curve fails: {row['reason']}")
        else:
            log.append(
                f"{plate} {target}: slope {row['slope']:.3f}, efficiency "
                f"{row['efficiency']:.1%}, R2 {row['r2']:.4f}, {row['points']} wells; "
                f"LOQ {row['loq']:g}, LOD {row['lod']:g}; pooled replicate SD "
                f"{row['rep_sd']:.3f} cycles ({row['rep_df']} df)"
            )
    return rows, log
