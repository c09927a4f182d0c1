"""Quantification with replicate and control QC, hand-worked.

The standard curve used throughout: log10 q = 0, 1, 2, 3 (q = 1 .. 1000), Ct = 30.1, 26.6,
23.3, 20.2. By hand (see test_qpcr_curves.test_r2_and_ci_by_hand): slope -3.3, intercept
30.0, residual SD s = sqrt(0.02) = 0.1414214, n = 4, mean log10 q = 1.5, Sxx = 5.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from sortpcr.io import read_records, read_tsv, write_records
from sortpcr.qpcr.curves import CURVE_COLUMNS, fit_curves
from sortpcr.qpcr.quantify import QUANTITY_COLUMNS, log10_se, quantify
from sortpcr.qpcr.readers import COLUMNS
from sortpcr.qpcr.replicates import QC_COLUMNS
from tests.conftest import fresh_python, qpcr_settings

ROOT = Path(__file__).resolve().parents[1]

SETTINGS = qpcr_settings()  # the shipped defaults of config/config.yaml
NA = math.nan


def plate(*unknowns, ntc=(("GUS", NA),), target="GUS", std=True):
    """Wells: the standard series of the module docstring + unknowns + NTCs.

    ``unknowns``: (sample, [Ct, ...]) of ``target``; ``ntc``: (target, Ct) pairs.
    """
    rows = []

    def add(role, tgt, sample, ct, q=NA):
        n = len(rows)
        rows.append(
            {
                "plate": "P1",
                "well": f"{'ABCDEFGH'[n // 12]}{n % 12 + 1:02d}",
                "target": tgt,
                "sample": sample,
                "role": role,
                "replicate_group": "",
                "ct": ct,
                "quantity": q,
                "unit": "relative",
                "fluor": "FAM",
            }
        )

    if std:
        for q, ct in ((1, 30.1), (10, 26.6), (100, 23.3), (1000, 20.2)):
            add("standard", target, "IM9", ct, float(q))
    for sample, cts in unknowns:
        for ct in cts:
            add("unknown", target, sample, ct)
    for tgt, ct in ntc:
        add("ntc", tgt, "NTC", ct)
    return pd.DataFrame(rows)


def run(wells, **overrides):
    settings = {**SETTINGS, **overrides}
    curves, _ = fit_curves(wells, settings)
    q, qc, log = quantify(wells, curves, settings)
    return pd.DataFrame(q, columns=QUANTITY_COLUMNS).set_index("sample"), pd.DataFrame(qc), log


def test_curve_is_the_hand_worked_one():
    curves, _ = fit_curves(plate(), SETTINGS)
    row = pd.DataFrame(curves).iloc[0]
    assert (row.slope, row.intercept) == (pytest.approx(-3.3), pytest.approx(30.0))
    assert row.residual_sd == pytest.approx(math.sqrt(0.02))
    assert (row.n, row.mean_log10q, row.sxx) == (4, 1.5, pytest.approx(5.0))


def test_se_formula_small_example():
    # duplicates 26.6, 26.8: mean 26.7, sd 0.1414214; x0 = (26.7 - 30) / -3.3 = 1.0
    # var = s_rep^2/k + s^2/n + s^2 (x0 - xbar)^2 / Sxx = 0.02/2 + 0.02/4 + 0.02*0.25/5
    #     = 0.01 + 0.005 + 0.001 = 0.016;  se = sqrt(0.016) / 3.3 = 0.0383306
    q, _, _ = run(plate(("S1", [26.6, 26.8])))
    r = q.loc["S1"]
    assert sorted(q.reset_index().columns) == sorted(QUANTITY_COLUMNS)
    assert r.ct_mean == pytest.approx(26.7)
    assert r.ct_sd == pytest.approx(0.1414214, abs=1e-7)
    assert r.log10_quantity == pytest.approx(1.0)
    assert r.quantity == pytest.approx(10.0)
    assert r.log10_quantity_se == pytest.approx(math.sqrt(0.016) / 3.3, abs=1e-12)
    assert r.log10_quantity_se == pytest.approx(0.0383306, abs=1e-7)
    assert (r.status, r["flags"], r.n_wells, r.n_used) == ("ok", "", 2, 2)
    curve = {"residual_sd": math.sqrt(0.02), "n": 4, "mean_log10q": 1.5, "sxx": 5, "slope": -3.3}
    assert log10_se(1.0, 2, math.sqrt(0.02), curve) == pytest.approx(0.0383306, abs=1e-7)


def test_outlier_replicate_is_excluded_and_logged():
    # 28.20 is |28.20 - median(26.70, 26.60)| = 1.55 > 1.0 cycles from the others;
    # 26.70 is 0.70 from median(26.60, 28.20) = 27.40: kept. Mean of the rest 26.65.
    wells = plate(("S1", [26.70, 26.60, 28.20]))
    q, qc, log = run(wells)
    r = q.loc["S1"]
    outlier_well = wells.loc[wells["ct"] == 28.20, "well"].item()
    assert (r.n_wells, r.n_used) == (3, 2)
    assert r.ct_mean == pytest.approx(26.65)
    assert r.log10_quantity == pytest.approx((26.65 - 30.0) / -3.3)
    assert r["flags"] == f"outlier_removed:{outlier_well}"
    excluded = qc.set_index("well").loc[outlier_well]
    assert not excluded.used and excluded.exclusion.startswith("outlier: Ct 28.20 is 1.55")
    assert any(outlier_well in line and "outlier" in line for line in log)


def test_outlier_rule_is_configurable():
    q, _, _ = run(plate(("S1", [26.70, 26.60, 28.20])), replicates={"outlier_ct": 2.0})
    assert q.loc["S1"].n_used == 3
    # still spread over more than the threshold? 1.6 < 2.0: no flag
    assert q.loc["S1"]["flags"] == ""


def test_undetermined_well():
    # duplicates 23.40 and N/A: one well used; x0 = (23.4 - 30) / -3.3 = 2.0 -> 100
    # k = 1 -> s_rep = s: var = 0.02 (1 + 1/4 + 0.25/5) = 0.026; se = sqrt(0.026)/3.3
    q, qc, _ = run(plate(("S1", [23.40, NA])))
    r = q.loc["S1"]
    assert r.quantity == pytest.approx(100.0)
    assert math.isnan(r.ct_sd)
    assert r.log10_quantity_se == pytest.approx(math.sqrt(0.026) / 3.3, abs=1e-12)
    assert r["flags"] == "partial_undetermined;single_replicate"
    assert r.status == "ok"
    assert "undetermined" in set(qc["exclusion"])


def test_all_undetermined_is_undetected():
    q, _, _ = run(plate(("S1", [NA, NA])))
    r = q.loc["S1"]
    assert r.status == "undetected" and math.isnan(r.quantity) and r.n_used == 0


def test_amplified_ntc_invalidates_or_flags():
    wells = plate(("S1", [26.6, 26.8]), ntc=(("GUS", 35.0),))
    ntc_well = wells.loc[wells["role"] == "ntc", "well"].item()
    q, _, log = run(wells, ntc_policy="invalidate")
    r = q.loc["S1"]
    assert r.status == "not_evaluable"
    assert r.reason == f"NTC amplified: {ntc_well} (Ct 35.00)"
    assert r.quantity == pytest.approx(10.0)  # computed, but not to be used
    assert any("not_evaluable" in line for line in log)
    q, _, _ = run(wells, ntc_policy="flag")
    r = q.loc["S1"]
    assert r.status == "ok" and r["flags"] == "ntc_amplified"
    # an NTC of another target does not touch this one; one naming no target does
    q, _, _ = run(plate(("S1", [26.6, 26.8]), ntc=(("GUS", NA), ("BCL2", 33.0))))
    assert q.loc["S1"].status == "ok"
    q, _, _ = run(plate(("S1", [26.6, 26.8]), ntc=(("GUS", NA), ("", 33.0))))
    assert q.loc["S1"].status == "not_evaluable"


def test_missing_ntc_is_flagged():
    q, _, _ = run(plate(("S1", [26.6, 26.8]), ntc=()))
    assert q.loc["S1"]["flags"] == "no_ntc"


def test_beyond_the_top_standard_is_above_range_not_hidden():
    # Ct 19.0 -> x0 = 11/3.3 = 3.3333 > log10(1000): reported, flagged above_range
    # Ct 31.0 > 30.1 (the lowest standard = the LOQ): below_range, a bound "< 1", no number
    q, _, _ = run(plate(("HIGH", [19.0, 19.0]), ("LOW", [31.0, 31.0])))
    high, low = q.loc["HIGH"], q.loc["LOW"]
    assert high.status == "above_range" and high.censor == ""
    assert high.quantity == pytest.approx(10 ** (11 / 3.3))
    assert "above the highest standard 1000" in high.reason
    assert low.status == "below_range"
    assert (low.censor, low.bound) == ("<", 1.0)
    assert math.isnan(low.quantity) and math.isnan(low.log10_quantity)
    assert "extrapolated 0.4977 not reported" in low.reason  # 10 ** (-1 / 3.3)


def test_discordant_duplicates_keep_the_earlier_well_or_are_not_evaluable():
    # 25.0 and 26.5 differ by 1.5 > 1.0 cycles: no majority. keep_earlier (default) drops
    # the later well (26.5): x0 = (25.0 - 30) / -3.3 = 1.51515, k = 1
    wells = plate(("S1", [25.0, 26.5]))
    late = wells.loc[wells["ct"] == 26.5, "well"].item()
    q, qc, log = run(wells)
    r = q.loc["S1"]
    assert r["flags"] == "discordant_duplicate" and r.n_used == 1 and r.status == "ok"
    assert r.log10_quantity == pytest.approx(5 / 3.3)
    assert qc.set_index("well").loc[late].exclusion.startswith("discordant duplicate")
    assert any(late in line and "discordant" in line for line in log)
    q, _, _ = run(wells, replicates={"outlier_ct": 1.0, "discordant": "not_evaluable"})
    r = q.loc["S1"]
    assert r.status == "not_evaluable" and r.n_used == 0 and "discordant" in r.reason
    # within the tolerance: both kept, nothing flagged
    q, _, _ = run(plate(("S1", [25.0, 25.9])))
    assert q.loc["S1"].n_used == 2 and q.loc["S1"]["flags"] == ""


def test_failed_or_missing_curve_is_not_evaluable():
    bad = plate(("S1", [26.6, 26.8]))
    bad.loc[bad["role"] == "standard", "ct"] = [30.0, 28.0, 26.0, 24.0]  # slope -2: E 216 %
    q, _, _ = run(bad)
    r = q.loc["S1"]
    assert r.status == "not_evaluable"
    assert r.reason.startswith("standard curve failed: efficiency 216.2% above 110%")
    q, _, _ = run(plate(("S1", [26.6, 26.8]), std=False))
    assert q.loc["S1"].reason == "no standard curve for GUS on plate P1"


def test_bad_ntc_policy_is_refused():
    with pytest.raises(ValueError, match="ntc_policy"):
        run(plate(("S1", [26.6])), ntc_policy="ignore")


def test_rows_read_back_from_tsv_give_the_same_tables(tmp_path):
    """What the pipeline does between jobs: wells.tsv and curves.tsv as dict rows give the
    same rows, bit for bit, as the DataFrame; wells_qc keys are the script's column list."""
    wells = plate(("S1", [26.70, 26.60, 28.20]), ("S2", [23.40, NA]), ("S3", [NA, NA]))
    wells_tsv, curves_tsv = tmp_path / "wells.tsv", tmp_path / "curves.tsv"
    write_records(wells_tsv, wells.to_dict("records"), COLUMNS)
    curves, _ = fit_curves(read_records(wells_tsv), SETTINGS)
    assert repr(curves) == repr(fit_curves(wells, SETTINGS)[0])
    write_records(curves_tsv, curves, CURVE_COLUMNS)
    q, qc, log = quantify(read_records(wells_tsv), read_records(curves_tsv), SETTINGS)
    q_frame, _, log_frame = quantify(wells, read_tsv(curves_tsv), SETTINGS)
    assert repr(q) == repr(q_frame) and log == log_frame
    assert [list(row) for row in q] == [QUANTITY_COLUMNS] * 3
    assert {tuple(row) for row in qc} == {(*COLUMNS, *QC_COLUMNS)}


def test_plate_jobs_import_neither_pandas_nor_scipy_stats():
    """fit_curves and quantify jobs skip pandas' ~0.4 s import and scipy.stats' ~1 s, a
    fit and a quantification on dict rows included; the pair job, which imports
    QUANTITY_COLUMNS, does not pay for numpy either."""
    code = textwrap.dedent(
        """
        import sys
        import sortpcr.io, sortpcr.qpcr.quantify, sortpcr.qpcr.replicates
        print("numpy" in sys.modules)
        from sortpcr.qpcr.curves import fit_curves
        from sortpcr.qpcr.quantify import quantify
        well = dict(plate="P1", target="GUS", unit="relative", fluor="")
        wells = [
            dict(well=f"A{i + 1:02d}", sample="IM9", role="standard", ct=30.0 - 3.3 * i,
                 quantity=10.0**i, **well)
            for i in range(4)
        ] + [dict(well="B01", sample="S1", role="unknown", ct=25.0, quantity=None, **well)]
        curves, _ = fit_curves(wells, {})
        quantities, _, _ = quantify(wells, curves, {})
        print(quantities[0]["status"])
        print(sorted(m for m in ("pandas", "scipy.stats") if m in sys.modules))
        """
    )
    assert fresh_python(code).split("\n")[:3] == ["False", "ok", "[]"]
