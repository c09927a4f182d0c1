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
from tests.conftest import fresh_python, qpcr_settings, qpcr_settings_source, validated_config

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
    settings = qpcr_settings(**overrides)
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
    # which well is right stays open: half the gap, 0.75 cycles, joins the budget
    # se^2 = (s_p^2 / 1 + s^2/n + s^2 (x0 - xbar)^2 / Sxx + 0.75^2) / 3.3^2; no pool here
    # (no pair left), so s_p = s: 0.02 + 0.005 + 0.02 x (1.51515 - 1.5)^2 / 5 + 0.5625
    assert r.log10_quantity_se == pytest.approx(
        math.sqrt(0.02 + 0.005 + 0.02 * (5 / 3.3 - 1.5) ** 2 / 5 + 0.5625) / 3.3, rel=1e-6
    )
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


def test_bad_ntc_policy_is_refused_by_the_schema():
    """The enum is checked once, by the config schema, before any job runs."""
    from snakemake.exceptions import WorkflowError

    with pytest.raises(WorkflowError, match="ntc_policy"):
        validated_config(qpcr={"ntc_policy": "ignore"})


def test_implausible_ct_is_not_used_and_an_ntc_artefact_does_not_invalidate():
    # issue 13: a baseline artefact of Ct 1.35 in a sample well and 1.4 in the NTC
    wells = plate(("S1", [1.35, 26.6, 26.8]), ntc=(("GUS", 1.4),))
    artefact = wells.loc[wells["ct"] == 1.35, "well"].item()
    q, qc, log = run(wells)
    r = q.loc["S1"]
    assert r.status == "ok" and r.n_used == 2 and r.ct_mean == pytest.approx(26.7)
    assert r["flags"] == f"implausible_ct:{artefact}"
    assert qc.set_index("well").loc[artefact].exclusion.startswith("implausible Ct 1.35 < 5")
    assert any(artefact in line and "implausible" in line for line in log)
    # a real NTC amplification (Ct 35) still invalidates; the floor is configurable
    assert run(plate(("S1", [26.6, 26.8]), ntc=(("GUS", 35.0),)))[0].loc["S1"].status == (
        "not_evaluable"
    )
    q, _, _ = run(wells, ct_min=1.0)
    assert q.loc["S1"].status == "not_evaluable" and "NTC amplified" in q.loc["S1"].reason
    # a sample whose only Ct is an artefact is not "undetected": nothing was measured
    q, _, _ = run(plate(("S2", [2.1, NA])))
    assert q.loc["S2"].status == "not_evaluable" and "implausible Ct" in q.loc["S2"].reason


def test_all_standards_censored_gives_not_evaluable_with_the_reason():
    wells = plate(("S1", [26.6, 26.8]))
    wells.loc[wells["role"] == "standard", "ct"] = [3.0, 2.0, 1.5, 1.2]  # all implausible
    q, _, _ = run(wells)
    r = q.loc["S1"]
    assert r.status == "not_evaluable" and math.isnan(r.quantity)
    assert "standard curve failed: 0 standard wells with a Ct" in r.reason


def test_two_plates_together_give_the_same_as_each_alone():
    # issue 13: the same sample name and standard levels on two plates, P2 1.5 cycles later.
    # Keyed without the plate, the four S1 wells formed one group and 26.6 was an "outlier".
    p1 = plate(("S1", [26.6, 26.7]))
    p2 = plate(("S1", [28.0, 28.1]))
    p2["plate"] = "P2"
    p2.loc[p2["role"] == "standard", "ct"] += 1.5
    both = pd.concat([p1, p2], ignore_index=True)
    q_both, qc_both, _ = run(both)
    alone = pd.concat([run(p1)[0], run(p2)[0]])
    pd.testing.assert_frame_equal(q_both.reset_index(), alone.reset_index(), check_like=True)
    assert qc_both["used"].sum() == 2 * (4 + 2)
    curves_both = pd.DataFrame(fit_curves(both, SETTINGS)[0])
    curves_alone = pd.DataFrame(fit_curves(p1, SETTINGS)[0] + fit_curves(p2, SETTINGS)[0])
    pd.testing.assert_frame_equal(curves_both, curves_alone)


def test_a_sample_at_the_top_standards_ct_is_in_range():
    # issue 13: standards 29.9, 26.8, 23.5, 20.0 (residuals -0.1, +0.1, +0.1, -0.1): the fit
    # is still slope -3.3, intercept 30.0, and puts Ct 20.0 at x0 = 10/3.3 = 3.0303, a hair
    # above log10 1000. Judged on the standards' Ct span (top well 20.0, tolerance 0 cycles),
    # a sample at 20.0 is in range; one at 19.9 is above it.
    wells = plate(("TOP", [20.0, 20.0]), ("HIGHER", [19.9, 19.9]))
    wells.loc[wells["role"] == "standard", "ct"] = [29.9, 26.8, 23.5, 20.0]
    q, _, _ = run(wells)
    assert q.loc["TOP"].status == "ok"
    assert q.loc["TOP"].log10_quantity == pytest.approx(10 / 3.3)
    assert q.loc["HIGHER"].status == "above_range"
    assert "top standard's Ct 20.00" in q.loc["HIGHER"].reason
    q, _, _ = run(wells, range_ct_tolerance=0.2)  # a stated tolerance widens the span
    assert q.loc["HIGHER"].status == "ok"


def test_below_the_loq_is_a_bound_and_undetected_is_bounded_by_the_lod():
    # standards in duplicate; the lowest level (1) has one undetermined well: LOD and LOQ
    # are the next level, 10 (Ct 26.6/26.7). A sample at Ct 27.5 is detected but below the
    # LOQ: "< 10", no number. An undetected sample: "< 10" from the LOD.
    wells = plate(("LOW", [27.5, 27.6]), ("NONE", [NA, NA]), std=False)
    extra = plate(std=True, ntc=())
    extra = pd.concat([extra, extra], ignore_index=True)
    extra["well"] = [f"S{i:02d}" for i in range(len(extra))]
    extra.loc[extra["ct"] == 26.6, "ct"] = [26.6, 26.7]
    extra.loc[extra.index[4], "ct"] = NA  # one well of quantity 1
    wells = pd.concat([extra, wells], ignore_index=True)
    curves, _ = fit_curves(wells, SETTINGS)
    (curve,) = curves
    assert (curve["lod"], curve["loq"], curve["loq_ct"]) == (10.0, 10.0, 26.7)
    assert curve["range_low"] == 1.0  # the level still has a used well for the fit
    q, _, _ = run(wells)
    low, none = q.loc["LOW"], q.loc["NONE"]
    assert (low.status, low.censor, low.bound) == ("below_range", "<", 10.0)
    assert math.isnan(low.quantity) and low.log10_budget == ""
    assert (none.status, none.censor, none.bound) == ("undetected", "<", 10.0)


def test_quantities_carry_a_budget_and_df():
    # duplicates 26.6, 26.8 on the hand-worked curve (4 single standards, s^2 = 0.02, 2 df):
    # the pool is the one pair (s_p^2 = 0.02, 1 df); x0 = 1, xbar 1.5, Sxx 5
    # rep 0.141421/sqrt(2)/-3.3, level -0.141421/2/-3.3, slope -(1 - 1.5)/-3.3 x 0.141421/sqrt(5)
    # df: sources rep (0.01/10.89, 1 df) and curve ((0.005 + 0.001)/10.89, 2 df)
    #     = 0.016^2 / (0.01^2 / 1 + 0.006^2 / 2) = 2.2456
    from sortpcr.uncertainty import from_text

    q, _, _ = run(plate(("S1", [26.6, 26.8])))
    budget = from_text(q.loc["S1"].log10_budget)
    assert set(budget) == {"rep/P1/GUS#S1", "curve/P1/GUS#level", "curve/P1/GUS#slope"}
    assert budget["rep/P1/GUS#S1"] == (pytest.approx(-0.1 / 3.3, rel=1e-5), 1.0)
    assert budget["curve/P1/GUS#slope"][0] == pytest.approx(-0.5 / 3.3 * math.sqrt(0.004), rel=1e-5)
    assert q.loc["S1"].df == pytest.approx(0.016**2 / (0.01**2 + 0.006**2 / 2), rel=1e-5)


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
        curves, _ = fit_curves(wells, settings)
        quantities, _, _ = quantify(wells, curves, settings)
        print(quantities[0]["status"])
        print(sorted(m for m in ("pandas", "scipy.stats") if m in sys.modules))
        """
    )
    code = qpcr_settings_source() + code  # sortpcr.settings imports no numpy
    assert fresh_python(code).split("\n")[:3] == ["False", "ok", "[]"]


def test_ct_min_floor_is_strict_beside_the_threshold():
    # qpcr.ct_min = 5: a Ct of 4.99 is an artefact; 5.00 is a measured Ct (here an outlier
    # of its triplicate, dropped by the replicate rule, not by the floor)
    wells = plate(("A", [4.99, 26.6, 26.7]), ("B", [5.0, 26.6, 26.7]))
    _, qc, _ = run(wells)
    exclusion = dict(zip(qc["ct"], qc["exclusion"], strict=True))
    assert exclusion[4.99].startswith("implausible Ct 4.99 < 5")
    assert exclusion[5.0].startswith("outlier")
