"""Error budgets of log10 quantities: independent components, their sum, degrees of freedom.

A log10 quantity (a quantity, a ratio to the reference gene, a fold) is written as its value
plus a linear combination of independent, zero-mean error components. A *budget* maps each
component to its *loading* (coefficient x SD, in log10 units) and the degrees of freedom of
the SD's estimate::

    {"curve/EXPR01/GUS#level": (0.012, 6.0), "rep/EXPR01/GUS#P01pos": (-0.009, 14.0), ...}

Keys are ``source#term``. A *source* is one variance estimate (a curve's residual variance
with n - 2 df, a plate's pooled replicate variance with its pooled df, the RT variance, a
between-plate variance); its terms are the independent errors scaled by it (a curve's level
and slope, one term per sample for the replicates). Because the keys name the physical error,
linear operations are exact: when both fractions are read off the same curve, their ``level``
terms have the same key and cancel in the fold, and their ``slope`` terms subtract, leaving
the slope error times the difference of the two log10 quantities; curves of other plates have
other keys and stay independent.

* variance = sum over keys of loading^2;
* degrees of freedom: Welch-Satterthwaite over sources,
  ``df = V^2 / sum_s (V_s^2 / df_s)`` with ``V_s`` the variance a source contributes
  (``df_s = inf`` contributes nothing to the denominator);
* intervals ``10^(x +- t_{df, 1-a/2} * sqrt(V))`` with the Student t quantile (pure Python:
  the per-patient steps import neither numpy nor scipy).

Serialised (``log10_budget`` column) as ``key=loading@df`` joined by ``;`` (``df`` ``inf``
allowed); names inside keys have ``;=@#`` replaced by ``_``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

#: key -> (loading in log10 units, degrees of freedom of its SD)
Budget = dict[str, tuple[float, float]]

_UNSAFE = str.maketrans({c: "_" for c in ";=@#"})


def key(source: str, term: str) -> str:
    """A component key ``source#term`` (characters ``;=@#`` in the names become ``_``)."""
    return f"{source.translate(_UNSAFE)}#{term.translate(_UNSAFE)}"


def component(source: str, term: str, loading: float, df: float) -> Budget:
    """A budget of one component (``loading`` = coefficient x SD, log10 units)."""
    return {key(source, term): (float(loading), float(df))}


def combine(terms: Iterable[tuple[float, Mapping[str, tuple[float, float]]]]) -> Budget:
    """The budget of ``sum_i c_i * X_i`` from ``(c_i, budget of X_i)`` pairs: loadings of
    the same key add (shared errors), other keys stay apart. Zero loadings are dropped."""
    out: dict[str, list[float]] = {}
    for coef, budget in terms:
        for k, (loading, df) in budget.items():
            if k in out:
                out[k][0] += coef * loading
            else:
                out[k] = [coef * loading, df]
    return {k: (v[0], v[1]) for k, v in sorted(out.items()) if v[0] != 0.0}


def variance(budget: Mapping[str, tuple[float, float]]) -> float:
    """Variance (log10 units squared): the sum of squared net loadings."""
    return math.fsum(loading**2 for loading, _ in budget.values())


def source_of(k: str) -> str:
    """The source part of a key ``source#term``."""
    return k.split("#", 1)[0]


def welch_satterthwaite(variances: Sequence[float], dfs: Sequence[float]) -> float:
    """Effective degrees of freedom of a sum of independent variance estimates.

    ``(sum V_i)^2 / sum(V_i^2 / df_i)``; a term with ``df = inf`` adds nothing to the
    denominator; ``inf`` when the denominator is 0 (all known), NaN when the sum is 0.
    """
    total = math.fsum(variances)
    if not total > 0:
        return math.nan
    denom = math.fsum(v**2 / d for v, d in zip(variances, dfs, strict=True) if math.isfinite(d))
    return math.inf if denom == 0 else total**2 / denom


def budget_df(budget: Mapping[str, tuple[float, float]]) -> float:
    """Welch-Satterthwaite df of a budget, components of one source pooled first."""
    by_source: dict[str, list[float]] = {}
    for k, (loading, df) in budget.items():
        entry = by_source.setdefault(source_of(k), [0.0, df])
        entry[0] += loading**2
        entry[1] = min(entry[1], df)
    return welch_satterthwaite(
        [v[0] for v in by_source.values()], [v[1] for v in by_source.values()]
    )


def to_text(budget: Mapping[str, tuple[float, float]]) -> str:
    """Serialise a budget: ``key=loading@df;...`` (``%.6g``)."""
    return ";".join(
        f"{k}={loading:.6g}@{'inf' if math.isinf(df) else f'{df:.6g}'}"
        for k, (loading, df) in sorted(budget.items())
    )


def from_text(text: str) -> Budget:
    """Parse :func:`to_text` output (an empty or missing cell is an empty budget)."""
    out: Budget = {}
    if not isinstance(text, str):
        return out
    for part in text.split(";"):
        if not part.strip():
            continue
        k, rest = part.rsplit("=", 1)
        loading, df = rest.split("@")
        out[k] = (float(loading), float(df))
    return out


# --- Student t quantile, pure Python -----------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student t distribution function (``df = inf``: the normal)."""
    if math.isinf(df):
        return 0.5 * math.erfc(-t / math.sqrt(2.0))
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """Student t quantile for probability ``p`` (0 < p < 1) and ``df`` > 0 (may be inf).

    Bisection on :func:`t_cdf` to 1e-12; NaN for a missing or non-positive ``df``.
    """
    from statistics import NormalDist

    if not (df > 0) or not 0.0 < p < 1.0:
        return math.nan
    z = NormalDist().inv_cdf(p)
    if math.isinf(df) or df > 1e7:
        return z
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, max(1.0, z)
    while t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * max(1.0, high):
            break
    return 0.5 * (low + high)


def interval(
    log10_value: float, budget: Mapping[str, tuple[float, float]], level: float
) -> tuple[float, float, float, float]:
    """``(low, high, se, df)`` of ``10**log10_value``: a two-sided t interval at ``level``.

    An empty budget (no error known) gives NaN bounds and SE.
    """
    var = variance(budget)
    if not (math.isfinite(log10_value) and var > 0):
        return math.nan, math.nan, math.nan, math.nan
    se = math.sqrt(var)
    df = budget_df(budget)
    t = t_quantile(0.5 + level / 2.0, df)
    return 10.0 ** (log10_value - t * se), 10.0 ** (log10_value + t * se), se, df


# --- estimates ---------------------------------------------------------------------------


def pooled_sd(groups: Iterable[Sequence[float]]) -> tuple[float, float]:
    """Pooled within-group SD and its df from replicate groups (values in cycles).

    ``s_p^2 = sum_g sum_i (y_gi - ybar_g)^2 / sum_g (n_g - 1)``, df = ``sum_g (n_g - 1)``;
    groups of one well add nothing. ``(nan, 0)`` when no group has two values.
    """
    ss, df = 0.0, 0
    for group in groups:
        values = [float(v) for v in group]
        if len(values) < 2:
            continue
        mean = math.fsum(values) / len(values)
        ss += math.fsum((v - mean) ** 2 for v in values)
        df += len(values) - 1
    if df == 0:
        return math.nan, 0
    return math.sqrt(ss / df), df


def random_effects(
    values: Sequence[float], variances: Sequence[float]
) -> dict[str, float | list[float]]:
    """DerSimonian-Laird random-effects combination of independent estimates.

    ``values`` (e.g. log10 ratios of one fraction on several plates) with their within-plate
    ``variances``. Fixed weights ``w_i = 1/v_i``; ``Q = sum w_i (y_i - ybar_w)^2``;
    ``tau2 = max(0, (Q - (m - 1)) / (sum w - sum w^2 / sum w))``; random weights
    ``1/(v_i + tau2)``, normalised to ``weights`` (sum 1); ``I2 = max(0, (Q - (m-1)) / Q)``.
    Returns ``mean, variance (= 1 / sum of random weights), tau2, q, i2, weights``.
    """
    m = len(values)
    w = [1.0 / v for v in variances]
    sw = math.fsum(w)
    ybar = math.fsum(wi * y for wi, y in zip(w, values, strict=True)) / sw
    q = math.fsum(wi * (y - ybar) ** 2 for wi, y in zip(w, values, strict=True))
    c = sw - math.fsum(wi**2 for wi in w) / sw
    tau2 = max(0.0, (q - (m - 1)) / c) if m > 1 and c > 0 else 0.0
    wr = [1.0 / (v + tau2) for v in variances]
    swr = math.fsum(wr)
    mean = math.fsum(wi * y for wi, y in zip(wr, values, strict=True)) / swr
    i2 = max(0.0, (q - (m - 1)) / q) if q > 0 else 0.0
    return {
        "mean": mean,
        "variance": 1.0 / swr,
        "tau2": tau2,
        "q": q,
        "i2": i2,
        "weights": [wi / swr for wi in wr],
    }


__all__ = [
    "Budget",
    "budget_df",
    "combine",
    "component",
    "from_text",
    "interval",
    "key",
    "pooled_sd",
    "random_effects",
    "t_quantile",
    "to_text",
    "variance",
    "welch_satterthwaite",
]
