"""Pairing and normalisation with hand-worked numbers.

Ratios and their SEs are computed by hand in the comments: SE(log10 ratio) is the root of the
sum of squares of the two SEs, so 0.03 and 0.04 give 0.05.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sortpcr.normalise import NormaliseSettings, combine_log10, normalise_patient, ratio_log10_se
from sortpcr.pairing import PAIR_COLUMNS, pair_patient

NA = math.nan


def qrow(
    plate, target, sample, quantity, se, status="ok", unit="relative", flags="", reason="", bound=NA
):
    """One row of a quantities.tsv (no ``log10_budget``: the SE is one independent term)."""
    return {
        "bound": bound,
        "censor": "<" if status in ("below_range", "undetected") else "",
        "plate": plate,
        "target": target,
        "sample": sample,
        "unit": unit,
        "n_wells": 3,
        "n_used": 3 if status != "undetected" else 0,
        "ct_mean": 25.0 if quantity == quantity else math.nan,
        "ct_sd": 0.1,
        "quantity": quantity,
        "log10_quantity": math.log10(quantity) if quantity and quantity > 0 else math.nan,
        "log10_quantity_se": se,
        "status": status,
        "flags": flags,
        "reason": reason,
    }


def flow_rows(patient="P01", presort="pass", pos="pass", neg="pass"):
    return pd.DataFrame(
        [
            {"patient": patient, "fraction": "presort", "status": presort, "reason": "",
             "pct_cd34pos": 50.0, "purity": math.nan},
            {"patient": patient, "fraction": "CD34pos", "status": pos,
             "reason": "" if pos == "pass" else "purity 0.95 < 0.98", "pct_cd34pos": math.nan,
             "purity": 0.99},
            {"patient": patient, "fraction": "CD34neg", "status": neg, "reason": "",
             "pct_cd34pos": math.nan, "purity": 0.995},
        ]
    )  # fmt: skip


def units_for(plates, patient="P01"):
    rows = []
    for plate in plates:
        rows.append(
            {
                "patient": patient,
                "fraction": "CD34pos",
                "sorted_fcs": "a.fcs",
                "plate": plate,
                "qpcr_sample": f"{patient}pos",
            }
        )
        rows.append({"patient": patient, "fraction": "CD34neg", "sorted_fcs": "b.fcs",
                     "plate": plate, "qpcr_sample": f"{patient}neg"})  # fmt: skip
    return pd.DataFrame(rows)


def run(quantities, plates=None, flow=None, settings=None, curves=None):
    plates = plates or sorted(quantities)
    tables = {p: pd.DataFrame(rows) for p, rows in quantities.items()}
    pairs = pair_patient("P01", units_for(plates), tables, flow_rows() if flow is None else flow,
                         curves=curves)  # fmt: skip
    return pd.DataFrame(normalise_patient(pairs, settings))


def one(table, fraction, gene, plate):
    rows = table[(table.fraction == fraction) & (table.gene == gene) & (table.plate == plate)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_ratio_se_by_hand():
    assert ratio_log10_se(0.03, 0.04) == pytest.approx(0.05)


def test_expression_ratio_and_se():
    table = run(
        {
            "E1": [
                qrow("E1", "MDR1", "P01pos", 0.02, 0.03),
                qrow("E1", "GUS", "P01pos", 0.1, 0.04),
                qrow("E1", "MDR1", "P01neg", 0.5, 0.03),
                qrow("E1", "GUS", "P01neg", 0.25, 0.04),
            ]
        }
    )
    row = one(table, "CD34pos", "MDR1", "E1")
    # 0.02 / 0.1 = 0.2 AU relative to IM-9; log10 0.2 = -0.69897; SE sqrt(.03^2+.04^2) = .05
    assert row.value == pytest.approx(0.2)
    assert row.log10_value == pytest.approx(-0.698970, abs=1e-6)
    assert row.log10_se == pytest.approx(0.05)
    assert row.kind == "expression" and row.unit == "relative" and row.status == "ok"
    assert row.target_quantity == 0.02 and row.gus_quantity == 0.1
    neg = one(table, "CD34neg", "MDR1", "combined")  # single plate: combined = that plate
    assert neg.value == pytest.approx(2.0)
    assert set(table.gene) == {"MDR1"}  # GUS itself is not a result row
    assert list(table.columns[:14]) == [
        "patient", "fraction", "plate", "gene", "kind", "unit", "target_quantity",
        "gus_quantity", "value", "log10_value", "log10_se", "status", "flags", "reason",
    ]  # fmt: skip


def test_fusion_ncn_and_eac_classes():
    table = run(
        {
            "F1": [
                # CD34pos: 2500 / 50000 x 100 = 5.0 per 100 GUS copies
                qrow("F1", "TEL-AML1", "P01pos", 2500.0, 0.03, unit="copies"),
                qrow("F1", "GUS", "P01pos", 50000.0, 0.04, unit="copies"),
                # CD34neg: no amplification with adequate GUS -> negative
                qrow("F1", "TEL-AML1", "P01neg", math.nan, math.nan, "undetected", "copies"),
                qrow("F1", "GUS", "P01neg", 40000.0, 0.04, unit="copies"),
            ]
        },
        curves={
            "F1": pd.DataFrame([{"target": "TEL-AML1", "range_low": 10.0, "range_high": 1e6}])
        },  # fmt: skip
    )
    pos = one(table, "CD34pos", "TEL-AML1", "F1")
    assert pos.kind == "fusion" and pos.unit == "copies"
    assert pos.value == pytest.approx(5.0)
    assert pos.log10_se == pytest.approx(0.05)
    assert pos.status == "quantifiable"
    neg = one(table, "CD34neg", "TEL-AML1", "F1")
    assert neg.status == "negative"
    assert math.isnan(neg.value)
    # detection limit: lowest standard 10 copies / 40000 GUS copies x 100 = 0.025
    assert neg.detection_limit == pytest.approx(0.025)


def test_fusion_below_lowest_standard_and_low_gus():
    table = run(
        {
            "F1": [
                qrow("F1", "TEL-AML1", "P01pos", NA, NA, "below_range", "copies", bound=10.0),
                qrow("F1", "GUS", "P01pos", 20000.0, 0.04, unit="copies"),
                qrow("F1", "TEL-AML1", "P01neg", 300.0, 0.05, unit="copies"),
                qrow("F1", "GUS", "P01neg", 8000.0, 0.04, unit="copies"),
            ]
        }
    )
    pos = one(table, "CD34pos", "TEL-AML1", "F1")
    assert pos.status == "positive_not_quantifiable"
    # EAC: positive, not quantifiable reports no number; the LOQ bound is kept apart:
    # 10 copies / 20000 GUS copies x 100 = 0.05
    assert math.isnan(pos.value) and pos.detection_limit == pytest.approx(0.05)
    assert "target_below_range" in pos["flags"]
    neg = one(table, "CD34neg", "TEL-AML1", "F1")
    assert neg.status == "inevaluable"  # 8000 GUS copies < gus_copies_min 10000
    assert "gus_copies_min" in neg.reason and "8000" in neg.reason
    assert math.isnan(neg.value)


def test_fusion_scale_is_configurable():
    rows = {
        "F1": [
            qrow("F1", "TEL-AML1", "P01pos", 2500.0, 0.03, unit="copies"),
            qrow("F1", "GUS", "P01pos", 50000.0, 0.04, unit="copies"),
        ]
    }
    table = run(rows, settings={"normalisation": {"fusion_scale": 1, "gus_copies_min": 1e4}})
    assert one(table, "CD34pos", "TEL-AML1", "F1").value == pytest.approx(0.05)


def test_units_must_match_and_gus_must_be_measured():
    table = run(
        {
            "E1": [
                qrow("E1", "BCL2", "P01pos", 0.2, 0.03),
                qrow("E1", "GUS", "P01pos", 30000.0, 0.04, unit="copies"),
                qrow("E1", "BCL2", "P01neg", 0.2, 0.03),
                qrow("E1", "GUS", "P01neg", math.nan, math.nan, "undetected"),
            ]
        }
    )
    pos = one(table, "CD34pos", "BCL2", "E1")
    assert pos.status == "not_evaluable" and "same standard units" in pos.reason
    neg = one(table, "CD34neg", "BCL2", "E1")
    assert neg.status == "not_evaluable" and "GUS undetected" in neg.reason


def test_undetected_target_expression():
    table = run(
        {
            "E1": [
                qrow("E1", "LRP", "P01pos", math.nan, math.nan, "undetected"),
                qrow("E1", "GUS", "P01pos", 0.05, 0.04),
            ]
        },
        curves={"E1": pd.DataFrame([{"target": "LRP", "range_low": 0.001, "range_high": 1.0}])},
    )
    row = one(table, "CD34pos", "LRP", "E1")
    assert row.status == "undetected"
    assert row.detection_limit == pytest.approx(0.001 / 0.05)  # 0.02 AU


def test_out_of_range_used_and_flagged_or_bounded():
    rows = {
        "E1": [
            qrow("E1", "MDR1", "P01pos", 7.9, 0.06, "above_range"),
            qrow("E1", "GUS", "P01pos", 0.0033, 0.04),
            qrow("E1", "MDR1", "P01neg", NA, NA, "below_range", bound=0.001),
            qrow("E1", "GUS", "P01neg", 0.05, 0.05),
        ]
    }
    curves = {"E1": pd.DataFrame([{"target": "MDR1", "range_low": 0.001, "range_high": 1.0}])}
    table = run(rows, curves=curves)
    pos = one(table, "CD34pos", "MDR1", "E1")
    assert pos.status == "ok" and pos.value == pytest.approx(7.9 / 0.0033)
    assert pos.censor == ""
    assert "target_above_range" in pos["flags"] and "extrapolated" in pos.reason
    # below the LOQ: a bound, never a number: < 0.001 / 0.05 = 0.02 AU
    neg = one(table, "CD34neg", "MDR1", "E1")
    assert (neg.status, neg.censor) == ("below_loq", "<")
    assert neg.value == pytest.approx(0.02) and math.isnan(neg.log10_se)
    # use_out_of_range false: above the top standard becomes a lower bound 1 / 0.0033
    strict = run(rows, curves=curves, settings={"classification": {"use_out_of_range": False}})
    high = one(strict, "CD34pos", "MDR1", "E1")
    assert (high.status, high.censor) == ("above_range", ">")
    assert high.value == pytest.approx(1.0 / 0.0033)


def test_reference_below_loq_or_under_its_floor_is_not_evaluable():
    rows = {
        "E1": [
            qrow("E1", "MDR1", "P01pos", 0.5, 0.03),
            qrow("E1", "GUS", "P01pos", NA, NA, "below_range", bound=0.001),
            qrow("E1", "MDR1", "P01neg", 0.5, 0.03),
            qrow("E1", "GUS", "P01neg", 0.004, 0.05),
        ]
    }
    table = run(rows)
    pos = one(table, "CD34pos", "MDR1", "E1")
    assert pos.status == "not_evaluable" and "reference GUS below its LOQ" in pos.reason
    assert one(table, "CD34neg", "MDR1", "E1").status == "ok"
    floor = {"normalisation": {"reference_min": 0.005}}
    neg = one(run(rows, settings=floor), "CD34neg", "MDR1", "E1")
    assert neg.status == "not_evaluable" and math.isnan(neg.value)
    assert "GUS 0.004 relative < 0.005 (normalisation.reference_min)" in neg.reason


def test_quantity_flags_are_carried():
    table = run(
        {
            "E1": [
                qrow("E1", "BCRP", "P01pos", 0.02, 0.03, flags="outlier_removed:B04"),
                qrow("E1", "GUS", "P01pos", 0.1, 0.04, flags="partial_undetermined"),
            ]
        }
    )
    flags = one(table, "CD34pos", "BCRP", "E1")["flags"].split(";")
    assert "target:outlier_removed:B04" in flags and "gus:partial_undetermined" in flags


def test_combine_two_plates_random_effects_by_hand():
    # plate A: 0.01/0.1 -> log10 -1, SE sqrt(.06^2+.08^2) = 0.1 (fixed weight 100)
    # plate B: 0.0316228/0.1 -> log10 -0.5, SE sqrt(.12^2+.16^2) = 0.2 (fixed weight 25)
    # fixed mean -0.9; Q = 100 x 0.1^2 + 25 x 0.4^2 = 5; C = 125 - (100^2 + 25^2)/125 = 40
    # tau2 = (5 - 1) / 40 = 0.1; I2 = (5 - 1) / 5 = 0.8
    # random weights 1/0.11 = 9.0909, 1/0.14 = 7.1429 (sum 16.2338)
    # mean = (9.0909 x -1 + 7.1429 x -0.5) / 16.2338 = -0.78; SE = 1/sqrt(16.2338) = 0.248193
    table = run(
        {
            "A": [
                qrow("A", "BCL2", "P01pos", 0.01, 0.06),
                qrow("A", "GUS", "P01pos", 0.1, 0.08),
            ],
            "B": [
                qrow("B", "BCL2", "P01pos", 10**-1.5, 0.12),
                qrow("B", "GUS", "P01pos", 0.1, 0.16),
            ],
        }
    )
    assert one(table, "CD34pos", "BCL2", "A").log10_se == pytest.approx(0.1)
    assert one(table, "CD34pos", "BCL2", "B").log10_se == pytest.approx(0.2)
    combined = one(table, "CD34pos", "BCL2", "combined")
    assert combined.log10_value == pytest.approx(-0.78)
    assert combined.log10_se == pytest.approx(0.248193, abs=1e-6)
    assert (combined.tau2, combined.i2, combined.het_q) == (
        pytest.approx(0.1),
        pytest.approx(0.8),
        pytest.approx(5.0),
    )
    assert combined.value == pytest.approx(10**-0.78)
    assert "combined_from:A,B" in combined["flags"]
    assert "random-effects" in combined.reason
    # the between-plate component has plates - 1 = 1 df, the plate SEs infinite df:
    # df = 0.0616^2 / (0.050720^2 / 1) with 0.050720 = tau2 x (w1^2 + w2^2)
    w1, w2 = 9.0909091 / 16.233766, 7.1428571 / 16.233766
    between = 0.1 * (w1**2 + w2**2)
    assert combined.df == pytest.approx((1 / 16.233766) ** 2 / between**2, rel=1e-6)


def test_combine_helper_fallbacks():
    assert combine_log10([-1.0], [0.1]) == (-1.0, 0.1, True)
    mean, se, weighted = combine_log10([-1.0, -0.5], [0.1, math.nan])
    assert mean == pytest.approx(-0.75) and math.isnan(se) and not weighted


def test_combine_skips_failed_plate():
    table = run(
        {
            "A": [qrow("A", "BCL2", "P01pos", 0.01, 0.06), qrow("A", "GUS", "P01pos", 0.1, 0.08)],
            "B": [
                qrow("B", "BCL2", "P01pos", math.nan, math.nan, "not_evaluable",
                     reason="standard curve failed"),
                qrow("B", "GUS", "P01pos", 0.1, 0.16),
            ],
        }
    )  # fmt: skip
    combined = one(table, "CD34pos", "BCL2", "combined")
    assert combined.status == "ok" and combined.value == pytest.approx(0.1)
    assert "not_used:B:not_evaluable" in combined["flags"]


def test_pairing_missing_sample_and_flow_verdicts():
    quantities = {
        "E1": pd.DataFrame(
            [qrow("E1", "BCL2", "P01pos", 0.02, 0.03), qrow("E1", "GUS", "P01pos", 0.1, 0.04)]
        )
    }
    flow = flow_rows(pos="fail")
    pairs = pd.DataFrame(pair_patient("P01", units_for(["E1"]), quantities, flow))
    assert list(pairs.columns) == PAIR_COLUMNS
    missing = pairs[pairs.fraction == "CD34neg"]
    assert set(missing.target) == {"BCL2", "GUS"}
    assert set(missing.status) == {"not_evaluable"}
    assert all("'P01neg'" in r and "plate E1" in r for r in missing.reason)
    present = pairs[pairs.fraction == "CD34pos"]
    assert set(present.flow_status) == {"fail"}
    assert set(present.presort_status) == {"pass"}
    assert present.purity.iloc[0] == 0.99
    # and normalisation says why
    table = pd.DataFrame(normalise_patient(pairs, NormaliseSettings()))  # a DataFrame as input
    neg = one(table, "CD34neg", "BCL2", "E1")
    assert neg.status == "not_evaluable" and "P01neg" in neg.reason


def test_pairing_missing_flow_rows():
    quantities = {"E1": pd.DataFrame([qrow("E1", "GUS", "P01pos", 0.1, 0.04)])}
    empty_flow = pd.DataFrame(columns=["patient", "fraction", "status", "reason"])
    pairs = pd.DataFrame(pair_patient("P01", units_for(["E1"]), quantities, empty_flow))
    assert set(pairs.flow_status) == {"not_evaluable"}
    assert "no flow result" in pairs.flow_reason.iloc[0]
