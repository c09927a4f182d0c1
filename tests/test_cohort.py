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
)
from sortpcr.workbook import write_workbook
from tests.conftest import figure_settings, load_cohort_spec

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
        "n_flagged", "footnote", "group_label",
    ]  # fmt: skip
    assert set(t2.n_flagged) == {0} and set(t2.footnote) == {""}  # no group_flag column
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
             "call": call_fold(fold, 2.0), "reason": "", "log2_fold": math.log2(fold)}
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
                 "cd34neg": neg, "fold": pos / neg, "call": call_fold(pos / neg, 2.0)}
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
        "reference_genes",
    }  # fmt: skip
    assert tables["reference_genes"].note.iloc[0].startswith("fewer than two reference genes")
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
    assert list(back)[:4] == ["Table 1 (journal)", "Table 2 (journal)", "table1", "table2"]
    assert set(back) == set(tables) | {"Table 1 (journal)", "Table 2 (journal)", "columns"}
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
            figure = cohort_figure(name, calls, fusion, figure_settings(genes=["MDR1"]))
            for ext in ("png", "svg"):
                path = tmp_path / run / f"{name}.{ext}"
                save_figure(figure, path, 150)
                outputs.setdefault((name, ext), []).append(path.read_bytes())
    for (name, ext), (first, second) in outputs.items():
        assert first == second, (name, ext)
        assert len(first) > 5000
    with pytest.raises(ValueError, match="unknown cohort figure"):
        cohort_figure("table3", calls, fusion, figure_settings(genes=["MDR1"]))
    svg = outputs[("figure1_BCP", "svg")][0]
    assert b"<dc:date>" not in svg
    assert b"Software" not in outputs[("figure1_BCP", "png")][0]


def test_png_resolution_follows_figures_png_dpi(tmp_path):
    """figures.png_dpi (schema default 150) sets the PNG copies' resolution: 300 dpi gives
    twice the pixels on each side (to rounding) and says so in the file's pHYs chunk."""
    import struct

    from sortpcr.plots.cohort import cohort_figure, save_figure

    calls = pd.DataFrame(calls_rows([(4.0, 1.0), (1.0, 1.2)]))
    calls["cd34pos_log10_se"] = calls["cd34neg_log10_se"] = 0.05
    assert figure_settings().png_dpi == 150
    sizes = {}
    for dpi in (150, 300):
        settings = figure_settings(figures={"png_dpi": dpi}, genes=["MDR1"])
        path = tmp_path / f"{dpi}.png"
        save_figure(cohort_figure("heatmap_log2_fold", calls, pd.DataFrame(), settings), path,
                    settings.png_dpi)  # fmt: skip
        data = path.read_bytes()
        sizes[dpi] = struct.unpack(">II", data[16:24])  # IHDR width, height
        at = data.index(b"pHYs") + 4
        per_metre = struct.unpack(">I", data[at : at + 4])[0]
        assert per_metre == round(dpi / 0.0254)
    for big, small in zip(sizes[300], sizes[150], strict=True):  # inches x dpi, rounded
        assert abs(big - 2 * small) <= 1


# --- censoring, lineage comparison, claims, flagged groups ---------------------------------


def censored_calls():
    """Five BCP patients, MDR1: log2 folds 1, 2, 1.5, -0.5 measured; P05 CD34neg below its
    standards (< 0.125 AU) with CD34pos 1.0, so the fold is at least 8 (log2 >= 3); P06 both
    fractions below the standards (fold open); P07 CD34pos below (< 0.5) with CD34neg 0.5:
    fold <= 1 (log2 <= 0), direction unknown."""
    rows = calls_rows([(2.0, 1.0), (4.0, 1.0), (2.0 * 2**0.5, 1.0), (1.0, 2**0.5)])
    for row in rows:
        row.update(fold_censor="", cd34pos_censor="", cd34neg_censor="")
    rows.append({"patient": "P05", "lineage": "BCP", "gene": "MDR1", "cd34pos": 1.0,
                 "cd34neg": 0.125, "fold": 8.0, "fold_censor": ">", "cd34pos_censor": "",
                 "cd34neg_censor": "<", "call": "CD34pos_higher", "log2_fold": 3.0})  # fmt: skip
    rows.append({"patient": "P06", "lineage": "BCP", "gene": "MDR1", "cd34pos": 0.1,
                 "cd34neg": 0.1, "fold": np.nan, "fold_censor": "", "cd34pos_censor": "<",
                 "cd34neg_censor": "<", "call": "not_evaluable"})  # fmt: skip
    rows.append({"patient": "P07", "lineage": "BCP", "gene": "MDR1", "cd34pos": 0.5,
                 "cd34neg": 0.5, "fold": 1.0, "fold_censor": "", "cd34pos_censor": "<",
                 "cd34neg_censor": "", "call": "not_evaluable"})  # fmt: skip
    return pd.DataFrame(rows)


def test_censored_pairs_enter_the_paired_statistics():
    from scipy import stats as sps

    calls = censored_calls()
    groups = pd.DataFrame({"patient": calls.patient, "group": "none"})
    row = statistics(calls, groups, ["MDR1"]).iloc[0]
    # P05 (fold >= 8) and P07 (fold <= 1, its censor derived from cd34pos_censor) enter at
    # their bounds; P06 (both fractions below the standards) has no bounded fold
    assert row.n == 6 and row.n_censored == 2
    assert row.cd34pos_n_censored == 1 and row.cd34neg_n_censored == 1
    at_bound = [1.0, 2.0, 1.5, -0.5, 3.0, 0.0]
    assert row.p_t_log2 == pytest.approx(sps.ttest_1samp(at_bound, 0).pvalue)
    assert row.t_log2 == pytest.approx(sps.ttest_1samp(at_bound, 0).statistic)
    assert row.mean_log2_fold == pytest.approx(7 / 6)
    # 2-fold beyond: P05 at log2 4, P07 at log2 -1
    beyond = [1.0, 2.0, 1.5, -0.5, 4.0, -1.0]
    assert row.p_t_log2_censored_beyond == pytest.approx(sps.ttest_1samp(beyond, 0).pvalue)
    measured = [1.0, 2.0, 1.5, -0.5]
    assert row.p_t_log2_censored_excluded == pytest.approx(sps.ttest_1samp(measured, 0).pvalue)
    assert row.p_wilcoxon_censored_excluded == pytest.approx(sps.wilcoxon(measured).pvalue)
    # sign test: P05 counts up (its bound decides), P07 not (fold <= 1 leaves the sign open);
    # 4 up, 1 down: two-sided binomial p = 2 * (C(5,0) + C(5,1)) / 2^5 = 12/32
    assert (row.n_sign_pos, row.n_sign_neg) == (4, 1)
    assert row.p_sign == pytest.approx(12 / 32)
    assert math.isfinite(row.p_tobit) and row.mean_log2_fold_tobit > 0
    assert "2 censored pair(s)" in row.method
    assert "without them (n=4)" in row.sensitivity


def test_censor_columns_absent_or_empty_change_nothing():
    base = pd.DataFrame(calls_rows([(4.0, 1.0), (8.0, 2.0), (2.0, 1.0), (1.0, 3.0)]))
    groups = pd.DataFrame({"patient": base.patient, "group": "none"})
    with_empty = base.assign(fold_censor="", cd34pos_censor="", cd34neg_censor="")
    a = statistics(base, groups, ["MDR1"]).iloc[0]
    b = statistics(with_empty, groups, ["MDR1"]).iloc[0]
    pd.testing.assert_series_equal(a, b)
    assert a.n_censored == 0 and a.sensitivity == "" and math.isnan(a.p_tobit)
    assert a.method.startswith("no censored pair")


def test_tobit_without_censoring_is_the_closed_form():
    from sortpcr.censored import tobit_mean

    x = np.array([1.0, 2.0, 3.0, 4.0])
    fit = tobit_mean(list(x), [""] * 4)
    # ML: mean 2.5, SD with divisor n sqrt(1.25); LR = n ln(mean(x^2) / var_n) = 4 ln(7.5/1.25)
    assert fit["mean"] == pytest.approx(2.5, abs=1e-6)
    assert fit["sd"] == pytest.approx(math.sqrt(1.25), rel=1e-6)
    assert fit["lr"] == pytest.approx(4 * math.log(6.0), rel=1e-6)
    assert math.isnan(tobit_mean([1.0, 1.0, 5.0], ["", "", ">"])["mean"])  # SD not identified


def test_tobit_with_censoring_maximises_the_censored_likelihood():
    from scipy.stats import norm

    from sortpcr.censored import tobit_mean

    values, censors = [0.0, 1.0, 2.0, 1.5], ["", "", "", ">"]

    def loglik(mean, sd):  # the censored-normal likelihood written out
        total = sum(norm.logpdf(v, mean, sd) for v in values[:3])
        return total + norm.logsf(1.5, mean, sd)

    fit = tobit_mean(values, censors)
    means, sds = np.meshgrid(np.linspace(0.5, 2.0, 151), np.linspace(0.4, 1.6, 121))
    grid = loglik(means, sds)
    best = np.unravel_index(np.argmax(grid), grid.shape)
    assert fit["mean"] == pytest.approx(means[best], abs=0.011)
    assert fit["sd"] == pytest.approx(sds[best], abs=0.011)
    assert loglik(fit["mean"], fit["sd"]) >= grid.max() - 1e-9
    # the bound pulls the mean above the mean of the values with it at its bound (1.125)
    assert fit["mean"] > 1.125


def test_gehan_by_hand_and_mann_whitney_without_censoring():
    from scipy.stats import mannwhitneyu

    from sortpcr.censored import gehan_scores, gehan_test

    # a = 1, <0.5; b = 0.8, 2. Pairs a>b: (1, 0.8) +1; (1, 2) -1; (<0.5, 0.8) -1; (<0.5, 2) -1
    # G = -2. Pooled scores 1, -3, -1, 3; variance 2*2/(4*3) * 20 = 20/3
    assert gehan_scores([1.0, 0.5, 0.8, 2.0], ["", "<", "", ""]) == [1, -3, -1, 3]
    result = gehan_test([1.0, 0.5], ["", "<"], [0.8, 2.0], ["", ""])
    assert result["g"] == -2
    assert result["z"] == pytest.approx(-2 / math.sqrt(20 / 3))
    assert result["p"] == pytest.approx(0.438578, rel=1e-5)
    a, b = [1.0, 5.0, 7.0, 9.5], [2.0, 3.0, 4.0, 6.0, 8.0]
    mw = mannwhitneyu(a, b, method="asymptotic", use_continuity=False)
    result = gehan_test(a, [""] * 4, b, [""] * 5)
    assert result["g"] == 2 * mw.statistic - 20
    assert result["p"] == pytest.approx(mw.pvalue)


def test_censored_summary_marks_bounds_that_decide():
    from sortpcr.censored import censored_summary

    # < 0.5 is the smallest whatever its true value: min is a bound, the median is not
    s = censored_summary([1.0, 2.0, 3.0, 0.5], ["", "", "", "<"])
    assert (s["min"], s["min_censor"], s["median"], s["median_censor"]) == (0.5, "<", 1.5, "")
    # three of four below 2.5: the median (2.5 at the bounds) is at most 2.5
    s = censored_summary([2.5, 2.5, 2.5, 9.0], ["<", "<", "<", ""])
    assert (s["median"], s["median_censor"], s["max"], s["max_censor"]) == (2.5, "<", 9.0, "")
    s = censored_summary([1.0, 4.0], ["", ">"])
    assert s["max_censor"] == ">" and s["median_censor"] == ">"


def lineage_calls(bcp, t, gene="MDR1"):
    rows = calls_rows([(v, 1.0) for v in bcp], lineage="BCP", gene=gene)
    rows += calls_rows([(v, 1.0) for v in t], lineage="T", gene=gene, start=len(bcp) + 1)
    return pd.DataFrame(rows)


def test_lineage_comparison_by_hand():
    from scipy.stats import ttest_ind

    from sortpcr.lineage import lineage_comparison

    calls = lineage_calls([1.0, 2.0, 15.0], [10.0, 20.0, 30.0])
    groups = pd.DataFrame({"patient": calls.patient, "group": "none"})
    table = lineage_comparison(calls, groups, ["MDR1"])
    row = table[table.fraction == "CD34pos"].iloc[0]
    assert (row.lineage_a, row.lineage_b, row.n_a, row.n_b) == ("BCP", "T", 3, 3)
    # BCP above T in 1 of 9 pairs (15 > 10): U_BCP = 1. Exact: of the C(6,3) = 20 equally
    # likely orderings, U <= 1 in 2 (U = 0, 1) and U >= 8 in 2: p = 4/20
    assert row.u_a == 1 and row.prob_a_higher == pytest.approx(1 / 9)
    assert row.p_mann_whitney == pytest.approx(0.2)
    assert row.higher == "T"
    assert (row.median_a, row.min_a, row.max_a) == (2.0, 1.0, 15.0)
    assert (row.median_b, row.min_b, row.max_b) == (20.0, 10.0, 30.0)
    expected = ttest_ind(np.log2([1, 2, 15]), np.log2([10, 20, 30]), equal_var=False)
    assert row.welch_t == pytest.approx(expected.statistic)
    assert row.p_welch_log2 == pytest.approx(expected.pvalue)
    assert row.p_mann_whitney_bh == pytest.approx(row.p_mann_whitney)  # one gene
    # CD34neg: all 1.0, tied: no direction
    neg = table[table.fraction == "CD34neg"].iloc[0]
    assert neg.higher == "" and neg.prob_a_higher == 0.5


def test_welch_by_hand():
    from sortpcr.lineage import welch_log2

    # log2 values 0, 1, 2 (mean 1, var 1) and 3, 5 (mean 4, var 2): se^2 = 1/3 + 1 = 4/3,
    # t = -3 / sqrt(4/3); df = (4/3)^2 / ((1/3)^2 / 2 + 1^2 / 1) = (16/9) / (19/18) = 32/19
    result = welch_log2([1.0, 2.0, 4.0], [8.0, 32.0])
    assert result["t"] == pytest.approx(-3 / math.sqrt(4 / 3))
    assert result["df"] == pytest.approx(32 / 19)
    assert result["diff"] == pytest.approx(-3.0)


def test_lineage_bh_over_genes_and_excluded_left_out():
    from sortpcr.lineage import lineage_comparison

    calls = pd.concat(
        [
            lineage_calls([1.0, 2.0, 3.0, 1.5], [10.0, 20.0, 30.0, 12.0], gene="MDR1"),
            lineage_calls([1.0, 2.0, 3.0, 1.5], [1.2, 2.5, 0.9, 1.8], gene="LRP"),
        ]
    )
    calls.loc[len(calls)] = calls.iloc[0].copy()
    calls.iloc[-1, calls.columns.get_loc("patient")] = "P99"
    calls.iloc[-1, calls.columns.get_loc("cd34pos")] = 1000.0
    groups = pd.DataFrame({"patient": [*calls.patient.unique()], "group": "none"})
    groups.loc[groups.patient == "P99", "group"] = "excluded"
    table = lineage_comparison(calls, groups, ["MDR1", "LRP"])
    pos = table[table.fraction == "CD34pos"].set_index("gene")
    assert pos.loc["MDR1", "n_a"] == 4 and pos.loc["MDR1", "max_a"] == 3.0  # P99 left out
    assert list(pos.p_mann_whitney_bh) == pytest.approx(
        benjamini_hochberg(list(pos.p_mann_whitney))
    )


def test_lineage_censored_values_use_gehan():
    from sortpcr.lineage import lineage_comparison

    calls = lineage_calls([0.01, 2.0, 3.0], [10.0, 20.0, 30.0])
    calls["cd34pos_censor"] = ["<", "", "", "", "", ""]
    groups = pd.DataFrame({"patient": calls.patient, "group": "none"})
    row = lineage_comparison(calls, groups, ["MDR1"]).query("fraction == 'CD34pos'").iloc[0]
    assert row.n_censored_a == 1 and row.min_a_censor == "<" and row.median_a_censor == ""
    assert math.isfinite(row.p_gehan) and "1 bound(s)" in row.method


def flagged_groups():
    table = groups_table(STUDY_GROUPS)
    table["group_flag"] = ""
    table["footnote"] = ""
    table.loc[table.patient == "P02", ["group_flag", "footnote"]] = [
        "*", "MDR1: 95 % interval 1.6-4.1 crosses the 2-fold threshold",
    ]  # fmt: skip
    table.loc[table.patient == "P14", ["group_flag", "footnote"]] = [
        "*", "LRP: CD34pos below the lowest standard (bound)",
    ]  # fmt: skip
    return table


def test_table2_shows_flagged_groups():
    t2 = table2(flagged_groups())
    assert cell(t2, "CD34neg_only", "BCP", "patients") == "P02*, P07, P08, P09, P10, P11"
    assert cell(t2, "CD34neg_only", "BCP", "n_flagged") == 1
    assert cell(t2, "CD34neg_only", "all", "n_flagged") == 2
    assert cell(t2, "CD34neg_only", "all", "n") == 9  # counting is unchanged
    assert cell(t2, "CD34neg_only", "T", "footnote") == (
        "P14*: LRP: CD34pos below the lowest standard (bound)"
    )
    assert cell(t2, "CD34pos_only", "all", "n_flagged") == 0
    assert cell(t2, "CD34neg_only", "T", "group_label") == "CD34neg_only*"
    assert cell(t2, "CD34pos_only", "all", "group_label") == "CD34pos_only"
    wide = table2_wide(t2).set_index("group")
    assert "CD34neg_only*" in wide.index and "CD34pos_only" in wide.index
    assert wide.loc["CD34neg_only*", "footnote"].startswith("P02*: MDR1: 95 % interval")
    assert "P02*" in wide.loc["CD34neg_only*", "BCP (n=11)"]


def test_cohort_groups_keep_flags_and_label():
    from sortpcr.cohort import cohort_groups

    table = cohort_groups([flagged_groups()])
    row = table.set_index("patient").loc["P02"]
    assert (row.group, row.group_flag, row.group_label) == ("CD34neg_only", "*", "CD34neg_only*")
    plain = cohort_groups([groups_table(STUDY_GROUPS)])
    assert set(plain.group_flag) == {""} and list(plain.group_label) == list(plain.group)


def spec_tables():
    """Cohort tables built from the demo's true values (no measurement noise)."""
    spec = load_cohort_spec()
    from sortpcr.lineage import lineage_comparison

    lineage_of = {str(r["patient"]): str(r["lineage"]) for r in spec.PATIENTS}
    rows = []
    for patient, lineage in lineage_of.items():
        for gene in spec.GENES:
            pos, neg = spec.EXPRESSION[patient][gene]
            fold = pos / neg
            rows.append({"patient": patient, "lineage": lineage, "gene": gene, "cd34pos": pos,
                         "cd34neg": neg, "fold": fold, "call": call_fold(fold, 2.0)})  # fmt: skip
    calls = pd.DataFrame(rows)
    groups = pd.DataFrame(
        [{"patient": p, "lineage": lineage_of[p], "group": g}
         for p, g in spec.EXPECTED_GROUPS.items()]
    )  # fmt: skip
    table1_rows = pd.DataFrame(
        [{"patient": r["patient"], "lineage": r["lineage"], "cd34_pct": r["cd34_pct"]}
         for r in spec.PATIENTS]
    )  # fmt: skip
    fusion = pd.DataFrame(
        [{"patient": p, "gene": "TEL-AML1", "fraction": f, "higher": "CD34pos"}
         for p in spec.TEL_AML1_NCN for f in ("CD34pos", "CD34neg")]
    )  # fmt: skip
    return {
        "calls": calls,
        "resistance_groups": groups,
        "table1": table1_rows,
        "fusion": fusion,
        "lineage": lineage_comparison(calls, groups, spec.GENES),
    }


def test_claims_from_the_demo_truth_reproduce_the_study():
    from sortpcr.claims import evaluate_claims, load_claims

    claims = evaluate_claims(load_claims(ROOT / "resources" / "study_claims.yaml"), spec_tables())
    assert list(claims.columns[:7]) == [
        "claim_id", "section", "statement", "study_value", "computed_value", "agree", "note",
    ]  # fmt: skip
    disagree = set(claims.loc[~claims.agree, "claim_id"])
    # the one statement of the paper that contradicts its own Results
    assert disagree == {"D-T-BCRP-direction-all"}
    assert claims.claim_id.is_unique and len(claims) >= 45
    row = claims.set_index("claim_id").loc["R-MDR1-T-CD34pos"]
    assert row.computed_value == "60.4 (13.2-2384.0)"
    assert (
        claims.set_index("claim_id")
        .loc["T2-CD34neg_only-all"]
        .computed_value.startswith("9 of 17 (52.9 %)")
    )


def test_claims_disagree_when_a_count_differs():
    from sortpcr.claims import evaluate_claims, load_claims

    tables = spec_tables()
    calls = tables["calls"]
    calls.loc[(calls.patient == "P05") & (calls.gene == "MDR1"), "call"] = "CD34pos_higher"
    claims = evaluate_claims(load_claims(ROOT / "resources" / "study_claims.yaml"), tables)
    row = claims.set_index("claim_id").loc["R-BCP-MDR1-CD34pos"]
    assert not row.agree and row.computed_value == "4 of 11 (P03, P04, P05, P06)"
    assert "P03, P04, P06" in row.note
    # a bounded fold is never taken for the study's number
    calls.loc[(calls.patient == "P14") & (calls.gene == "LRP"), "fold_censor"] = "<"
    calls["fold_censor"] = calls["fold_censor"].fillna("")
    claims = evaluate_claims(load_claims(ROOT / "resources" / "study_claims.yaml"), tables)
    row = claims.set_index("claim_id").loc["R-T-LRP-fold-14"]
    assert not row.agree and row.computed_value.startswith("> 3.9") and "bound" in row.note
    assert claims.set_index("claim_id").loc["R-T-LRP-direction"].agree  # its sign is known


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("claims: [{id: a, kind: nope, study: {}}]", "kind 'nope' is not one of"),
        ("claims: [{id: a, kind: fold, study: {}}, {id: a, kind: fold, study: {}}]",
         "claim 'a': duplicate id"),
        ("claims: [{kind: fold}]", "claim 1: every claim needs an 'id'"),
        ("[1, 2", "not valid YAML"),
        ("claims: [{id: b, kind: fold, study: 3}]", "'study' must be a mapping"),
    ],
)  # fmt: skip
def test_bad_claims_file_names_file_and_claim(tmp_path, text, message):
    from sortpcr.claims import ClaimsError, load_claims

    path = tmp_path / "claims.yaml"
    path.write_text(text)
    with pytest.raises(ClaimsError, match=message) as error:
        load_claims(path)
    assert str(path) in str(error.value)


def figure_texts(figure):
    """Every text drawn on a figure (titles, tick labels, annotations)."""
    from matplotlib.text import Text

    return [t.get_text() for t in figure.findobj(Text) if t.get_text()]


def test_cohort_figures_draw_bounds_words_and_readable_log_axes(tmp_path):
    from matplotlib.lines import Line2D

    from sortpcr.plots.cohort import cohort_figure, log2_text, save_figure

    calls = censored_calls()
    calls["cd34pos_log10_se"] = 0.05
    calls["cd34neg_log10_se"] = 0.05
    calls.loc[calls.patient == "P04", "log2_fold"] = -0.04  # rounds to 0.0, not -0.0
    groups = groups_table({p: "CD34pos_only" for p in calls.patient})
    groups["group_flag"] = ["*", "", "", "", "", "", ""]
    figure = cohort_figure(
        "figure1_BCP", calls, pd.DataFrame(), figure_settings(genes=["MDR1"]), groups
    )
    markers = [line.get_marker() for line in figure.findobj(Line2D) if line.get_xydata().size]
    assert "v" in markers  # P06 CD34pos, P07 CD34pos below the standards: at most
    texts = figure_texts(figure)
    assert any(t.endswith("\u22658.0\u00d7") for t in texts)  # P05: fold >= 8
    ax = figure.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    visible = [float(t) for t in labels if ax.get_ylim()[0] <= float(t) <= ax.get_ylim()[1]]
    assert len(visible) >= 4 and all("10^" not in t and "$" not in t for t in labels)

    heat = cohort_figure(
        "heatmap_log2_fold", calls, pd.DataFrame(), figure_settings(genes=["MDR1"]), groups
    )
    texts = figure_texts(heat)
    assert "\u00b11 = 2-fold" in " ".join(texts)
    at_three = figure_settings(genes=["MDR1"], fold_threshold=3.0)
    three = " ".join(
        figure_texts(cohort_figure("heatmap_log2_fold", calls, pd.DataFrame(), at_three))
    )
    assert "\u00b11.58496 = 3-fold" in three and "= 2-fold" not in three
    assert "≥3-fold higher" in " ".join(
        figure_texts(cohort_figure("figure1_BCP", calls, pd.DataFrame(), at_three, groups))
    )
    assert "resistance group" in texts
    assert "higher in CD34+ blasts only*" in texts and "higher in CD34+ blasts only" in texts
    assert not any("-0.0" in t or "+0.0" in t for t in texts)
    assert "0.0 =" in texts and "\u2265+3.0 +" in texts  # P04; P05's bound
    assert log2_text(-0.04) == "0.0" and log2_text(0.04) == "0.0" and log2_text(-1.26) == "-1.3"

    fusion = pd.DataFrame(
        [{"patient": "P01", "gene": "TEL-AML1", "fraction": f, "value": v, "log10_se": 0.05,
          "eac_class": "quantifiable", "higher": "CD34pos", "fold": 85.0 / 32.0}
         for f, v in (("CD34pos", 85.0), ("CD34neg", 32.0))]
    )  # fmt: skip
    fig = cohort_figure("fusion_TEL-AML1", calls, fusion, figure_settings(genes=["MDR1"]))
    assert "CD34+ higher\n2.7\u00d7" in figure_texts(fig)
    assert not any("CD34pos" in t for t in figure_texts(fig))
    path = tmp_path / "heat.svg"
    save_figure(heat, path, 150)
    svg = path.read_text()
    assert "<text" in svg and "resistance group" in svg  # editable text, not glyph paths


def reference_rows(levels):
    """Expression rows of kind ``reference``: gene -> log2 quantity per sample (P01..Pn,
    CD34pos, plate EXPR01), plus combined rows that must be ignored."""
    rows = []
    for gene, values in levels.items():
        for i, value in enumerate(values, start=1):
            for plate in ("EXPR01", "combined"):
                rows.append({"patient": f"P{i:02d}", "fraction": "CD34pos", "plate": plate,
                             "gene": gene, "kind": "reference", "unit": "relative",
                             "target_quantity": 2.0**value if plate == "EXPR01" else 99.0,
                             "status": "ok"})  # fmt: skip
    return pd.DataFrame(rows)


def test_reference_gene_stability_by_hand():
    from sortpcr.cohort import reference_gene_stability

    # log2 A = 0, 1, 2; B = 0, 0, 0; C = A + 1. SD(A - B) = 1, SD(A - C) = 0, SD(B - C) = 1:
    # M_A = (1 + 0) / 2 = 0.5, M_C = 0.5, M_B = (1 + 1) / 2 = 1 -> order A, C, B.
    # V2/3: NF2 = mean(A, C) = 0.5, 1.5, 2.5; NF3 = 1/3, 1, 5/3; difference 1/6, 1/2, 5/6:
    # SD 1/3
    table = reference_gene_stability(
        reference_rows({"A": [0, 1, 2], "B": [0, 0, 0], "C": [1, 2, 3]})
    )
    m = table[table.measure == "M"].set_index("gene")
    assert list(m.index) == ["A", "C", "B"] and list(m["rank"]) == [1, 2, 3]
    assert m.loc["A", "value"] == pytest.approx(0.5) and m.loc["B", "value"] == pytest.approx(1)
    assert set(table.n_samples) == {3}
    v = table[table.measure == "V2/3"].iloc[0]
    assert v.gene == "B" and v.value == pytest.approx(1 / 3) and v.note == ""
    # a third gene that tracks the first two closely adds little: V below 0.15, noted
    close = reference_gene_stability(
        reference_rows({"A": [0, 1, 2], "B": [0.1, 1.0, 2.1], "C": [0.05, 1.05, 2.0]})
    )
    v = close[close.measure == "V2/3"].iloc[0]
    assert v.value < 0.15 and "adds little" in v.note
    # one reference gene: a row that says so
    one = reference_gene_stability(reference_rows({"GUS": [0, 1]}))
    assert len(one) == 1 and "geNorm needs two" in one.note.iloc[0]
