"""Cohort tables and statistics: hand-worked numbers, scipy cross-checks, the workbook."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sortpcr.classify import call_fold
from sortpcr.cohort import (
    benjamini_hochberg,
    build_cohort,
    statistics,
    table1,
    table2,
    table2_wide,
    write_workbook,
)
from tests.conftest import load_cohort_spec

ROOT = Path(__file__).resolve().parents[1]

STUDY_GROUPS = {
    "P01": "CD34pos_only", "P02": "CD34neg_only", "P03": "both", "P04": "CD34pos_only",
    "P05": "none", "P06": "CD34pos_only", "P07": "CD34neg_only", "P08": "CD34neg_only",
    "P09": "CD34neg_only", "P10": "CD34neg_only", "P11": "CD34neg_only", "P12": "both",
    "P13": "both", "P14": "CD34neg_only", "P15": "CD34pos_only", "P16": "CD34neg_only",
    "P17": "CD34neg_only",
}  # fmt: skip


def groups_table(assignments):
    return pd.DataFrame(
        [
            {"patient": p, "lineage": "BCP" if int(p[1:]) <= 11 else "T", "group": g,
             "genes_pos": "", "genes_neg": "", "reason": ""}
            for p, g in assignments.items()
        ]
    )  # fmt: skip


def cell(table, group, lineage, column):
    row = table[(table.group == group) & (table.lineage == lineage)]
    assert len(row) == 1, (group, lineage)
    return row.iloc[0][column]


def test_table2_percentages_as_the_study():
    t2 = table2(groups_table(STUDY_GROUPS))
    # all 17: 9/17 = 52.9 %, 4/17 = 23.5 %, 3/17 = 17.6 %, 1/17 = 5.9 %
    assert cell(t2, "CD34neg_only", "all", "n") == 9
    assert cell(t2, "CD34neg_only", "all", "pct_all") == 52.9
    assert cell(t2, "CD34pos_only", "all", "pct_all") == 23.5
    assert cell(t2, "both", "all", "pct_all") == 17.6
    assert cell(t2, "none", "all", "pct_all") == 5.9
    assert cell(t2, "CD34neg_only", "BCP", "patients") == "P02, P07, P08, P09, P10, P11"
    assert cell(t2, "CD34neg_only", "BCP", "n_lineage") == 11
    assert cell(t2, "CD34neg_only", "BCP", "pct_lineage") == 54.5  # 6/11
    assert cell(t2, "CD34neg_only", "BCP", "pct_all") == 35.3  # 6/17
    assert cell(t2, "CD34pos_only", "T", "patients") == "P15"
    assert cell(t2, "both", "T", "patients") == "P12, P13"
    assert cell(t2, "none", "T", "n") == 0 and cell(t2, "none", "T", "patients") == ""
    assert "excluded" not in set(t2.group)
    assert list(t2.columns) == [
        "group", "lineage", "n", "n_lineage", "pct_lineage", "pct_all", "patients",
    ]  # fmt: skip
    wide = table2_wide(t2).set_index("group")
    assert wide.loc["CD34neg_only", "all (n=17)"].startswith("9/17, 52.9 %")


def test_table2_excluded_patient_leaves_the_denominators():
    assignments = dict(STUDY_GROUPS, P05="excluded")
    t2 = table2(groups_table(assignments))
    assert cell(t2, "excluded", "all", "patients") == "P05"
    assert math.isnan(cell(t2, "excluded", "all", "pct_all"))
    assert cell(t2, "CD34neg_only", "all", "pct_all") == 56.2  # 9/16
    assert cell(t2, "CD34neg_only", "BCP", "n_lineage") == 10


def test_benjamini_hochberg_by_hand():
    # sorted 0.01, 0.03, 0.04, 0.5 (m = 4): p*m/rank = 0.04, 0.06, 0.0533, 0.5;
    # cumulative minimum from the largest rank down: 0.04, 0.0533, 0.0533, 0.5
    adjusted = benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
    assert adjusted == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])
    # missing p-values do not count in m: 0.01*2/1 = 0.02, 0.04*2/2 = 0.04
    adjusted = benjamini_hochberg([0.01, math.nan, 0.04])
    assert adjusted[0] == pytest.approx(0.02) and adjusted[2] == pytest.approx(0.04)
    assert math.isnan(adjusted[1])
    assert benjamini_hochberg([0.9, 0.8]) == pytest.approx([0.9, 0.9])


def calls_rows(values, lineage="BCP", gene="MDR1", start=1):
    rows = []
    for i, (pos, neg) in enumerate(values, start=start):
        fold = pos / neg
        rows.append(
            {"patient": f"P{i:02d}", "lineage": lineage, "gene": gene, "cd34pos": pos,
             "cd34neg": neg, "fold": fold, "fold_low": np.nan, "fold_high": np.nan,
             "call": call_fold(fold), "reason": "", "log2_fold": math.log2(fold)}
        )  # fmt: skip
    return rows


def test_paired_tests_by_hand_and_scipy():
    # log2 folds 2, 2, 1: mean 5/3, SD sqrt(1/3), SE 1/3 -> t = 5 (df 2);
    # two-sided p for df 2 = 1 - t / sqrt(t^2 + 2) = 1 - 5/sqrt(27) = 0.0377503
    # raw differences 3, 6, 1: t = (10/3) / (sqrt(19/3)/sqrt(3)) = 2.29416, p = 0.148744
    # Wilcoxon on 2, 2, 1: all positive, n = 3: W = 0, exact p = 2/8 = 0.25
    calls = pd.DataFrame(calls_rows([(4.0, 1.0), (8.0, 2.0), (2.0, 1.0)]))
    groups = pd.DataFrame({"patient": ["P01", "P02", "P03"], "group": ["none"] * 3})
    stats = statistics(calls, groups, ["MDR1"]).set_index(["lineage", "gene"])
    row = stats.loc[("BCP", "MDR1")]
    assert row.n == 3
    assert row.t_log2 == pytest.approx(5.0)
    assert row.p_t_log2 == pytest.approx(1 - 5 / math.sqrt(27), rel=1e-6)
    assert row.t_raw == pytest.approx(2.29416, rel=1e-5)
    assert row.p_t_raw == pytest.approx(0.148744, rel=1e-4)
    assert row.wilcoxon_w == 0 and row.p_wilcoxon == pytest.approx(0.25)
    assert row.cd34pos_median == 4.0 and row.cd34neg_min == 1.0 and row.cd34pos_max == 8.0
    assert row.mean_log2_fold == pytest.approx(5 / 3)
    assert row.n_cd34pos_higher == 3 and row.n_no_difference == 0
    assert row.p_t_log2_bh == pytest.approx(row.p_t_log2)  # one gene: BH leaves p alone
    # second implementation: scipy on the same numbers
    from scipy import stats as sps

    assert row.p_t_log2 == pytest.approx(sps.ttest_rel([2, 3, 1], [0, 1, 0]).pvalue)


def test_excluded_patient_left_out_of_statistics():
    base = calls_rows([(4.0, 1.0), (8.0, 2.0), (2.0, 1.0)])
    outlier = calls_rows([(1000.0, 0.001)], start=4)
    outlier[0]["call"] = "not_evaluable"
    calls = pd.DataFrame(base + outlier)
    groups = pd.DataFrame(
        {"patient": ["P01", "P02", "P03", "P04"], "group": ["none", "none", "none", "excluded"]}
    )
    with_excluded = statistics(calls, groups, ["MDR1"]).iloc[0]
    without = statistics(pd.DataFrame(base), groups.iloc[:3], ["MDR1"]).iloc[0]
    assert with_excluded.n == 3 and with_excluded.n_patients == 3
    assert with_excluded.n_not_evaluable == 0
    for column in ("t_log2", "p_t_log2", "cd34pos_max", "cd34neg_min", "p_wilcoxon"):
        assert with_excluded[column] == pytest.approx(without[column])


def test_not_evaluable_gene_counted_but_not_paired():
    rows = calls_rows([(4.0, 1.0), (8.0, 2.0), (2.0, 1.0)])
    rows[2].update(call="not_evaluable", cd34neg=np.nan)
    calls = pd.DataFrame(rows)
    groups = pd.DataFrame({"patient": ["P01", "P02", "P03"], "group": ["none"] * 3})
    row = statistics(calls, groups, ["MDR1"]).iloc[0]
    assert row.n_patients == 3 and row.n == 2 and row.n_not_evaluable == 1
    assert row.cd34pos_median == 6.0


def test_bh_across_genes_within_lineage():
    rows = calls_rows([(4.0, 1.0), (8.0, 2.0), (2.0, 1.0)], gene="MDR1")
    rows += calls_rows([(1.0, 1.1), (2.0, 1.8), (1.0, 1.05)], gene="LRP")
    calls = pd.DataFrame(rows)
    groups = pd.DataFrame({"patient": ["P01", "P02", "P03"], "group": ["none"] * 3})
    stats = statistics(calls, groups, ["MDR1", "LRP"])
    bcp = stats[stats.lineage == "BCP"].set_index("gene")
    expected = benjamini_hochberg(list(bcp.p_t_log2))
    assert list(bcp.p_t_log2_bh) == pytest.approx(expected)
    assert set(stats.lineage) == {"BCP", "all"}


def test_spec_statistics_recover_study_medians_and_counts():
    spec = load_cohort_spec()
    rows = []
    for record in spec.PATIENTS:
        patient = str(record["patient"])
        for gene in spec.GENES:
            pos, neg = spec.EXPRESSION[patient][gene]
            rows.append(
                {"patient": patient, "lineage": record["lineage"], "gene": gene, "cd34pos": pos,
                 "cd34neg": neg, "fold": pos / neg, "call": call_fold(pos / neg)}
            )  # fmt: skip
    calls = pd.DataFrame(rows)
    groups = pd.DataFrame({"patient": spec.patient_ids(), "group": "none"})
    stats = statistics(calls, groups, spec.GENES).set_index(["lineage", "gene"])
    for (lineage, fraction), (median, low, high) in spec.EXPECTED_MDR1_SUMMARY.items():
        prefix = fraction.lower()
        row = stats.loc[(lineage, "MDR1")]
        assert row[f"{prefix}_median"] == pytest.approx(median)
        assert row[f"{prefix}_min"] == pytest.approx(low)
        assert row[f"{prefix}_max"] == pytest.approx(high)
    bcp_mdr1 = stats.loc[("BCP", "MDR1")]
    assert (bcp_mdr1.n_cd34pos_higher, bcp_mdr1.n_cd34neg_higher, bcp_mdr1.n_no_difference) == (
        3,
        4,
        4,
    )
    assert stats.loc[("T", "LRP")].n_cd34neg_higher == 3
    assert stats.loc[("all", "MDR1")].n == 17


def flow_table():
    rows = []
    for patient, pct, purity, status in (("P01", 70.2, 0.991, "pass"), ("P02", 48.0, 0.95, "fail")):
        rows.append(
            {
                "patient": patient,
                "fraction": "presort",
                "pct_cd34pos": pct,
                "purity": np.nan,
                "status": "pass",
                "reason": "",
            }
        )
        rows.append(
            {
                "patient": patient,
                "fraction": "CD34pos",
                "pct_cd34pos": np.nan,
                "purity": purity,
                "status": status,
                "reason": "" if status == "pass" else "purity 0.95 < 0.98",
            }
        )
        rows.append({"patient": patient, "fraction": "CD34neg", "pct_cd34pos": np.nan,
                     "purity": 0.993, "status": "pass", "reason": ""})  # fmt: skip
    return pd.DataFrame(rows)


SAMPLES = [
    {"patient": "P02", "lineage": "BCP", "age": "<1", "status": "diagnosis",
     "fusion": "MLL-AF1p", "markers": "CD15", "presort_fcs": "x.fcs"},
    {"patient": "P01", "lineage": "BCP", "age": 2, "status": "diagnosis",
     "fusion": "negative", "markers": "CD45, CD13", "presort_fcs": "y.fcs"},
]  # fmt: skip


def test_table1_measured_cd34_and_purity():
    t1 = table1(SAMPLES, flow_table()).set_index("patient")
    assert list(t1.index) == ["P01", "P02"]
    assert t1.loc["P01", "cd34_pct"] == pytest.approx(70.2)
    assert t1.loc["P01", "age"] == "2" and t1.loc["P02", "age"] == "<1"
    assert t1.loc["P01", "purity_cd34pos_pct"] == pytest.approx(99.1)
    assert t1.loc["P01", "flow_qc"] == "pass"
    assert t1.loc["P02", "flow_qc"] == "fail"
    assert "CD34pos: purity 0.95 < 0.98" in t1.loc["P02", "flow_reason"]
    assert t1.loc["P02", "markers"] == "CD15" and t1.loc["P02", "fusion"] == "MLL-AF1p"


def test_build_cohort_and_workbook_round_trip(tmp_path):
    calls = pd.DataFrame(calls_rows([(4.0, 1.0), (1.0, 1.2)]))
    calls["ci_crosses_threshold"] = [0.0, np.nan]  # as read back from mixed TSVs
    groups = pd.DataFrame(
        [
            {"patient": "P01", "lineage": "BCP", "group": "CD34pos_only", "genes_pos": "MDR1",
             "genes_neg": "", "reason": ""},
            {"patient": "P02", "lineage": "BCP", "group": "excluded", "genes_pos": "",
             "genes_neg": "", "reason": "flow QC failed: CD34pos purity fail"},
        ]
    )  # fmt: skip
    expression = pd.DataFrame(
        [{"patient": "P01", "fraction": "CD34pos", "plate": "combined", "gene": "MDR1",
          "kind": "expression", "unit": "relative", "value": 4.0, "status": "ok"}]
    )  # fmt: skip
    tables = build_cohort(
        SAMPLES, flow_table(), [calls], [groups.iloc[[1]], groups.iloc[[0]]], [expression],
        genes=["MDR1"],
    )  # fmt: skip
    assert set(tables) == {
        "calls", "resistance_groups", "table1", "table2", "expression", "fusion",
    }  # fmt: skip
    tables["statistics"] = statistics(tables["calls"], tables["resistance_groups"], ["MDR1"])
    assert list(tables["resistance_groups"].patient) == ["P01", "P02"]
    assert list(tables["calls"].ci_crosses_threshold) == [False, None]
    assert tables["expression"].lineage.iloc[0] == "BCP"
    assert len(tables["fusion"]) == 0 and "value" in tables["fusion"].columns
    stats = tables["statistics"]
    assert stats.loc[stats.lineage == "BCP", "n_patients"].iloc[0] == 1  # P02 excluded
    first, second = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    write_workbook(first, tables)
    write_workbook(second, tables)
    assert first.read_bytes() == second.read_bytes()  # deterministic
    back = pd.read_excel(first, sheet_name=None)
    assert list(back)[:4] == ["table1", "table2", "table2_as_study", "resistance_groups"]
    assert set(back) == set(tables) | {"table2_as_study"}
    assert back["calls"].loc[0, "fold"] == pytest.approx(4.0)
    assert back["resistance_groups"].loc[1, "reason"] == "flow QC failed: CD34pos purity fail"
    assert back["table2"].shape[0] == len(tables["table2"])


def test_figures_deterministic_png_and_svg(tmp_path):
    from sortpcr.plots.cohort import cohort_figure, figure_names, save_figure

    rows = calls_rows([(4.0, 1.0), (1.0, 1.2), (0.2, 0.9)])
    rows += calls_rows([(30.0, 6.0), (13.0, 130.0)], lineage="T", start=4)
    rows[1].update(call="not_evaluable", cd34neg=np.nan, fold=np.nan, log2_fold=np.nan)
    calls = pd.DataFrame(rows)
    calls["cd34pos_log10_se"] = 0.05
    calls["cd34neg_log10_se"] = 0.05
    fusion = pd.DataFrame(
        [
            {"patient": "P01", "gene": "TEL-AML1", "fraction": f, "value": v, "log10_se": 0.05,
             "eac_class": c, "higher": "CD34pos"}
            for f, v, c in (("CD34pos", 85.0, "quantifiable"), ("CD34neg", np.nan, "negative"))
        ]
    )  # fmt: skip
    names = figure_names(calls, fusion)
    assert names == ["figure1_BCP", "figure2_T", "heatmap_log2_fold", "fusion_TEL-AML1"]
    outputs = {}
    for run in ("a", "b"):
        for name in names:
            figure = cohort_figure(name, calls, fusion, ["MDR1"], 2.0)
            for ext in ("png", "svg"):
                path = tmp_path / run / f"{name}.{ext}"
                save_figure(figure, path)
                outputs.setdefault((name, ext), []).append(path.read_bytes())
    for (name, ext), (first, second) in outputs.items():
        assert first == second, (name, ext)
        assert len(first) > 5000
    with pytest.raises(ValueError, match="unknown cohort figure"):
        cohort_figure("table3", calls, fusion, ["MDR1"])
    svg = outputs[("figure1_BCP", "svg")][0]
    assert b"<dc:date>" not in svg
    assert b"Software" not in outputs[("figure1_BCP", "png")][0]
