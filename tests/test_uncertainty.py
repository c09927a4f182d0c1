"""Error budgets, pooled variance, Welch-Satterthwaite, random effects and the fold's shared
curve, each against a hand-worked answer."""

from __future__ import annotations

import math

import pytest

from sortpcr.qpcr.curves import fit_curves
from sortpcr.qpcr.quantify import quantify
from sortpcr.uncertainty import (
    budget_df,
    combine,
    component,
    from_text,
    interval,
    pooled_sd,
    random_effects,
    t_quantile,
    to_text,
    variance,
    welch_satterthwaite,
)
from tests.conftest import classify_settings, normalise_settings, qpcr_settings

SETTINGS = qpcr_settings()


def wells_of(standards, unknowns, plate="P1", target="GUS"):
    """Dict rows: standards [(quantity, Ct)], unknowns {sample: [Ct, ...]}, one NTC."""
    rows = []

    def add(role, sample, ct, quantity=math.nan):
        rows.append(
            {"plate": plate, "well": f"W{len(rows) + 1:02d}", "target": target,
             "sample": sample, "role": role, "replicate_group": "", "ct": ct,
             "quantity": quantity, "unit": "relative", "fluor": "FAM"}
        )  # fmt: skip

    for quantity, ct in standards:
        add("standard", "IM9", ct, quantity)
    for sample, cts in unknowns.items():
        for ct in cts:
            add("unknown", sample, ct)
    add("ntc", "NTC", math.nan)
    return rows


def test_t_quantiles_from_the_table():
    assert t_quantile(0.975, 1) == pytest.approx(12.706205, abs=1e-6)
    assert t_quantile(0.975, 2) == pytest.approx(4.302653, abs=1e-6)
    assert t_quantile(0.975, 10) == pytest.approx(2.228139, abs=1e-6)
    assert t_quantile(0.975, 2.5) == pytest.approx(3.574655, abs=1e-6)  # scipy's stdtrit
    assert t_quantile(0.975, math.inf) == pytest.approx(1.959964, abs=1e-6)
    assert t_quantile(0.025, 10) == pytest.approx(-2.228139, abs=1e-6)
    assert math.isnan(t_quantile(0.975, 0))


def test_pooled_variance_by_hand():
    # group 1: 1.0, 1.2 -> SS 0.02 (1 df); group 2: 2.0, 2.3, 2.1 -> mean 2.1333,
    # SS 0.017778 + 0.027778 + 0.001111 = 0.046667 (2 df); a single well adds nothing
    # pooled variance 0.066667 / 3 = 0.022222 -> SD 0.149071, 3 df
    sd, df = pooled_sd([[1.0, 1.2], [2.0, 2.3, 2.1], [5.0]])
    assert sd == pytest.approx(0.1490712, abs=1e-7) and df == 3
    assert pooled_sd([[1.0], []]) == (pytest.approx(math.nan, nan_ok=True), 0)


def test_welch_satterthwaite_by_hand():
    # (0.04 + 0.01)^2 / (0.04^2 / 4 + 0.01^2 / 9) = 0.0025 / 0.00041111 = 6.081081
    assert welch_satterthwaite([0.04, 0.01], [4, 9]) == pytest.approx(6.081081, abs=1e-6)
    assert welch_satterthwaite([0.04, 0.01], [math.inf, math.inf]) == math.inf
    # a known term (inf df) adds to the variance but not to the denominator:
    # 0.05^2 / (0.01^2 / 9) = 225
    assert welch_satterthwaite([0.04, 0.01], [math.inf, 9]) == pytest.approx(225.0)


def test_random_effects_by_hand():
    # values -1 and -0.5 with variances 0.01 and 0.04 (fixed weights 100, 25):
    # fixed mean -0.9, Q = 100 x 0.01 + 25 x 0.16 = 5, C = 125 - 10625/125 = 40,
    # tau2 = (5 - 1)/40 = 0.1, I2 = 4/5; random weights 1/0.11, 1/0.14 -> mean -0.78,
    # variance 1/16.233766 = 0.0616
    re = random_effects([-1.0, -0.5], [0.01, 0.04])
    assert re["q"] == pytest.approx(5.0)
    assert re["tau2"] == pytest.approx(0.1)
    assert re["i2"] == pytest.approx(0.8)
    assert re["mean"] == pytest.approx(-0.78)
    assert re["variance"] == pytest.approx(0.0616)
    assert sum(re["weights"]) == pytest.approx(1.0)
    # homogeneous values: tau2 = 0, the fixed-effect mean
    same = random_effects([-1.0, -1.02], [0.01, 0.04])
    assert same["tau2"] == 0.0 and same["mean"] == pytest.approx((-100 - 25 * 1.02) / 125)


def test_budgets_add_by_key_and_round_trip():
    a = combine([(1.0, component("curve/P1/T", "level", 0.03, 4)),
                 (1.0, component("rep/P1/T", "S1", 0.02, 10))])  # fmt: skip
    b = combine([(1.0, component("curve/P1/T", "level", 0.03, 4)),
                 (1.0, component("rep/P1/T", "S2", 0.04, 10))])  # fmt: skip
    diff = combine([(1.0, a), (-1.0, b)])
    assert set(diff) == {"rep/P1/T#S1", "rep/P1/T#S2"}  # the shared level cancels
    assert variance(diff) == pytest.approx(0.02**2 + 0.04**2)
    # one source (the pooled replicate variance, 10 df): df stays 10
    assert budget_df(diff) == pytest.approx(10.0)
    assert from_text(to_text(diff)) == diff
    assert from_text("") == {} and to_text({}) == ""
    inf = component("rt/P01/CD34pos/cDNA/GUS", "rt", 0.075, math.inf)
    assert from_text(to_text(inf)) == inf and "@inf" in to_text(inf)
    low, high, se, df = interval(0.0, diff, 0.95)
    assert se == pytest.approx(math.sqrt(0.002))
    assert high == pytest.approx(10 ** (2.228139 * math.sqrt(0.002)), rel=1e-6)


def test_fold_se_on_one_three_point_curve_by_hand():
    """Both fractions on one 3-point curve: the level error cancels in the fold, the slope
    error scales with their log10 difference, replicates come from the plate's pool.

    Curve: x = 0, 1, 2; Ct = 30 - 3.3 x + e, e = (0.1, -0.2, 0.1) (sums to 0, orthogonal to x):
    b = -3.3, ybar = 26.7, SSE = 0.06, s^2 = 0.06 (1 df), n = 3, Sxx = 2.
    CD34pos wells 25.0, 25.1 (mean 25.05 -> x = 1.5); CD34neg 26.55, 26.85 (mean 26.7 -> x = 1).
    Pool: SS 0.005 + 0.045 over 2 df -> s_p^2 = 0.025 (standards are single wells).
    var(log10 fold) = [s_p^2/2 + s_p^2/2 + (1.5 - 1)^2 s^2 / Sxx] / b^2
                    = [0.025 + 0.25 x 0.03] / 10.89 = 0.0325 / 10.89 -> SE 0.0546296
    (adding the two quantities' full SEs as independent would give
     [0.0125 + 0.02 + 0.0075 + 0.0125 + 0.02 + 0] / 10.89 -> SE 0.0713, the curve twice).
    df (Welch-Satterthwaite): 0.0325^2 / (0.025^2 / 2 + 0.0075^2 / 1) = 2.864407.
    """
    standards = [(1.0, 30.1), (10.0, 26.5), (100.0, 23.5)]
    wells = wells_of(standards, {"pos": [25.0, 25.1], "neg": [26.55, 26.85]})
    curves, _ = fit_curves(wells, SETTINGS)
    (curve,) = curves
    assert (curve["slope"], curve["residual_sd"] ** 2) == (pytest.approx(-3.3), pytest.approx(0.06))
    assert (curve["rep_sd"] ** 2, curve["rep_df"]) == (pytest.approx(0.025), 2)
    rows, _, _ = quantify(wells, curves, SETTINGS)
    q = {r["sample"]: r for r in rows}
    assert q["pos"]["log10_quantity"] == pytest.approx(1.5)
    assert q["neg"]["log10_quantity"] == pytest.approx(1.0)
    # each quantity on its own: s_p^2/k + s^2/n + s^2 (x - xbar)^2 / Sxx, over b^2
    assert q["pos"]["log10_quantity_se"] == pytest.approx(math.sqrt(0.0125 + 0.02 + 0.0075) / 3.3)
    fold = combine([(1.0, from_text(q["pos"]["log10_budget"])),
                    (-1.0, from_text(q["neg"]["log10_budget"]))])  # fmt: skip
    assert not any(k.endswith("#level") for k in fold)
    assert math.sqrt(variance(fold)) == pytest.approx(math.sqrt(0.0325 / 10.89), rel=1e-6)
    assert math.sqrt(variance(fold)) == pytest.approx(0.0546296, abs=1e-7)
    assert budget_df(fold) == pytest.approx(2.864407, abs=1e-6)


def test_fold_interval_through_normalise_and_classify_uses_the_shared_curve():
    """Target and GUS of both fractions on one plate: the fold's SE from the netted budget."""
    from sortpcr.classify import classify_patient
    from sortpcr.normalise import normalise_patient

    standards = [(1.0, 30.1), (10.0, 26.5), (100.0, 23.5)]
    mdr1 = wells_of(standards, {"pos": [25.0, 25.1], "neg": [26.55, 26.85]}, target="MDR1")
    gus = wells_of(standards, {"pos": [26.6, 26.8], "neg": [26.6, 26.8]}, target="GUS")
    wells = mdr1 + gus
    curves, _ = fit_curves(wells, SETTINGS)
    rows, _, _ = quantify(wells, curves, SETTINGS)
    pairs = []
    for r in rows:
        fraction = "CD34pos" if r["sample"] == "pos" else "CD34neg"
        pairs.append(dict(r, patient="P01", fraction=fraction, flow_status="pass",
                          presort_status="pass"))  # fmt: skip
    expression = normalise_patient(pairs, normalise_settings())
    calls = classify_patient(expression, "BCP", classify_settings(genes=["MDR1"]))
    (call,) = calls.calls
    # GUS is equal in both fractions (same wells): its replicate terms differ (two samples),
    # its level cancels and its slope term is 0 (same x). MDR1 as in the test above.
    # var = [0.025 + 0.0075 + (GUS: 0.02/2 + 0.02/2 with s_p^2 of GUS = 0.02)] / 10.89
    gus_pool = 0.02  # GUS pairs: SS 0.02 + 0.02 over 2 df
    var = (0.025 + 0.0075 + gus_pool) / 10.89
    assert call["fold"] == pytest.approx(10**0.5)
    assert call["fold_se_log10"] == pytest.approx(math.sqrt(var), rel=1e-6)
    t = t_quantile(0.975, call["df"])
    assert call["fold_high"] == pytest.approx(10 ** (0.5 + t * math.sqrt(var)), rel=1e-6)
