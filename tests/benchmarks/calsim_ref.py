"""A reference analysis of the simulated plates, independent of sortpcr's uncertainty code.

What the calibration benchmark compares the pipeline with: an analysis from the wells
alone, written out here in a few lines so that the benchmark can tell a shortfall of the
simulation (nothing could reach the target) from a shortfall of the pipeline.

Per plate and target: OLS of Ct on log10 nominal quantity over the standard wells used;
every replicate group keeps the wells within ``outlier_ct`` cycles of its earliest well, since
a discordant well is far more often late than early. The replicate variance is pooled over
every replicate group of the target on the plate (standards and unknowns; degrees of freedom =
sum of n - 1). Curves pass the shipped acceptance (efficiency 0.90-1.10, R2 >= 0.98, three levels).

Per gene, the log10 fold is ``dCt_target / b_target`` minus the mean over the m reference
genes of ``dCt_ref / b_ref`` (their geometric mean), with ``dCt`` = mean Ct of CD34+ minus
mean Ct of CD34- and ``b`` the slope: the intercept cancels (shared curve). Its variance by
the delta method, per target: ``(s2/k_pos + s2/k_neg) / b**2 + dCt**2 * var(b) / b**4``
(``s2`` pooled replicate variance, ``var(b) = s_res**2 / Sxx``), each reference's term
divided by m**2, plus ``2 * (1 + 1/m) * (rt_sd_log2 * log10(2))**2`` for RT variation of the
target and the references in both fractions.
The interval uses a t quantile with Welch-Satterthwaite degrees of freedom (RT term: infinite).
A patient measured on a second plate is analysed from the first one only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from calsim import FRACTIONS, Plate

EFFICIENCY = (0.90, 1.10)
R2_MIN = 0.98


def _used_cts(cts: list[float], outlier_ct: float) -> list[float]:
    """The Ct values of one replicate group that the reference analysis uses: the wells
    within ``outlier_ct`` cycles of the earliest well (a discordant well is far more often
    late than early)."""
    cts = [c for c in cts if not math.isnan(c)]
    if not cts:
        return cts
    first = min(cts)
    return [c for c in cts if c - first <= outlier_ct]


def _fit(plate: Plate, target: str, outlier_ct: float) -> dict[str, Any] | None:
    """Curve, pooled replicate variance and group means of one target on one plate."""
    groups: dict[str, list[float]] = {}
    levels: dict[str, float] = {}
    for w in plate.wells:
        if w["target"] != target or w["role"] not in ("standard", "unknown"):
            continue
        groups.setdefault(w["replicate_group"], []).append(float(w["ct"]))
        if w["role"] == "standard":
            levels[w["replicate_group"]] = float(w["quantity"])
    used = {key: _used_cts(cts, outlier_ct) for key, cts in groups.items()}
    xs, ys = [], []
    for key, q in levels.items():
        xs += [math.log10(q)] * len(used[key])
        ys += used[key]
    if len({x for x in xs}) < 3:
        return None
    n = len(xs)
    xm, ym = sum(xs) / n, sum(ys) / n
    sxx = sum((x - xm) ** 2 for x in xs)
    slope = sum((x - xm) * (y - ym) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = ym - slope * xm
    sse = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    syy = sum((y - ym) ** 2 for y in ys)
    efficiency = 10 ** (-1 / slope) - 1 if slope < 0 else math.nan
    if not (EFFICIENCY[0] <= efficiency <= EFFICIENCY[1]) or 1 - sse / syy < R2_MIN or n < 3:
        return None
    ss = sum(sum((c - sum(cts) / len(cts)) ** 2 for c in cts) for cts in used.values() if cts)
    df = sum(len(cts) - 1 for cts in used.values() if cts)
    return {
        "slope": slope,
        "var_slope": sse / (n - 2) / sxx,
        "df_curve": n - 2,
        "s2": ss / df if df else math.nan,
        "df_rep": df,
        "means": {key: (sum(c) / len(c), len(c)) for key, c in used.items() if c},
    }


def _t_quantile(df: float, level: float) -> float:
    from scipy.special import stdtrit

    return float(stdtrit(df, 0.5 + level / 2)) if math.isfinite(df) else 1.959963984540054


def reference_calls(
    plates: Iterable[Plate],
    genes: tuple[str, ...],
    references: tuple[str, ...],
    rt_sd_log2: float,
    outlier_ct: float = 1.0,
    threshold: float = 2.0,
    level: float = 0.95,
) -> list[dict[str, Any]]:
    """Call rows (``patient, gene, call, fold, fold_low, fold_high, ci_crosses_threshold,
    flags``) of the reference analysis, one per patient and gene."""
    from sortpcr.classify import call_fold

    m = len(references)
    rt_var = 2 * (1 + 1 / m) * (rt_sd_log2 * math.log10(2.0)) ** 2
    rows = []
    for plate in plates:
        if plate.repeat:  # a second plate of a patient: the reference uses the first only
            continue
        fits = {t: _fit(plate, t, outlier_ct) for t in (*genes, *references)}
        for patient in plate.patients:
            for gene in genes:
                out = {"patient": patient, "gene": gene, "call": "not_evaluable", "flags": ""}
                rows.append(out)
                log10_fold, var, pieces = 0.0, rt_var, []
                for t, weight in ((gene, 1.0), *((r, -1.0 / m) for r in references)):
                    fit = fits[t]
                    if fit is None:
                        break
                    pos = fit["means"].get(f"{t}|{patient}{FRACTIONS['CD34pos']}")
                    neg = fit["means"].get(f"{t}|{patient}{FRACTIONS['CD34neg']}")
                    if pos is None or neg is None:
                        break
                    b, dct = fit["slope"], pos[0] - neg[0]
                    log10_fold += weight * dct / b
                    rep = weight**2 * fit["s2"] * (1 / pos[1] + 1 / neg[1]) / b**2
                    curve = weight**2 * dct**2 * fit["var_slope"] / b**4
                    var += rep + curve
                    pieces += [(rep, fit["df_rep"]), (curve, fit["df_curve"])]
                else:
                    den = sum(v**2 / d for v, d in pieces if d > 0 and v > 0)
                    df = var**2 / den if den > 0 else math.inf
                    half = _t_quantile(df, level) * math.sqrt(var)
                    low, high = 10 ** (log10_fold - half), 10 ** (log10_fold + half)
                    out.update(
                        call=call_fold(10**log10_fold, threshold),
                        fold=10**log10_fold,
                        fold_low=low,
                        fold_high=high,
                        ci_crosses_threshold=call_fold(low, threshold)
                        != call_fold(high, threshold),
                    )
    return rows


def evaluate_reference(
    plates: list[Plate],
    truth: Mapping[tuple[str, str], Mapping[str, Any]],
    genes: tuple[str, ...],
    references: tuple[str, ...],
    rt_sd_log2: float,
) -> dict[str, Any]:
    """Figures of the reference analysis (same subsets as :func:`calsim.evaluate`)."""
    from calsim import judge, subsets

    rows = reference_calls(plates, genes, references, rt_sd_log2)
    judged = [judge(row, truth[(row["patient"], row["gene"])]) for row in rows]
    return {"rt_sd_log2": rt_sd_log2, "analysis": "reference", **subsets(judged)}
