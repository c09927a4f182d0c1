"""Between-lineage comparison per gene and fraction (``lineage.tsv``).

The study's only significance claim: MDR1 expression higher in T-ALL than in BCP-ALL (T-ALL
CD34+ median 60.4 AU, range 13.2-2384.0; CD34- 117.2, 6.3-967.2; BCP-ALL 2.7, 0.16-15.3 and
3.6, 0.06-26.4). Per gene, fraction (CD34pos, CD34neg) and pair of lineages (``a``, ``b``:
the first two of ``lineage_order`` present, then any others, every pair once):

* ``n_a``, ``n_b`` patients with a value (AU relative to IM-9; excluded patients left out),
  ``n_censored_a/_b`` of them bounds (``cd34pos_censor``/``cd34neg_censor`` of the calls);
* ``median_a``, ``min_a``, ``max_a`` (and ``_b``) as the study reports them, each with a
  ``*_censor`` mark when a bound decides it (:func:`sortpcr.censored.censored_summary`);
* Mann-Whitney U of lineage a (``u_a``; censored values at their bound), two-sided
  ``p_mann_whitney``: exact when there are no ties, else the normal approximation with
  continuity and tie corrections; ``prob_a_higher`` = U_a / (n_a n_b), the probability that
  a random patient of a has the higher value (ties half);
* Welch's t on log2 values (``welch_t``, ``welch_df``, ``p_welch_log2``; bounds at the
  bound) and ``log2_ratio_means`` = mean log2 a - mean log2 b;
* Gehan's censoring-aware generalisation of the Mann-Whitney test (``p_gehan``), which uses
  a bound only where it decides the order; equal to the Mann-Whitney normal approximation
  without continuity correction when nothing is censored;
* Benjamini-Hochberg over the genes within each fraction and lineage pair (``*_bh``);
* ``higher``: the lineage with the higher values (prob_a_higher above or below 0.5; empty
  at exactly 0.5).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from sortpcr.censored import censor_of, censored_summary, gehan_test

FRACTIONS = (("CD34pos", "cd34pos"), ("CD34neg", "cd34neg"))
LINEAGE_COLUMNS = [
    "gene",
    "fraction",
    "lineage_a",
    "lineage_b",
    "n_a",
    "n_b",
    "n_censored_a",
    "n_censored_b",
    "median_a",
    "median_a_censor",
    "min_a",
    "min_a_censor",
    "max_a",
    "max_a_censor",
    "median_b",
    "median_b_censor",
    "min_b",
    "min_b_censor",
    "max_b",
    "max_b_censor",
    "higher",
    "prob_a_higher",
    "u_a",
    "p_mann_whitney",
    "p_mann_whitney_bh",
    "log2_ratio_means",
    "welch_t",
    "welch_df",
    "p_welch_log2",
    "p_welch_log2_bh",
    "p_gehan",
    "method",
]


def fraction_values(
    calls: pd.DataFrame, gene: str, lineage: str, fraction_column: str
) -> tuple[list[float], list[str]]:
    """Values (AU) and censors of one gene and fraction in one lineage, patient order.

    A value enters when it is a positive number; its censor comes from
    ``<fraction_column>_censor`` (absent column: nothing censored)."""
    part = calls[(calls["gene"] == gene) & (calls["lineage"].astype(str) == lineage)]
    part = part.sort_values("patient", kind="mergesort")
    values = pd.to_numeric(part[fraction_column], errors="coerce")
    censor_column = f"{fraction_column}_censor"
    censors = (
        part[censor_column].map(censor_of)
        if censor_column in part
        else pd.Series("", index=part.index)
    )
    keep = values > 0
    return list(values[keep].astype(float)), list(censors[keep])


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """Two-sided Mann-Whitney U of ``a``: exact without ties, else normal approximation
    (continuity and tie corrected). ``prob_a_higher`` = U_a / (n_a n_b)."""
    out = {"u_a": math.nan, "p": math.nan, "prob_a_higher": math.nan}
    if not len(a) or not len(b):
        return out
    from scipy.stats import mannwhitneyu

    tied = len(set(a) | set(b)) < len(a) + len(b)
    result = mannwhitneyu(a, b, alternative="two-sided", method="asymptotic" if tied else "exact")
    u = float(result.statistic)
    return {"u_a": u, "p": float(result.pvalue), "prob_a_higher": u / (len(a) * len(b))}


def welch_log2(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """Welch's unequal-variance t-test on log2 values: t, Welch-Satterthwaite df, p, and the
    difference of the log2 means (a - b). NaN with fewer than two values in a group."""
    la, lb = np.log2(np.asarray(a, float)), np.log2(np.asarray(b, float))
    out = {"t": math.nan, "df": math.nan, "p": math.nan, "diff": math.nan}
    if len(la) and len(lb):
        out["diff"] = float(la.mean() - lb.mean())
    if len(la) < 2 or len(lb) < 2:
        return out
    if la.var(ddof=1) + lb.var(ddof=1) == 0:  # no spread at all: no test
        return out
    from scipy.stats import ttest_ind

    result = ttest_ind(la, lb, equal_var=False)
    return dict(out, t=float(result.statistic), df=float(result.df), p=float(result.pvalue))


def lineage_comparison(
    calls: pd.DataFrame,
    groups: pd.DataFrame,
    genes: Sequence[str],
    lineage_order: Sequence[str] = ("BCP", "T"),
) -> pd.DataFrame:
    """The between-lineage table (module docstring), from the cohort calls and groups."""
    from sortpcr.cohort import benjamini_hochberg

    excluded = set(groups.loc[groups["group"] == "excluded", "patient"].astype(str))
    kept = calls[~calls["patient"].astype(str).isin(excluded)]
    present = set(kept["lineage"].astype(str)) - {""}
    lineages = [x for x in lineage_order if x in present] + sorted(present - set(lineage_order))
    rows: list[dict[str, Any]] = []
    for lineage_a, lineage_b in combinations(lineages, 2):
        for fraction, column in FRACTIONS:
            block = []
            for gene in genes:
                a, ca = fraction_values(kept, gene, lineage_a, column)
                b, cb = fraction_values(kept, gene, lineage_b, column)
                row: dict[str, Any] = {
                    "gene": gene,
                    "fraction": fraction,
                    "lineage_a": lineage_a,
                    "lineage_b": lineage_b,
                    "n_a": len(a),
                    "n_b": len(b),
                }
                for side, values, censors in (("a", a, ca), ("b", b, cb)):
                    summary = censored_summary(values, censors)
                    row[f"n_censored_{side}"] = summary["n_censored"]
                    for stat in ("median", "min", "max"):
                        row[f"{stat}_{side}"] = summary[stat]
                        row[f"{stat}_{side}_censor"] = summary[f"{stat}_censor"]
                mw = mann_whitney(a, b)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    welch = welch_log2(a, b)
                la = [math.log2(v) for v in a]
                lb = [math.log2(v) for v in b]
                gehan = gehan_test(la, ca, lb, cb)
                prob = mw["prob_a_higher"]
                row.update(
                    higher=lineage_a if prob > 0.5 else lineage_b if prob < 0.5 else "",
                    prob_a_higher=prob,
                    u_a=mw["u_a"],
                    p_mann_whitney=mw["p"],
                    log2_ratio_means=welch["diff"],
                    welch_t=welch["t"],
                    welch_df=welch["df"],
                    p_welch_log2=welch["p"],
                    p_gehan=gehan["p"],
                    method=_method(row),
                )
                block.append(row)
            for column_p in ("p_mann_whitney", "p_welch_log2"):
                adjusted = benjamini_hochberg([r[column_p] for r in block])
                for r, value in zip(block, adjusted, strict=True):
                    r[f"{column_p}_bh"] = value
            rows.extend(block)
    return pd.DataFrame(rows, columns=LINEAGE_COLUMNS)


def _method(row: dict[str, Any]) -> str:
    censored = row["n_censored_a"] + row["n_censored_b"]
    base = "Mann-Whitney (exact without ties), Welch t on log2, Gehan; BH over genes"
    if not censored:
        return base
    return f"{base}; {censored} bound(s) at their bound in Mann-Whitney and Welch, Gehan uses them"
