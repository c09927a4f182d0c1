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

Acceptance (``settings["curves"][unit]``): ``relative`` checks ``efficiency_min`` /
``efficiency_max`` (MIQE, Bustin 2009: 0.90-1.10); ``copies`` checks ``slope_min`` /
``slope_max`` (Ipsogen / EAC, Gabert 2003: -3.9 to -3.0); both check ``r2_min`` and
``min_points`` (wells), and at least ``min_levels`` (default 3) dilution levels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from sortpcr.io import Rows, as_records, column_floats, group_rows, is_missing
from sortpcr.qpcr.replicates import well_qc

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
    "status",
    "reason",
]
DEFAULT_CI_LEVEL = 0.95
DEFAULT_MIN_LEVELS = 3


def efficiency_from_slope(slope: float) -> float:
    """Amplification efficiency (fraction) from the slope of Ct on log10 quantity.

    ``10^(-1/slope) - 1``; NaN for a slope >= 0 (no valid efficiency).
    """
    if not slope < 0:
        return math.nan
    return 10.0 ** (-1.0 / slope) - 1.0


def fit_line(log10q: Any, ct: Any, ci_level: float = DEFAULT_CI_LEVEL) -> dict[str, float]:
    """OLS of ``ct`` (cycles) on ``log10q``; returns the fit statistics as a dict.

    Keys: ``slope, intercept, r2, efficiency, efficiency_low, efficiency_high, residual_sd,
    slope_se, n, mean_log10q, sxx``. Needs at least two distinct quantities; with n = 2 the
    residual SD and the interval are NaN.
    """
    from scipy.special import stdtrit  # t quantile; scipy.stats costs ~1 s to import

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
        t = float(stdtrit(n - 2, 0.5 + ci_level / 2.0))
        steep, shallow = slope - t * slope_se, slope + t * slope_se
        out.update(
            residual_sd=residual_sd,
            slope_se=slope_se,
            efficiency_low=efficiency_from_slope(steep),
            efficiency_high=efficiency_from_slope(shallow) if shallow < 0 else math.inf,
        )
    return out


def pooled_fit(wells: Rows, fluor: str | None = None) -> dict[str, float]:
    """Bio-Rad's "Standard Curve Results": one OLS over every standard well with a Ct of a
    fluorophore, all targets pooled, no outlier rule. For comparison only, never used.

    ``wells``: dict rows (or a DataFrame) of the reader's columns; ``fluor=None`` pools all
    standard wells of the table.
    """
    std = [
        row
        for row in as_records(wells)
        if row["role"] == "standard"
        and not is_missing(row["ct"])
        and (fluor is None or row["fluor"] == fluor)
    ]
    return fit_line(np.log10(column_floats(std, "quantity")), column_floats(std, "ct"))


def _acceptance(
    fit: dict[str, float], points: int, levels: int, unit: str, settings: Mapping[str, Any]
) -> list[str]:
    rules = (settings.get("curves") or {}).get(unit) or {}
    problems = []
    min_points = int(rules.get("min_points", 3))
    min_levels = int(rules.get("min_levels", DEFAULT_MIN_LEVELS))
    if points < min_points:
        problems.append(f"{points} standard wells with a Ct (< {min_points})")
    if levels < min_levels:
        problems.append(f"{levels} standard levels with a Ct (< {min_levels})")
    if math.isnan(fit["slope"]):
        problems.append("no slope could be fitted")
        return problems
    if unit == "copies":
        lo, hi = rules.get("slope_min"), rules.get("slope_max")
        if lo is not None and fit["slope"] < float(lo):
            problems.append(f"slope {fit['slope']:.3f} below {float(lo):g}")
        if hi is not None and fit["slope"] > float(hi):
            problems.append(f"slope {fit['slope']:.3f} above {float(hi):g}")
    else:
        lo, hi = rules.get("efficiency_min"), rules.get("efficiency_max")
        eff = fit["efficiency"]
        if math.isnan(eff):
            problems.append(f"slope {fit['slope']:.3f} gives no efficiency")
        else:
            if lo is not None and eff < float(lo):
                problems.append(f"efficiency {eff:.1%} below {float(lo):.0%}")
            if hi is not None and eff > float(hi):
                problems.append(f"efficiency {eff:.1%} above {float(hi):.0%}")
    r2_min = rules.get("r2_min")
    if r2_min is not None and not (fit["r2"] >= float(r2_min)):
        problems.append(f"R2 {fit['r2']:.4f} below {float(r2_min):g}")
    return problems


def fit_target(
    std_wells: Rows, plate: str, target: str, unit: str, settings: Mapping[str, Any]
) -> dict[str, Any]:
    """Fit and judge one target's curve from its standard wells (with a ``used`` column).

    ``std_wells``: dict rows (or a DataFrame) of :func:`sortpcr.qpcr.replicates.well_qc`,
    Ct in cycles, quantity in ``unit``. Returns one row of :data:`CURVE_COLUMNS`.
    """
    ci_level = float((settings.get("curves") or {}).get("ci_level", DEFAULT_CI_LEVEL))
    use = [row for row in as_records(std_wells) if row["used"]]
    quantity = column_floats(use, "quantity")
    fit = fit_line(np.log10(quantity), column_floats(use, "ct"), ci_level)
    levels = sorted(set(quantity))
    problems = _acceptance(fit, len(use), len(levels), unit, settings)
    row: dict[str, Any] = {"plate": plate, "target": target, "unit": unit, **fit}
    row.update(
        ci_level=ci_level,
        points=len(use),
        levels=len(levels),
        range_low=levels[0] if levels else math.nan,
        range_high=levels[-1] if levels else math.nan,
        status="fail" if problems else "pass",
        reason="; ".join(problems),
    )
    return {column: row[column] for column in CURVE_COLUMNS}


def fit_curves(wells: Rows, settings: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Fit one standard curve per plate and target of a tidy well table.

    ``wells``: the reader's rows (``plate, well, target, role, ct, quantity, unit``; dict
    rows or a DataFrame); ``settings``: the config's ``qpcr`` section. Returns
    ``(curves, log)``: one dict row per (plate, target) with standards, keys
    :data:`CURVE_COLUMNS`, sorted by plate and target; the log names every excluded standard
    well and every failed curve.
    """
    standards = [row for row in as_records(wells) if row["role"] == "standard"]
    std, log = well_qc(standards, settings)
    groups = group_rows(std, ("plate", "target"))
    rows = []
    for plate, target in sorted(groups):
        group = groups[(plate, target)]
        row = fit_target(group, str(plate), str(target), str(group[0]["unit"]), settings)
        rows.append(row)
        if row["status"] == "fail":
            log.append(f"{plate} {target}: standard curve fails: {row['reason']}")
        else:
            log.append(
                f"{plate} {target}: slope {row['slope']:.3f}, efficiency "
                f"{row['efficiency']:.1%}, R2 {row['r2']:.4f}, {row['points']} wells"
            )
    return rows, log
