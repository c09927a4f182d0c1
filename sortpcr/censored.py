"""Statistics on censored values: bounds (``<`` at most, ``>`` at least) instead of numbers.

A value below the lowest standard or undetected is not missing: its true value lies below a
known bound, and these are the most extreme folds, so dropping them biases every cohort test
(informative censoring). Here a censored value is a pair (bound, censor) with censor ``"<"``
(true value <= bound), ``">"`` (true value >= bound) or ``""`` (the value itself).

* :func:`censor_of` reads a censor cell; :func:`fold_censor` derives the censor of a fold
  CD34pos / CD34neg from its two fractions' censors.
* :func:`sign_test`: exact two-sided sign test; a censored difference counts with its sign
  when the bound decides it (d <= b < 0 is negative, d >= b > 0 positive).
* :func:`tobit_mean`: maximum-likelihood mean and SD of normally distributed values with
  left/right censoring (Tobit), and the likelihood-ratio test of mean 0 (chi-square, 1 df).
* :func:`gehan_test`: Gehan's generalisation of the Wilcoxon-Mann-Whitney test for two
  samples with censoring, with Mantel's permutation variance (normal approximation).
* :func:`censored_summary`: median, minimum and maximum, each marked as a bound when a
  censored value decides it.

All functions are pure, on sequences of floats and censor strings; log2 or any other scale
is the caller's choice (the functions never transform).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

CENSORS = ("", "<", ">")


def censor_of(value: Any) -> str:
    """A censor cell as ``""``, ``"<"`` or ``">"`` (missing or unknown text -> ``""``).

    Accepts the symbols and the words ``below``/``above``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value).strip()
    return {"<": "<", ">": ">", "<=": "<", ">=": ">", "below": "<", "above": ">"}.get(text, "")


def fold_censor(pos_censor: str, neg_censor: str) -> str | None:
    """Censor of the ratio pos / neg from the censors of its parts.

    ``""`` when both are values; ``"<"`` when the ratio is at most its bound (pos at most,
    or neg at least); ``">"`` when at least; ``None`` when the ratio is not bounded (both
    parts bounded the same way, e.g. both undetected)."""
    upper = {("<", ""), ("", ">"), ("<", ">")}
    lower = {(">", ""), ("", "<"), (">", "<")}
    key = (pos_censor, neg_censor)
    if key == ("", ""):
        return ""
    if key in upper:
        return "<"
    if key in lower:
        return ">"
    return None


def known_sign(value: float, censor: str) -> int:
    """+1 / -1 when the sign of the true value is known, else 0 (zero counts as unknown)."""
    value = float(value)
    if not math.isfinite(value):
        return 0
    if censor == "":
        return int(value > 0) - int(value < 0)
    if censor == "<" and value < 0:
        return -1
    if censor == ">" and value > 0:
        return 1
    return 0


def sign_test(values: Sequence[float], censors: Sequence[str]) -> dict[str, float]:
    """Exact two-sided sign test of median 0 on (possibly censored) differences.

    Returns ``n_pos``, ``n_neg`` (differences whose sign is known, censored or not),
    ``n_unknown`` (zero, or censored on the side that leaves the sign open) and ``p``
    (binomial, p = 0.5; NaN when no sign is known)."""
    signs = [known_sign(v, c) for v, c in zip(values, censors, strict=True)]
    n_pos, n_neg = signs.count(1), signs.count(-1)
    out = {"n_pos": n_pos, "n_neg": n_neg, "n_unknown": signs.count(0), "p": math.nan}
    if n_pos + n_neg:
        from scipy.stats import binomtest

        out["p"] = float(binomtest(n_pos, n_pos + n_neg, 0.5).pvalue)
    return out


def _tobit_loglik(mean: float, sd: float, values, below, above, exact) -> float:
    """Censored-normal log likelihood; ``values`` an array, the rest boolean masks."""
    import numpy as np
    from scipy.special import log_ndtr

    z = (values - mean) / sd
    return float(
        np.sum(-0.5 * z[exact] ** 2 - 0.5 * math.log(2 * math.pi) - math.log(sd))
        + np.sum(log_ndtr(z[below]))
        + np.sum(log_ndtr(-z[above]))
    )


def tobit_mean(values: Sequence[float], censors: Sequence[str]) -> dict[str, float]:
    """Maximum-likelihood mean and SD of a normal sample with censored values (Tobit).

    Values with censor ``""`` contribute the density, ``"<"`` the probability of being at
    most the bound, ``">"`` of being at least. The test of mean 0 is the likelihood ratio
    2 (l(mean, sd) - l(0, sd0)) against chi-square with 1 df (asymptotic: read it beside the
    other tests with few patients). Without censoring the estimates are the sample mean, the
    SD with divisor n, and LR = n ln(mean(x^2) / var_n(x)).

    Returns ``mean``, ``sd``, ``lr``, ``p``; all NaN when fewer than two uncensored values
    differ (the SD is then not identified)."""
    from scipy.optimize import minimize, minimize_scalar
    from scipy.stats import chi2

    nan = {"mean": math.nan, "sd": math.nan, "lr": math.nan, "p": math.nan}
    pairs = [(v, c) for v, c in zip(values, censors, strict=True) if math.isfinite(v)]
    observed = [v for v, c in pairs if c == ""]
    if len(set(observed)) < 2:
        return nan
    import numpy as np

    xs = np.array([v for v, _ in pairs], dtype=float)
    cs = np.array([c for _, c in pairs], dtype=object)
    masks = (xs, cs == "<", cs == ">", cs == "")
    mean0 = float(xs.mean())
    sd0 = float(xs.std()) or 1.0

    def full(theta):
        return -_tobit_loglik(theta[0], math.exp(theta[1]), *masks)

    fit = minimize(full, [mean0, math.log(sd0)], method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000})  # fmt: skip
    null = minimize_scalar(lambda s: -_tobit_loglik(0.0, math.exp(s), *masks),
                           bounds=(math.log(sd0) - 12, math.log(sd0) + 12), method="bounded",
                           options={"xatol": 1e-10})  # fmt: skip
    mean, sd = float(fit.x[0]), math.exp(float(fit.x[1]))
    if not (fit.success and math.isfinite(mean) and abs(mean) < 1e6):
        return nan
    lr = max(0.0, 2.0 * (float(null.fun) - float(fit.fun)))
    return {"mean": mean, "sd": sd, "lr": lr, "p": float(chi2.sf(lr, 1))}


def _interval(value: float, censor: str) -> tuple[float, float]:
    if censor == "<":
        return -math.inf, value
    if censor == ">":
        return value, math.inf
    return value, value


def gehan_scores(values: Sequence[float], censors: Sequence[str]) -> list[int]:
    """Per value: how many others it is surely above minus how many it is surely below.

    Value i is surely above j when i's lowest possible value exceeds j's highest (a value
    ``"<" b`` spans (-inf, b], ``">" b`` spans [b, inf), an uncensored value is a point)."""
    spans = [_interval(v, c) for v, c in zip(values, censors, strict=True)]
    scores = []
    for low_i, high_i in spans:
        above = sum(1 for _, high_j in spans if low_i > high_j)
        below = sum(1 for low_j, _ in spans if high_i < low_j)
        scores.append(above - below)
    return scores


def gehan_test(
    a: Sequence[float], a_censors: Sequence[str], b: Sequence[float], b_censors: Sequence[str]
) -> dict[str, float]:
    """Gehan's two-sample test (a generalised Wilcoxon-Mann-Whitney) with censored values.

    Statistic G = sum over pairs (i in a, j in b) of +1 when a_i is surely above b_j, -1 when
    surely below, 0 when their order is open; equivalently the sum of the a values'
    :func:`gehan_scores` in the pooled sample (Mantel). Permutation variance
    n_a n_b / (n (n - 1)) * sum of squared pooled scores; z = G / sqrt(variance); two-sided
    normal p. Without censoring or ties G = 2U - n_a n_b, U the Mann-Whitney statistic of a,
    and the test is Mann-Whitney's normal approximation without continuity correction.

    Returns ``g``, ``z``, ``p`` (NaN when a group is empty or every score is zero)."""
    from scipy.stats import norm

    n_a, n_b = len(a), len(b)
    out = {"g": math.nan, "z": math.nan, "p": math.nan}
    if not n_a or not n_b:
        return out
    scores = gehan_scores([*a, *b], [*a_censors, *b_censors])
    n = n_a + n_b
    g = float(sum(scores[:n_a]))
    variance = n_a * n_b / (n * (n - 1)) * sum(s * s for s in scores)
    out["g"] = g
    if variance > 0:
        z = g / math.sqrt(variance)
        out.update(z=z, p=float(2 * norm.sf(abs(z))))
    return out


def censored_summary(values: Sequence[float], censors: Sequence[str]) -> dict[str, Any]:
    """Median, minimum and maximum of values some of which are bounds.

    Each statistic is computed twice, with every censored value at its bound and with it
    pushed to the far end it allows (-inf for ``"<"``, +inf for ``">"``); where the two
    differ the statistic is itself a bound, marked ``"<"`` (at most) or ``">"`` (at least)
    in ``*_censor`` (``"?"`` when open both ways), and the number given is the one at the
    bound. Keys: ``n``,
    ``n_censored``, ``median``, ``median_censor``, ``min``, ``min_censor``, ``max``,
    ``max_censor``; numbers NaN when there is no value."""
    import numpy as np

    pairs = [(v, c) for v, c in zip(values, censors, strict=True) if math.isfinite(v)]
    out: dict[str, Any] = {"n": len(pairs), "n_censored": sum(1 for _, c in pairs if c)}
    at_bound = np.array([v for v, _ in pairs], dtype=float)
    down = np.array([-math.inf if c == "<" else v for v, c in pairs], dtype=float)
    up = np.array([math.inf if c == ">" else v for v, c in pairs], dtype=float)
    for name, func in (("median", np.median), ("min", np.min), ("max", np.max)):
        if not len(pairs):
            out[name], out[f"{name}_censor"] = math.nan, ""
            continue
        bound = float(func(at_bound))
        lower, higher = float(func(down)) < bound, float(func(up)) > bound
        out[name] = bound
        out[f"{name}_censor"] = {(True, False): "<", (False, True): ">", (True, True): "?"}.get(
            (lower, higher), ""
        )
    return out
