"""Fold calls, intervals and resistance groups with hand-worked numbers, and a differential
run of pairing -> normalise -> classify on the demo spec's true quantities."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from snakemake.utils import validate
from snakemake_interface_common.exceptions import WorkflowError

from sortpcr.classify import (
    CALL_COLUMNS,
    FUSION_COLUMNS,
    GROUP_COLUMNS,
    ClassifySettings,
    PatientCalls,
    call_fold,
    ci_crosses,
    classify_patient,
    fold_interval,
    resistance_group,
)
from sortpcr.normalise import normalise_patient
from sortpcr.pairing import pair_patient
from tests.conftest import (
    classify_settings,
    fresh_python,
    load_cohort_spec,
    normalise_settings,
    validated_config,
)

ROOT = Path(__file__).resolve().parents[1]
NAN = math.nan


def qrow(target, sample, quantity, se=0.03, status="ok", unit="relative", plate="E1"):
    return {
        "plate": plate, "target": target, "sample": sample, "unit": unit, "n_wells": 3,
        "n_used": 3, "ct_mean": 25.0, "ct_sd": 0.1, "quantity": quantity,
        "log10_quantity": math.log10(quantity) if quantity > 0 else NAN,
        "log10_quantity_se": se, "status": status, "flags": "", "reason": "",
    }  # fmt: skip


def flow_rows(patient, presort="pass", pos="pass", neg="pass"):
    def row(fraction, status, reason=""):
        return {"patient": patient, "fraction": fraction, "status": status, "reason": reason,
                "purity": 0.99, "pct_cd34pos": 50.0}  # fmt: skip

    return pd.DataFrame(
        [
            row("presort", presort, "" if presort == "pass" else "CD34+ 95.0 % outside 10-90 %"),
            row("CD34pos", pos, "" if pos == "pass" else "purity 0.962 < 0.98"),
            row("CD34neg", neg),
        ]
    )


def expression_for(
    quantities_by_fraction, patient="P01", flow=None, range_low=None, unit="relative", plate="E1"
):
    """quantities_by_fraction: {fraction: [(target, quantity, se, status)]} -> normalised."""
    rows, units = [], []
    for fraction, targets in quantities_by_fraction.items():
        sample = f"{patient}_{fraction}"
        units.append({"patient": patient, "fraction": fraction, "sorted_fcs": "x.fcs",
                      "plate": plate, "qpcr_sample": sample})  # fmt: skip
        for target, quantity, se, status in targets:
            rows.append(qrow(target, sample, quantity, se, status, unit, plate))
    curves = None
    if range_low is not None:
        targets = sorted({r["target"] for r in rows})
        curves = {plate: pd.DataFrame({"target": targets, "range_low": range_low,
                                       "range_high": 1.0})}  # fmt: skip
    pairs = pair_patient(
        patient,
        pd.DataFrame(units),
        {plate: pd.DataFrame(rows)},
        flow_rows(patient) if flow is None else flow,
        curves=curves,
    )
    return normalise_patient(pairs, normalise_settings())


def simple(gene_values, gus=(0.1, 0.1), se=(0.03, 0.04), **kwargs):
    """{gene: (AU CD34pos, AU CD34neg)} with GUS quantities `gus` -> normalised table."""
    data = {}
    for index, fraction in enumerate(("CD34pos", "CD34neg")):
        targets = [("GUS", gus[index], 0.0, "ok")]
        for gene, values in gene_values.items():
            au = values[index]
            if au is None:
                targets.append((gene, NAN, NAN, "undetected"))
            else:
                targets.append((gene, au * gus[index], se[index], "ok"))
        data[fraction] = targets
    return expression_for(data, **kwargs)


def classify_frames(expression, lineage, settings=None):
    """classify_patient with its dict rows as DataFrames, for terse assertions; ``settings``
    those of the shipped config unless given."""
    result = classify_patient(expression, lineage, settings or classify_settings())
    return PatientCalls(
        calls=pd.DataFrame(result.calls, columns=CALL_COLUMNS),
        group=pd.DataFrame(result.group, columns=GROUP_COLUMNS),
        fusion=pd.DataFrame(result.fusion, columns=FUSION_COLUMNS),
    )


def call_of(result, gene):
    row = result.calls[result.calls.gene == gene]
    assert len(row) == 1
    return row.iloc[0]


# --- the threshold rule --------------------------------------------------------------------


@pytest.mark.parametrize(
    "fold,expected",
    [
        (2.0, "CD34pos_higher"),  # at the threshold counts as different
        (0.6 / 0.3, "CD34pos_higher"),  # 1.9999999999999998 in binary: still 2.0
        (1.99, "no_difference"),
        (1.0, "no_difference"),
        (0.5, "CD34neg_higher"),
        (0.5001, "no_difference"),
        (0.25, "CD34neg_higher"),
        (NAN, "not_evaluable"),
        (0.0, "not_evaluable"),
    ],
)
def test_call_fold_edges(fold, expected):
    assert call_fold(fold, 2.0) == expected


def test_call_fold_other_threshold():
    assert call_fold(2.9, 3.0) == "no_difference"
    assert call_fold(3.0, 3.0) == "CD34pos_higher"
    assert call_fold(1 / 3, 3.0) == "CD34neg_higher"


def test_classify_patient_calls_at_the_settings_threshold():
    """fold 0.5/0.2 = 2.5 AU/AU: higher in CD34+ at the shipped 2-fold, not at 3-fold."""
    table = simple({"BCL2": (0.5, 0.2), "MDR1": (1, 1), "LRP": (1, 1), "BCRP": (1, 1)})
    assert call_of(classify_frames(table, "BCP"), "BCL2").call == "CD34pos_higher"
    three = classify_settings(fold_threshold=3.0)
    assert call_of(classify_frames(table, "BCP", three), "BCL2").call == "no_difference"


def test_fold_interval_by_hand():
    # log10 2 +- 1.959964 x 0.05 = +-0.0979982; 10^0.0979982 = 1.253137
    low, high = fold_interval(math.log10(2.0), 0.05, 0.95)
    assert low == pytest.approx(2.0 / 1.253137, rel=1e-5)  # 1.59600
    assert high == pytest.approx(2.0 * 1.253137, rel=1e-5)  # 2.50627
    assert ci_crosses(low, high, 2.0) is True
    assert ci_crosses(2.1, 3.0, 2.0) is False
    assert ci_crosses(NAN, 3.0, 2.0) is None


# --- calls from normalised tables ------------------------------------------------------------


def test_fold_exactly_two_just_under_and_half():
    # CD34pos 0.4 AU, CD34neg 0.2 AU -> fold 2.0; 0.398/0.2 = 1.99; 0.2/0.4 = 0.5
    table = simple({"BCL2": (0.4, 0.2), "MDR1": (0.398, 0.2), "LRP": (0.2, 0.4), "BCRP": (1, 1)})
    result = classify_frames(table, "BCP")
    bcl2 = call_of(result, "BCL2")
    assert bcl2.fold == pytest.approx(2.0)
    assert bcl2.call == "CD34pos_higher"
    assert bcl2.log2_fold == pytest.approx(1.0)
    # SE of the fold: sqrt(0.03^2 + 0.04^2) = 0.05 (GUS SE 0) -> interval as by hand above
    assert bcl2.fold_low == pytest.approx(1.59600, rel=1e-4)
    assert bcl2.fold_high == pytest.approx(2.50627, rel=1e-4)
    assert bool(bcl2.ci_crosses_threshold) is True
    assert bcl2.cd34pos == pytest.approx(0.4) and bcl2.cd34neg == pytest.approx(0.2)
    assert call_of(result, "MDR1").call == "no_difference"
    assert call_of(result, "MDR1").fold == pytest.approx(1.99)
    assert call_of(result, "LRP").call == "CD34neg_higher"
    assert call_of(result, "LRP").fold == pytest.approx(0.5)
    assert call_of(result, "BCRP").call == "no_difference"
    group = result.group.iloc[0]
    assert group.group == "both"
    assert group.genes_pos == "BCL2" and group.genes_neg == "LRP"
    assert list(result.calls.gene) == ["BCL2", "MDR1", "BCRP", "LRP"]  # config order


def test_fold_uses_gus_of_each_fraction():
    # raw target equal in both fractions, GUS 0.05 vs 0.2: AU 4x higher in CD34pos
    data = {
        "CD34pos": [("GUS", 0.05, 0.02, "ok"), ("MDR1", 0.01, 0.02, "ok")],
        "CD34neg": [("GUS", 0.2, 0.02, "ok"), ("MDR1", 0.01, 0.02, "ok")],
    }
    row = call_of(classify_frames(expression_for(data), "T"), "MDR1")
    assert row.cd34pos == pytest.approx(0.2) and row.cd34neg == pytest.approx(0.05)
    assert row.fold == pytest.approx(4.0) and row.call == "CD34pos_higher"


def test_undetected_in_both_is_not_evaluable():
    table = simple({"BCL2": (None, None), "MDR1": (1, 1), "LRP": (1, 1), "BCRP": (1, 1)})
    result = classify_frames(table, "BCP")
    row = call_of(result, "BCL2")
    assert row.call == "not_evaluable"
    assert "undetected in both" in row.reason
    group = result.group.iloc[0]
    assert group.group == "none"
    assert "3 of 4" in group.reason and "BCL2" in group.reason


def test_undetected_in_one_fraction_bounded_by_detection_limit():
    # CD34neg GUS 0.1, lowest standard 0.001 -> detection limit 0.01 AU;
    # CD34pos 0.5 AU -> fold >= 0.5 / 0.01 = 50 -> CD34pos_higher (rests on the limit);
    # made conservative by the known error (CD34pos SE 0.03, GUS SE 0, df inf):
    # 50 x 10^(-1.959964 x 0.03) = 43.6688
    # LRP: CD34pos 0.015 AU vs limit 0.01 -> fold >= 1.5 x 0.873376 = 1.31: does not decide
    table = simple(
        {"BCL2": (0.5, None), "LRP": (0.015, None), "MDR1": (1, 1), "BCRP": (1, 1)},
        range_low=0.001,
    )
    result = classify_frames(table, "BCP")
    bcl2 = call_of(result, "BCL2")
    assert bcl2.call == "CD34pos_higher"
    # the bound is the fold, with its direction: fold > 50; CD34neg < 0.01 AU
    assert (bcl2.fold, bcl2.fold_censor) == (pytest.approx(43.6688, abs=1e-4), ">")
    assert bcl2.fold_low == bcl2.fold and math.isnan(bcl2.fold_high)
    assert (bcl2.cd34neg, bcl2.cd34neg_censor, bcl2.cd34pos_censor) == (
        pytest.approx(0.01),
        "<",
        "",
    )
    assert "rests on a bound" in bcl2.reason and "bound" in bcl2["flags"].split(";")
    lrp = call_of(result, "LRP")
    assert lrp.call == "not_evaluable" and "does not decide" in lrp.reason
    assert lrp.fold_low == pytest.approx(1.5 * 10 ** (-1.959964 * 0.03), rel=1e-6)
    group = result.group.iloc[0]
    assert (group.group, group.group_flag) == ("CD34pos_only", "*")
    assert group.footnote == "BCL2: call from a bound (fold > 43.7)"
    # CD34pos undetected: fold <= limit / CD34neg value
    table = simple({"MDR1": (None, 2.0), "BCL2": (1, 1), "LRP": (1, 1), "BCRP": (1, 1)},
                   range_low=0.001)  # fmt: skip
    mdr1 = call_of(classify_frames(table, "T"), "MDR1")
    # 0.001 / 0.1 / 2.0 = 0.005, CD34neg SE 0.04: 0.005 x 10^(1.959964 x 0.04) = 0.005988
    assert mdr1.call == "CD34neg_higher"
    assert mdr1.fold_high == pytest.approx(0.005 * 10 ** (1.959964 * 0.04), rel=1e-6)
    assert mdr1.fold_censor == "<"


def test_undetected_in_one_fraction_without_limit_is_not_evaluable():
    table = simple({"BCL2": (0.5, None), "MDR1": (1, 1), "LRP": (1, 1), "BCRP": (1, 1)})
    row = call_of(classify_frames(table, "BCP"), "BCL2")
    assert row.call == "not_evaluable" and "no detection limit" in row.reason


def test_gus_failure_makes_gene_not_evaluable():
    data = {
        "CD34pos": [("GUS", 0.1, 0.02, "ok"), ("MDR1", 0.01, 0.02, "ok")],
        "CD34neg": [("GUS", NAN, NAN, "undetected"), ("MDR1", 0.01, 0.02, "ok")],
    }
    result = classify_frames(expression_for(data), "BCP", classify_settings(genes=["MDR1"]))
    row = call_of(result, "MDR1")
    assert row.call == "not_evaluable" and "GUS undetected" in row.reason
    assert result.group.iloc[0].group == "excluded"
    assert result.group.iloc[0].reason == "no gene evaluable"


def test_flow_failure_excludes_patient():
    table = simple(
        {"BCL2": (4, 1), "MDR1": (1, 1), "LRP": (1, 1), "BCRP": (1, 1)},
        flow=flow_rows("P01", pos="fail"),
    )
    result = classify_frames(table, "BCP")
    assert set(result.calls.call) == {"not_evaluable"}
    assert all("CD34pos purity fail" in r for r in result.calls.reason)
    group = result.group.iloc[0]
    assert group.group == "excluded" and "purity 0.962 < 0.98" in group.reason
    # the values stay visible for the record
    assert call_of(result, "BCL2").fold == pytest.approx(4.0)


def test_presort_heterogeneity_failure_excludes_patient():
    table = simple(
        {"BCL2": (4, 1), "MDR1": (1, 1), "LRP": (1, 1), "BCRP": (1, 1)},
        flow=flow_rows("P01", presort="fail"),
    )
    group = classify_frames(table, "BCP").group.iloc[0]
    assert group.group == "excluded" and "heterogeneity" in group.reason


def test_resistance_group_cases():
    genes = ("BCL2", "MDR1")

    def calls(a, b):
        return pd.DataFrame({"gene": list(genes), "call": [a, b]})

    assert resistance_group(calls("CD34pos_higher", "no_difference"), genes)[0] == "CD34pos_only"
    assert resistance_group(calls("no_difference", "CD34neg_higher"), genes)[0] == "CD34neg_only"
    assert resistance_group(calls("CD34pos_higher", "CD34neg_higher"), genes)[0] == "both"
    assert resistance_group(calls("no_difference", "no_difference"), genes)[0] == "none"
    assert resistance_group(calls("not_evaluable", "not_evaluable"), genes)[0] == "excluded"
    group, pos, neg, reason = resistance_group(calls("CD34pos_higher", "not_evaluable"), genes)
    assert (group, pos, neg) == ("CD34pos_only", ["BCL2"], [])
    assert "MDR1" in reason
    # genes outside classification.genes do not count
    assert resistance_group(calls("CD34pos_higher", "no_difference"), ("MDR1",))[0] == "none"


def test_fusion_comparison_and_low_gus():
    data = {
        # 6000/30000 x 100 = 20 ; 1500/25000 x 100 = 6 -> fold 3.33, CD34pos higher
        "CD34pos": [("GUS", 30000.0, 0.03, "ok"), ("TEL-AML1", 6000.0, 0.04, "ok")],
        "CD34neg": [("GUS", 25000.0, 0.03, "ok"), ("TEL-AML1", 1500.0, 0.04, "ok")],
    }
    result = classify_frames(expression_for(data, unit="copies", plate="F1"), "BCP")
    fusion = result.fusion.set_index("fraction")
    assert fusion.loc["CD34pos", "value"] == pytest.approx(20.0)
    assert fusion.loc["CD34neg", "value"] == pytest.approx(6.0)
    assert set(fusion["higher"]) == {"CD34pos"}
    assert fusion.loc["CD34pos", "fold"] == pytest.approx(20 / 6)
    assert set(fusion["eac_class"]) == {"quantifiable"}
    low = {
        "CD34pos": [("GUS", 30000.0, 0.03, "ok"), ("TEL-AML1", 6000.0, 0.04, "ok")],
        "CD34neg": [("GUS", 5000.0, 0.03, "ok"), ("TEL-AML1", 1500.0, 0.04, "ok")],
    }
    fusion = classify_frames(expression_for(low, unit="copies", plate="F1"), "BCP").fusion
    assert set(fusion["higher"]) == {"not_evaluable"}
    assert fusion.set_index("fraction").loc["CD34neg", "eac_class"] == "inevaluable"


def test_positive_not_quantifiable_fusion_has_no_number_and_no_fold():
    # EAC: TEL-AML1 in CD34neg amplified below the lowest plasmid standard (LOQ 10 copies):
    # no value, no fold; CD34pos 20 per 100 GUS copies lies above the CD34neg bound
    # 10 / 25000 x 100 = 0.04, so CD34pos is higher without any number for CD34neg
    rows = [
        qrow("GUS", "P01_CD34pos", 30000.0, 0.03, unit="copies", plate="F1"),
        qrow("TEL-AML1", "P01_CD34pos", 6000.0, 0.04, unit="copies", plate="F1"),
        qrow("GUS", "P01_CD34neg", 25000.0, 0.03, unit="copies", plate="F1"),
        dict(qrow("TEL-AML1", "P01_CD34neg", 1.0, 0.0, "below_range", "copies", "F1"),
             quantity=NAN, log10_quantity=NAN, log10_quantity_se=NAN, bound=10.0, censor="<"),
    ]  # fmt: skip
    units = pd.DataFrame(
        [{"patient": "P01", "fraction": f, "sorted_fcs": "x", "plate": "F1",
          "qpcr_sample": f"P01_{f}"} for f in ("CD34pos", "CD34neg")]
    )  # fmt: skip
    pairs = pair_patient("P01", units, {"F1": pd.DataFrame(rows)}, flow_rows("P01"))
    fusion = classify_frames(
        normalise_patient(pairs, normalise_settings()), "BCP"
    ).fusion.set_index("fraction")
    neg = fusion.loc["CD34neg"]
    assert neg.eac_class == "positive_not_quantifiable"
    assert math.isnan(neg.value) and neg.detection_limit == pytest.approx(0.04)
    assert math.isnan(neg.fold) and set(fusion["higher"]) == {"CD34pos"}
    assert "positive, not quantifiable" in neg.reason


def test_group_flag_and_footnote_for_an_interval_crossing_a_threshold():
    # BCL2 fold 2.0 with SE 0.05 (interval 1.60-2.51) crosses 2: the group is starred
    table = simple({"BCL2": (0.4, 0.2), "MDR1": (1, 1), "LRP": (1, 1), "BCRP": (1, 1)})
    group = classify_frames(table, "BCP").group.iloc[0]
    assert (group.group, group.group_flag) == ("CD34pos_only", "*")
    assert group.footnote == "BCL2: 95% interval 1.6-2.51 crosses a threshold"
    clear = simple({"BCL2": (0.8, 0.2), "MDR1": (1, 1), "LRP": (1, 1), "BCRP": (1, 1)})
    group = classify_frames(clear, "BCP").group.iloc[0]
    assert (group.group, group.group_flag, group.footnote) == ("CD34pos_only", "", "")


def test_settings_from_the_validated_section():
    """The schema checks the section and fills its defaults; from_config only types it."""
    with pytest.raises(WorkflowError, match="fold_threshold"):
        validated_config(classification={"fold_threshold": 1.0})
    settings = classify_settings(genes=["MDR1"])
    assert settings.genes == ("MDR1",) and settings.fold_threshold == 2.0
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["classification"] = {"fold_threshold": 3, "genes": ["LRP"]}  # the required keys
    validate(config, str(ROOT / "config" / "schemas" / "config.schema.yaml"))
    assert ClassifySettings.from_config(config["classification"]) == ClassifySettings(
        fold_threshold=3.0, genes=("LRP",), ci_level=0.95, use_out_of_range=True
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.fold_threshold = 1.5  # type: ignore[misc]


def test_records_in_records_out_and_frames_accepted():
    table = simple({"BCL2": (0.4, 0.2), "MDR1": (1, 1), "LRP": (1, 1), "BCRP": (1, 1)})
    result = classify_patient(table, "BCP", classify_settings())
    assert [list(row) for row in result.calls] == [CALL_COLUMNS] * 4
    assert [list(row) for row in result.group] == [GROUP_COLUMNS]
    from_frame = classify_patient(pd.DataFrame(table), "BCP", classify_settings())
    for name in ("calls", "group", "fusion"):
        pd.testing.assert_frame_equal(
            pd.DataFrame(getattr(result, name)), pd.DataFrame(getattr(from_frame, name))
        )


def test_per_patient_steps_do_not_import_heavy_libraries():
    """pair, normalise and classify run as one process per patient: pandas alone costs
    ~0.4 CPU-s to import, so their modules (and the records I/O) must not need it."""
    code = (
        "import sys; import sortpcr.pairing, sortpcr.normalise, sortpcr.classify, sortpcr.io, "
        "sortpcr.runner; "
        "print(','.join(m for m in ('pandas', 'scipy', 'matplotlib') if m in sys.modules))"
    )
    assert fresh_python(code) == ""


# --- differential: the demo spec's truth through pairing/normalise/classify -----------------


def test_spec_truth_gives_table2():
    """Noise-free quantities of the demo spec on two plates give the study's Table 2."""
    spec = load_cohort_spec()
    truth = spec.true_quantities()
    expr_rows, fusion_rows, units, flows = [], [], [], []
    for patient, fractions in truth.items():
        flows.append(flow_rows(patient))
        for fraction, by_unit in fractions.items():
            sample = f"{patient}-{fraction}"
            for unit, plate, rows in (("relative", "E", expr_rows), ("copies", "F", fusion_rows)):
                if unit not in by_unit:
                    continue
                units.append({"patient": patient, "fraction": fraction, "sorted_fcs": "x",
                              "plate": plate, "qpcr_sample": sample})  # fmt: skip
                for target, quantity in by_unit[unit].items():
                    status = "above_range" if unit == "relative" and quantity > 1 else "ok"
                    rows.append(qrow(target, sample, quantity, 0.03, status, unit, plate))
    quantities = {"E": pd.DataFrame(expr_rows), "F": pd.DataFrame(fusion_rows)}
    units_table, flow = pd.DataFrame(units), pd.concat(flows)
    groups, fusion_higher = {}, {}
    for row in spec.PATIENTS:
        patient = str(row["patient"])
        pairs = pair_patient(patient, units_table, quantities, flow)
        result = classify_frames(
            normalise_patient(pairs, normalise_settings()), str(row["lineage"])
        )
        groups[patient] = result.group.iloc[0].group
        symbols = {"CD34pos_higher": "pos", "CD34neg_higher": "neg", "no_difference": "-"}
        calls = {r.gene: symbols[r.call] for r in result.calls.itertuples()}
        assert calls == spec.EXPECTED_CALLS[patient], patient
        if len(result.fusion):
            fusion_higher[patient] = set(result.fusion["higher"])
    assert groups == spec.EXPECTED_GROUPS
    assert fusion_higher == {p: {"CD34pos"} for p in ("P06", "P07", "P08", "P10")}


def test_reference_disagreement_stars_the_group():
    # GUS and ABL1 equal in both fractions, B2M 4x higher in CD34pos: the expression rows are
    # flagged reference_disagreement, so the group rests on a normalisation in doubt
    data = {}
    for fraction, b2m in (("CD34pos", 0.8), ("CD34neg", 0.2)):
        data[fraction] = [("GUS", 0.1, 0.02, "ok"), ("ABL1", 0.05, 0.02, "ok"),
                          ("B2M", b2m, 0.02, "ok"), ("MDR1", 0.5, 0.02, "ok")]  # fmt: skip
    rows, units = [], []
    for fraction, targets in data.items():
        units.append({"patient": "P01", "fraction": fraction, "sorted_fcs": "x.fcs",
                      "plate": "E1", "qpcr_sample": fraction})  # fmt: skip
        rows += [qrow(t, fraction, q, se, st) for t, q, se, st in targets]
    pairs = pair_patient("P01", pd.DataFrame(units), {"E1": pd.DataFrame(rows)}, flow_rows("P01"))
    table = normalise_patient(
        pairs, normalise_settings(qpcr={"reference_genes": ["GUS", "ABL1", "B2M"]})
    )
    result = classify_frames(table, "BCP", classify_settings(genes=["MDR1"]))
    # MDR1 / geometric mean: CD34pos 0.5 / 0.158740, CD34neg 0.5 / 0.1 -> fold 0.63: no call
    assert call_of(result, "MDR1").call == "no_difference"
    assert "reference_disagreement" in call_of(result, "MDR1")["flags"]
    group = result.group.iloc[0]
    assert (group.group, group.group_flag) == ("none", "*")
    assert "reference genes disagree" in group.footnote
