"""Standard curves: hand-worked fits, acceptance rules, and Bio-Rad's pooled curve reproduced."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sortpcr.qpcr.curves import (
    CURVE_COLUMNS,
    efficiency_from_slope,
    fit_curves,
    fit_line,
    pooled_fit,
)
from sortpcr.qpcr.readers import read_plate, read_plate_records
from tests.conftest import qpcr_settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
QPCR = SHARED / "qpcr"

SETTINGS = qpcr_settings()  # the shipped defaults of config/config.yaml


def standards(target: str, quantities, cts, unit: str = "relative", plate: str = "P1"):
    rows = []
    for i, (q, ct) in enumerate(zip(quantities, cts, strict=True)):
        rows.append(
            {
                "plate": plate,
                "well": f"A{i + 1:02d}",
                "target": target,
                "sample": "std",
                "role": "standard",
                "replicate_group": "",
                "ct": ct,
                "quantity": q,
                "unit": unit,
                "fluor": "FAM",
            }
        )
    return pd.DataFrame(rows)


def curve_table(wells, settings=SETTINGS):
    """:func:`fit_curves` as a DataFrame (the function returns dict rows) and its log."""
    curves, log = fit_curves(wells, settings)
    return pd.DataFrame(curves, columns=CURVE_COLUMNS), log


def test_efficiency_formula():
    # 100 %: slope = -1/log10(2) = -3.321928...
    assert efficiency_from_slope(-1 / math.log10(2)) == pytest.approx(1.0, abs=1e-12)
    assert efficiency_from_slope(-3.3219) == pytest.approx(1.0, abs=1e-4)
    # 90 %: the exact slope is -1/log10(1.9) = -3.58740; the often quoted -3.5864 is 90.03 %
    assert -1 / math.log10(1.9) == pytest.approx(-3.58740, abs=1e-5)
    assert efficiency_from_slope(-3.5864) == pytest.approx(0.9003, abs=1e-4)
    assert math.isnan(efficiency_from_slope(0.5))


def test_perfect_100_percent_curve():
    slope = -1 / math.log10(2)
    q = [1.0, 1.0, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    ct = [20.0 + slope * math.log10(v) for v in q]
    curves, _ = fit_curves(standards("GUS", q, ct), SETTINGS)
    assert [list(row) for row in curves] == [CURVE_COLUMNS]
    row = pd.DataFrame(curves).iloc[0]
    assert row.slope == pytest.approx(-3.321928, abs=1e-6)
    assert row.intercept == pytest.approx(20.0, abs=1e-9)
    assert row.r2 == pytest.approx(1.0, abs=1e-12)
    assert row.efficiency == pytest.approx(1.0, abs=1e-9)
    # no scatter: the interval collapses onto the estimate
    assert row.efficiency_low == pytest.approx(1.0, abs=1e-9)
    assert row.efficiency_high == pytest.approx(1.0, abs=1e-9)
    assert (row.points, row.levels, row.range_low, row.range_high) == (8, 4, 0.001, 1.0)
    # prediction ingredients: n, mean log10 q = -1.5, sxx = 2 * (2.25 + 0.25) * 2 = 10
    assert (row.n, row.mean_log10q, row.sxx) == (8, pytest.approx(-1.5), pytest.approx(10.0))
    assert (row.status, row.reason) == ("pass", "")


def test_90_percent_curve_passes_and_89_fails():
    for eff, status in ((0.90, "pass"), (0.89, "fail")):
        slope = -1 / math.log10(1 + eff)
        q = [1.0, 0.1, 0.01, 0.001]
        ct = [25.0 + slope * math.log10(v) for v in q]
        row = curve_table(standards("BCL2", q, ct))[0].iloc[0]
        assert row.efficiency == pytest.approx(eff, abs=1e-9)
        assert row.status == status
    assert "efficiency 89.0% below 90%" in row.reason


def test_r2_and_ci_by_hand():
    # x = log10 q = 0, 1, 2, 3; Ct = 30 - 3.3 x + e, e = (+0.1, -0.1, -0.1, +0.1)
    # by hand: xbar 1.5, Sxx 5, ybar 25.05, Sxy -16.5 -> slope -3.3, intercept 30.0;
    # e sums to 0 and is orthogonal to x, so residuals = e, SSE = 0.04;
    # Syy = 5.05^2 + 1.55^2 + 1.75^2 + 4.85^2 = 54.49 -> R2 = 1 - 0.04/54.49 = 0.99926592
    # s = sqrt(0.04/2) = 0.1414214, se(slope) = s/sqrt(5) = 0.0632456,
    # t(0.975, 2 df) = 4.302653 (table) -> slope CI -3.3 -/+ 0.272124
    fit = fit_line([0, 1, 2, 3], [30.1, 26.6, 23.3, 20.2], 0.95)
    assert fit["slope"] == pytest.approx(-3.3, abs=1e-12)
    assert fit["intercept"] == pytest.approx(30.0, abs=1e-12)
    assert fit["r2"] == pytest.approx(0.99926592, abs=1e-8)
    assert fit["residual_sd"] == pytest.approx(0.1414214, abs=1e-7)
    assert fit["slope_se"] == pytest.approx(0.0632456, abs=1e-7)
    assert fit["sxx"] == pytest.approx(5.0)
    assert fit["efficiency"] == pytest.approx(10 ** (1 / 3.3) - 1, abs=1e-12)  # 100.9 %
    assert fit["efficiency_low"] == pytest.approx(10 ** (1 / 3.572124) - 1, abs=1e-5)  # 90.5 %
    assert fit["efficiency_high"] == pytest.approx(10 ** (1 / 3.027876) - 1, abs=1e-5)  # 113.9 %
    assert fit["efficiency_low"] == pytest.approx(0.9050, abs=1e-3)
    assert fit["efficiency_high"] == pytest.approx(1.1391, abs=1e-3)


def test_ci_level_is_configurable():
    x, y = [0, 1, 2, 3], [30.1, 26.6, 23.3, 20.2]
    wide = fit_line(x, y, ci_level=0.99)
    narrow = fit_line(x, y, ci_level=0.80)
    assert wide["efficiency_low"] < narrow["efficiency_low"] < narrow["efficiency"]
    assert wide["efficiency_high"] > narrow["efficiency_high"]


def test_copies_acceptance_uses_slope_range():
    q = [1e6, 1e5, 1e3, 1e2, 1e1]
    good = [38.0 - 3.4 * math.log10(v) for v in q]
    steep = [38.0 - 4.0 * math.log10(v) for v in q]
    assert fit_curves(standards("TEL-AML1", q, good, "copies"), SETTINGS)[0][0]["status"] == "pass"
    row = curve_table(standards("TEL-AML1", q, steep, "copies"))[0].iloc[0]
    assert row.status == "fail" and row.reason == "slope -4.000 below -3.9"


def test_outlier_and_undetermined_standards_are_not_fitted():
    slope = -3.32
    q = [1.0] * 3 + [0.1] * 3 + [0.01] * 3 + [0.001] * 3
    ct = [20.0 + slope * math.log10(v) for v in q]
    ct[4] += 2.5  # outlier in the 0.1 triplicate
    ct[9] = ct[10] = ct[11] = math.nan  # lowest level never came up
    curves, log = curve_table(standards("GUS", q, ct))
    row = curves.iloc[0]
    assert row.points == 8 and row.levels == 3  # 9 wells with a Ct, one outlier
    assert row.range_low == 0.01 and row.slope == pytest.approx(slope, abs=1e-9)
    assert any("well A05 excluded, outlier" in line for line in log)


def test_too_few_levels_fails():
    q, ct = [1.0, 1.0, 0.1, 0.1], [20.0, 20.1, 23.3, 23.4]
    row = curve_table(standards("GUS", q, ct))[0].iloc[0]
    assert row.status == "fail" and "2 standard levels with a Ct (< 3)" in row.reason


# ------------------------------------------------------------- the real CFX export


@pytest.mark.shared
def test_pooled_fit_reproduces_biorad_and_per_target_curves_differ():
    cq = QPCR / "biorad_cfxmanager3_std_Quantification_Cq_Results.csv"
    answer = QPCR / "biorad_cfxmanager3_std_Standard_Curve_Results.csv"
    if not cq.is_file() or not answer.is_file():
        pytest.skip("real CFX export not available (../shared absent)")
    with answer.open(newline="") as handle:
        biorad = next(csv.DictReader(handle))
    wells = read_plate(cq, "CFX3", None, SETTINGS)
    pooled = pooled_fit(wells, "SYBR", SETTINGS.curve_ci_level)
    assert pooled["n"] == 85
    # the instrument's own numbers, to the last digit it printed
    assert pooled["slope"] == pytest.approx(float(biorad["Slope"]), abs=1e-9)
    assert pooled["intercept"] == pytest.approx(float(biorad["Y-Intercept"]), abs=1e-9)
    assert pooled["r2"] == pytest.approx(float(biorad["R^2"]), abs=1e-9)
    assert 100 * pooled["efficiency"] == pytest.approx(float(biorad["Efficiency %"]), abs=1e-7)
    assert (round(pooled["slope"], 4), round(pooled["r2"], 4)) == (-3.2300, 0.3064)

    curves, _ = curve_table(wells)
    assert len(curves) == 11
    slopes = dict(zip(curves["target"], curves["slope"], strict=True))
    # ATG8b: -3.8369 with both wells of its 0.2 duplicate; the pair (34.92, 33.37) differs
    # by 1.55 cycles, a discordant duplicate: the later well E03 is dropped
    assert min(slopes.values()) == pytest.approx(-3.8255, abs=1e-4)  # ATG8b
    assert max(slopes.values()) == pytest.approx(-2.8337, abs=1e-4)  # ATG8g
    assert all(abs(s - pooled["slope"]) > 0.03 for s in slopes.values())
    assert all(r2 > 0.9 for r2 in curves["r2"])  # each target is a line; pooled is not
    assert set(curves.loc[curves.status == "pass", "target"]) == {
        "ATG8e",
        "ATG8i",
        "PP2a",
        "TuMV-CP",
    }


@pytest.mark.shared
def test_stepone_rdml_curve():
    path = QPCR / "rdml_v1_0_stepone_std_curve.rdml"
    if not path.is_file():
        pytest.skip("real RDML not available")
    curves, _ = curve_table(read_plate(path, "STEP", None, SETTINGS))
    row = curves.iloc[0]
    # RNase P, 5 two-fold levels x 3: StepOne states an efficiency of 93.91181 % in the file
    assert row.efficiency == pytest.approx(0.9391181, abs=1e-4)
    assert row.slope == pytest.approx(-3.4770, abs=1e-4)
    assert row.points == 15 and row.status == "pass"
    assert np.isclose(row.range_low, 625.0) and np.isclose(row.range_high, 10000.0)


@pytest.mark.shared
@pytest.mark.parametrize(
    "name",
    [
        "biorad_cfxmanager3_std_Quantification_Cq_Results.csv",
        "biorad_cfxmanager_early_std_tab.txt",
        "biorad_myiq_pcrquant_std_commadecimal.csv",
        "rdml_v1_0_stepone_std_curve.rdml",
    ],
)
def test_real_exports_same_curves_from_rows_and_dataframe(name):
    """The fit_curves job passes the reader's dict rows; tests and notebooks a DataFrame."""
    path = QPCR / name
    if not path.is_file():
        pytest.skip(f"real export {name} not available (../shared absent)")
    rows = read_plate_records(path, "REAL", None, SETTINGS)
    curves, log = fit_curves(rows, SETTINGS)
    assert curves and all(list(row) == CURVE_COLUMNS for row in curves)
    frame_curves, frame_log = fit_curves(read_plate(path, "REAL", None, SETTINGS), SETTINGS)
    assert repr(curves) == repr(frame_curves)  # bit for bit, NaN included
    assert log == frame_log


def test_low_copy_standards_get_a_poisson_widened_tolerance():
    # issue 13: 15 copies: Poisson SD of one well 1 / (ln 2 x sqrt 15) = 0.372502 cycles;
    # tolerance sqrt(1 + (2 sqrt 2 x 0.372502)^2) = sqrt(1 + 1.110063) = 1.452606 cycles.
    # Triplicate 33.0, 33.3, 34.3: 34.3 is 1.15 from the median 33.15 of the others: kept
    # at 15 copies (1.15 < 1.45); excluded at 1500 copies (the tolerance stays 1.0).
    from sortpcr.qpcr.replicates import poisson_ct_sd, tolerance

    assert poisson_ct_sd(15) == pytest.approx(0.372502, abs=1e-6)
    assert tolerance(SETTINGS, "standard", "copies", 15.0) == pytest.approx(1.452606, abs=1e-6)
    assert tolerance(SETTINGS, "standard", "copies", 100.0) == 1.0  # from 100 copies up
    assert tolerance(SETTINGS, "standard", "relative", 0.001) == 1.0
    assert tolerance(SETTINGS, "unknown", "copies", 15.0) == 1.0
    top = [1e5] * 3 + [1e4] * 3 + [1e3] * 3
    for low, kept in ((15.0, 12), (1500.0, 11)):
        q = top + [low] * 3
        ct = [38.0 - 3.4 * math.log10(v) for v in top] + [33.0, 33.3, 34.3]
        curves, log = fit_curves(standards("TEL-AML1", q, ct, "copies"), SETTINGS)
        assert curves[0]["points"] == kept, low
    assert any("34.30" in line and "outlier" in line for line in log)


def test_limits_of_quantification_and_detection():
    # duplicates at 1, 0.1, 0.01, 0.001; at 0.001 one well undetermined (no LOD there);
    # at 0.01 the two wells differ by 1.6 cycles (discordant: one dropped) -> LOD 0.01,
    # LOQ 0.1 (the lowest level with every well used)
    q = [1.0, 1.0, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    ct = [20.0, 20.1, 23.3, 23.4, 26.6, 28.2, 30.0, math.nan]
    row = curve_table(standards("BCL2", q, ct))[0].iloc[0]
    assert (row.lod, row.lod_ct) == (0.01, 28.2)
    assert (row.loq, row.loq_ct) == (0.1, 23.4)
    assert row.ct_top == 20.0
    assert row.range_low == 0.001  # levels with a used well still enter the fit


def test_qpcr_settings_come_from_the_schema_defaults():
    """A config whose qpcr section names only its reference gene gets the shipped values
    from the schema (written there once); config.yaml states the same values, so the two
    cannot drift apart; a limit set to null is not checked."""
    import yaml
    from snakemake.utils import validate

    from sortpcr.settings import QpcrSettings

    root = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((root / "config" / "config.yaml").read_text())
    shipped = dict(config["qpcr"])
    config["qpcr"] = {"reference_genes": ["GUS"]}
    validate(config, str(root / "config" / "schemas" / "config.schema.yaml"))
    bare = QpcrSettings.from_config(config["qpcr"])
    assert bare.target_aliases == {}
    assert bare == QpcrSettings.from_config({**shipped, "target_aliases": {}})
    assert (bare.ct_min, bare.ct_max, bare.outlier_ct, bare.ntc_policy) == (
        5.0,
        40.0,
        1.0,
        "invalidate",
    )
    assert bare.curves["copies"].slope_min == -3.9 and bare.curves["copies"].efficiency_min is None

    # efficiency 216 % fails the shipped rule and passes once the upper limit is null
    steep = standards("GUS", [1, 10, 100, 1000], [30.0, 28.0, 26.0, 24.0])
    assert fit_curves(steep, SETTINGS)[0][0]["reason"] == "efficiency 216.2% above 110%"
    lenient = qpcr_settings(curves={"relative": {"efficiency_max": None}})
    assert lenient.curves["relative"].efficiency_min == 0.90  # the rest from the schema
    assert fit_curves(steep, lenient)[0][0]["status"] == "pass"


def test_crossed_curve_limits_are_refused_by_name():
    """min above max cannot be said in the schema: from_config refuses it, naming the key
    (tests/test_settings.py: the Snakefile collects it at start-up)."""
    with pytest.raises(ValueError, match=r"qpcr.curves.relative \[1.1, 0.9\]: efficiency_min"):
        qpcr_settings(curves={"relative": {"efficiency_min": 1.1, "efficiency_max": 0.9}})
    equal = qpcr_settings(curves={"copies": {"slope_min": -3.3, "slope_max": -3.3}}).curves
    assert (equal["copies"].slope_min, equal["copies"].slope_max) == (-3.3, -3.3)  # one slope


def _edge_curve(slope: float, r2: float = 1.0):
    """Ct on log10 q = 0..3 (descending quantities 1000..1 as dilutions of 1) with the given
    slope; for r2 < 1 a residual pattern a*[+1,-1,-1,+1], orthogonal to the line, so slope and
    intercept stay exact and R2 = SSR / (SSR + 4a^2) by hand."""
    x = [0.0, 1.0, 2.0, 3.0]
    ssr = slope**2 * 5.0  # Sxx = 5
    a = math.sqrt(ssr * (1 - r2) / (4 * r2)) if r2 < 1 else 0.0
    ct = [30.0 + slope * xi + a * e for xi, e in zip(x, (1, -1, -1, 1), strict=True)]
    return [10.0**xi for xi in x], ct


@pytest.mark.parametrize(
    ("unit", "slope", "r2", "status", "reason"),
    [
        # the schema's defaults, met exactly and missed by a hair (config leaves them out)
        ("relative", -1 / math.log10(2.10), 1.0, "pass", ""),  # efficiency 110.0 %
        ("relative", -1 / math.log10(2.1001), 1.0, "fail", "efficiency 110.0% above 110%"),
        ("copies", -3.9, 1.0, "pass", ""),
        ("copies", -3.9001, 1.0, "fail", "slope -3.900 below -3.9"),
        ("copies", -3.0, 1.0, "pass", ""),
        ("copies", -2.9999, 1.0, "fail", "slope -3.000 above -3"),
        ("relative", -3.3, 0.9805, "pass", ""),
        ("relative", -3.3, 0.9795, "fail", "R2 0.9795 below 0.98"),
    ],
)
def test_default_curve_limits_at_their_edges(unit, slope, r2, status, reason):
    """A config without qpcr.curves is judged by the schema's limits, each right at its edge:
    efficiency <= 1.10, slope -3.9 to -3.0 (inclusive), R2 >= 0.98."""
    settings = qpcr_settings(curves={})
    q, ct = _edge_curve(slope, r2)
    row = fit_curves(standards("TEL-AML1" if unit == "copies" else "BCL2", q, ct, unit), settings)
    curve = row[0][0]
    assert curve["slope"] == pytest.approx(slope, abs=1e-9)
    assert curve["r2"] == pytest.approx(r2, abs=1e-9)
    assert (curve["status"], curve["reason"]) == (status, reason)
