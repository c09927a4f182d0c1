"""Pairing and normalisation with hand-worked numbers.

Ratios and their SEs are computed by hand in the comments: SE(log10 ratio) is the root of the
sum of squares of the two SEs, so 0.03 and 0.04 give 0.05.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from snakemake.utils import validate

from sortpcr.normalise import combine_log10, normalise_patient, ratio_log10_se
from sortpcr.pairing import PAIR_COLUMNS, pair_patient
from sortpcr.settings import NormaliseSettings
from tests.conftest import ROOT, normalise_settings, validated_config

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
    return pd.DataFrame(normalise_patient(pairs, normalise_settings(**(settings or {}))))


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
    table = pd.DataFrame(normalise_patient(pairs, normalise_settings()))  # a DataFrame as input
    neg = one(table, "CD34neg", "BCL2", "E1")
    assert neg.status == "not_evaluable" and "P01neg" in neg.reason


def test_pairing_missing_flow_rows():
    quantities = {"E1": pd.DataFrame([qrow("E1", "GUS", "P01pos", 0.1, 0.04)])}
    empty_flow = pd.DataFrame(columns=["patient", "fraction", "status", "reason"])
    pairs = pd.DataFrame(pair_patient("P01", units_for(["E1"]), quantities, empty_flow))
    assert set(pairs.flow_status) == {"not_evaluable"}
    assert "no flow result" in pairs.flow_reason.iloc[0]


# --- several reference genes --------------------------------------------------------------

REFS3 = {"qpcr": {"reference_genes": ["GUS", "ABL1", "B2M"]}}


def three_reference_cohort(shift_b2m=4.0):
    """One patient: GUS and ABL1 equal in both fractions, B2M `shift_b2m` x higher in
    CD34pos; MDR1 0.08 in both fractions (raw quantities)."""
    rows = []
    for fraction, b2m in (("pos", 0.2 * shift_b2m), ("neg", 0.2)):
        sample = f"P01{fraction}"
        rows += [
            qrow("E1", "GUS", sample, 0.1, 0.03),
            qrow("E1", "ABL1", sample, 0.05, 0.03),
            qrow("E1", "B2M", sample, b2m, 0.03),
            qrow("E1", "MDR1", sample, 0.08, 0.03),
        ]
    return {"E1": rows}


def test_geometric_mean_of_three_references_and_a_shifted_one_is_flagged():
    table = run(three_reference_cohort(4.0), settings=REFS3)
    pos = one(table[table.kind == "expression"], "CD34pos", "MDR1", "E1")
    neg = one(table[table.kind == "expression"], "CD34neg", "MDR1", "E1")
    # CD34pos reference = (0.1 x 0.05 x 0.8)^(1/3) = 0.158740; CD34neg (0.1 x 0.05 x 0.2)^(1/3)
    # = 0.1; MDR1 0.08 / 0.158740 = 0.503968 and 0.8
    assert pos.gus_quantity == pytest.approx(0.004 ** (1 / 3))
    assert pos.value == pytest.approx(0.08 / 0.004 ** (1 / 3))
    assert neg.value == pytest.approx(0.8)
    assert pos.reference_genes == "GUS;ABL1;B2M"
    # SE: target 0.03 and the mean of three independent 0.03s: sqrt(0.03^2 + 3 x 0.01^2)
    assert pos.log10_se == pytest.approx(math.sqrt(0.0009 + 0.0003))
    # each reference's share of the mean, per fraction: B2M 0.8 / 0.158740 = 5.0397 in
    # CD34pos, 2.0 in CD34neg: 2.52x apart > 2 -> every row flagged
    ref = table[(table.kind == "reference") & (table.plate == "E1")].set_index(["fraction", "gene"])
    assert ref.loc[("CD34pos", "B2M"), "value"] == pytest.approx(0.8 / 0.004 ** (1 / 3))
    assert ref.loc[("CD34neg", "B2M"), "value"] == pytest.approx(2.0)
    assert ref.loc[("CD34neg", "GUS"), "value"] == pytest.approx(1.0)
    assert all("reference_disagreement" in f for f in table["flags"])
    assert "B2M 2.52x" in pos.reason
    # a 1.5x shift stays under the 2-fold default; the limit is configurable
    calm = run(three_reference_cohort(1.5), settings=REFS3)
    assert not any("reference_disagreement" in f for f in calm["flags"])
    strict = {"qpcr": {**REFS3["qpcr"], "reference_max_disagreement": 1.2}}
    assert all("reference_disagreement" in f for f in run(three_reference_cohort(1.5),
                                                          settings=strict)["flags"])  # fmt: skip


def test_a_reference_gene_missing_on_the_plate_or_no_reference_is_not_evaluable():
    data = three_reference_cohort()
    data["E1"] = [r for r in data["E1"] if r["target"] != "ABL1"]
    table = run(data, settings=REFS3)
    row = one(table, "CD34pos", "MDR1", "E1")
    assert row.status == "not_evaluable" and math.isnan(row.value)
    assert "reference gene(s) ABL1 not measured on this plate" in row.reason
    only_target = {"E1": [r for r in data["E1"] if r["target"] == "MDR1"]}
    row = one(run(only_target), "CD34neg", "MDR1", "E1")
    assert row.status == "not_evaluable" and math.isnan(row.value)
    assert "no reference gene (GUS) measured for this sample" in row.reason


def test_old_reference_gene_setting_still_works():
    config = validated_config()
    old = {k: v for k, v in config["qpcr"].items() if k != "reference_genes"}
    old["reference_gene"] = "ABL1"
    validate({**config, "qpcr": old}, str(ROOT / "config" / "schemas" / "config.schema.yaml"))
    settings = NormaliseSettings.from_config(old, config["normalisation"], config["classification"])
    assert settings.reference_genes == ("ABL1",) and settings.reference_gene == "ABL1"
    both = normalise_settings(qpcr={"reference_genes": ["GUS", "B2M"], "reference_gene": "X"})
    assert both.reference_genes == ("GUS", "B2M")
    del old["reference_gene"]  # neither form: the schema refuses the config
    with pytest.raises(Exception, match="reference_gene"):
        validate({**config, "qpcr": old}, str(ROOT / "config" / "schemas" / "config.schema.yaml"))


def test_schema_fills_the_normalisation_defaults():
    config = validated_config()
    del config["normalisation"], config["qpcr"]["copy_targets"]
    validate(config, str(ROOT / "config" / "schemas" / "config.schema.yaml"))
    settings = NormaliseSettings.from_config(
        config["qpcr"], config["normalisation"], config["classification"]
    )
    assert settings == normalise_settings()
    assert (settings.gus_copies_min, settings.fusion_scale, settings.reference_min) == (
        10000.0,
        100.0,
        0.0,
    )
    assert settings.fusion_targets == ("TEL-AML1",)


def test_genorm_m_and_pairwise_v_by_hand():
    from sortpcr.normalise import genorm_m, pairwise_v

    # log2 levels over 3 samples: a = 0, 1, 2; b = 0, 1, 3; c = 1, 1, 1
    # a - b = 0, 0, -1: SD sqrt(((1/3)^2 x 2 + (2/3)^2) / 2) = sqrt(1/3) = 0.577350
    # a - c = -1, 0, 1: SD 1;  b - c = -1, 0, 2: mean 1/3, SD sqrt((16/9 + 1/9 + 25/9)/2) =
    # sqrt(7/3) = 1.527525
    # M_a = (0.577350 + 1) / 2 = 0.788675; M_b = (0.577350 + 1.527525) / 2 = 1.052438;
    # M_c = (1 + 1.527525) / 2 = 1.263763
    levels = {"a": [0.0, 1.0, 2.0], "b": [0.0, 1.0, 3.0], "c": [1.0, 1.0, 1.0]}
    m = genorm_m(levels)
    assert m["a"] == pytest.approx(0.788675, abs=1e-6)
    assert m["b"] == pytest.approx(1.052438, abs=1e-6)
    assert m["c"] == pytest.approx(1.263763, abs=1e-6)
    # V2/3 with order a, b, c: NF2 = (a + b)/2 = 0, 1, 2.5; NF3 = (a + b + c)/3 = 1/3, 1, 2
    # NF2 - NF3 = -1/3, 0, 1/2: mean 1/18, SD sqrt(((7/18)^2 + (1/18)^2 + (8/18)^2)/2) =
    # sqrt(114/324/2) = 0.419435
    (v23,) = pairwise_v(levels, sorted(m, key=m.get))
    assert v23 == pytest.approx(0.419435, abs=1e-6)
    with pytest.raises(ValueError, match="two reference genes"):
        genorm_m({"a": [0.0, 1.0]})


def test_rt_sd_estimated_from_two_cdna_preparations_by_hand():
    # MDR1 / GUS of each fraction from two cDNA preparations on two plates, no measurement
    # error (SE 0): CD34pos log10 -1.05 and -0.95, CD34neg -0.45 and -0.35.
    # SS per fraction 2 x 0.05^2 = 0.005 (1 df each) -> sigma_b^2 = 0.01 / 2 = 0.005
    # = (1 + 1/1) sigma_RT^2 -> sigma_RT = 0.05 log10 = 0.05 / log10(2) = 0.166096 log2 (2 df)
    quantities, units = {}, []
    for plate, prep, shift in (("A", "c1", -0.05), ("B", "c2", 0.05)):
        quantities[plate] = pd.DataFrame(
            [
                qrow(plate, "MDR1", "P01pos", 10 ** (-2.0 + shift), 0.0),
                qrow(plate, "GUS", "P01pos", 0.1, 0.0),
                qrow(plate, "MDR1", "P01neg", 10 ** (-1.4 + shift), 0.0),
                qrow(plate, "GUS", "P01neg", 0.1, 0.0),
            ]
        )
        for fraction in ("CD34pos", "CD34neg"):
            units.append({"patient": "P01", "fraction": fraction, "sorted_fcs": "x.fcs",
                          "plate": plate, "cdna": prep,
                          "qpcr_sample": f"P01{fraction[4:]}"})  # fmt: skip
    pairs = pair_patient("P01", pd.DataFrame(units), quantities, flow_rows())
    table = pd.DataFrame(normalise_patient(pairs, normalise_settings()))
    row = one(table, "CD34pos", "MDR1", "A")
    assert row.rt_sd_log2 == pytest.approx(0.05 / math.log10(2))
    # the ratio's RT: target and GUS, 0.05 log10 each -> SE sqrt(2) x 0.05, 2 df
    assert row.log10_se == pytest.approx(math.sqrt(2) * 0.05)
    assert row.df == pytest.approx(4.0)  # two sources of 2 df: 0.005^2 / (2 x 0.0025^2 / 2)
    assert "estimated from the cDNA preparations (2 df)" in row.reason
    combined = one(table, "CD34pos", "MDR1", "combined")
    assert combined.log10_value == pytest.approx(-1.0)
    # two independent preparations halve the RT variance: 4 x (0.5 x 0.05)^2 = 0.0025
    assert combined.log10_se == pytest.approx(0.05) and combined.tau2 == pytest.approx(0.0)
    # one preparation only: nothing to estimate, nothing added
    single = pd.DataFrame(normalise_patient(pair_patient(
        "P01", pd.DataFrame(units).assign(cdna="c1"), quantities, flow_rows()),
        normalise_settings()))  # fmt: skip
    assert one(single, "CD34pos", "MDR1", "A").rt_sd_log2 == 0.0


def test_rt_shared_by_two_plates_of_one_cdna_does_not_average_out():
    # the hand-worked plates A and B of the random-effects test, one cDNA, rt_sd_log2 0.5:
    # each ratio gets the RT of BCL2 and of GUS, 0.5 x log10 2 = 0.150515 log10 each, the
    # same two components on both plates. Weights and tau2 from the plate-specific parts
    # (0.1^2, 0.2^2) as before (tau2 0.1, mean -0.78); the shared RT adds
    # 2 x 0.150515^2 = 0.045310, whole.
    data = {
        "A": [qrow("A", "BCL2", "P01pos", 0.01, 0.06), qrow("A", "GUS", "P01pos", 0.1, 0.08)],
        "B": [qrow("B", "BCL2", "P01pos", 10**-1.5, 0.12), qrow("B", "GUS", "P01pos", 0.1, 0.16)],
    }
    table = run(data, settings={"qpcr": {"rt_sd_log2": 0.5}})
    combined = one(table, "CD34pos", "BCL2", "combined")
    assert combined.log10_value == pytest.approx(-0.78)
    assert combined.tau2 == pytest.approx(0.1)
    rt = 2 * (0.5 * math.log10(2)) ** 2
    assert combined.log10_se == pytest.approx(math.sqrt(0.0616 + rt), rel=1e-6)


def test_rt_sd_estimate_pools_only_values_of_one_unit():
    """MDR1/GUS of one fraction in two cDNA preparations: log10 -1.05 and -0.95 on relative
    plates give sigma_RT = 0.05 / log10(2) (as above, 1 df); the same two numbers from a
    relative and a copies plate are two different quantities, so nothing is estimated."""
    from sortpcr.normalise import estimate_rt_sd

    def row(plate, unit, value):
        return {"kind": "expression", "status": "ok", "censor": "", "fraction": "CD34pos",
                "gene": "MDR1", "plate": plate, "unit": unit, "log10_value": value,
                "log10_budget": ""}  # fmt: skip

    preps = {("CD34pos", "A"): "c1", ("CD34pos", "B"): "c2"}
    same = [row("A", "relative", -1.05), row("B", "relative", -0.95)]
    sd, df = estimate_rt_sd(same, preps, 1)
    # SS 2 x 0.05^2 = 0.005 (1 df) = (1 + 1) sigma_RT^2 -> sigma_RT = 0.05 log10
    assert (sd, df) == (pytest.approx(0.05 / math.log10(2)), 1)
    mixed = [row("A", "relative", -1.05), row("B", "copies", -0.95)]
    sd, df = estimate_rt_sd(mixed, preps, 1)
    assert math.isnan(sd) and df == 0
