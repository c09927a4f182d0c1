"""End to end: real Snakemake on the bundled demo cohort reproduces the study from raw files."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import snakemake

pytestmark = pytest.mark.e2e

#: Table 2 of Shman et al. (resistant-subpopulation groups)
TABLE2 = {
    "CD34pos_only": {"P01", "P04", "P06", "P15"},
    "CD34neg_only": {"P02", "P07", "P08", "P09", "P10", "P11", "P14", "P16", "P17"},
    "both": {"P03", "P12", "P13"},
    "none": {"P05"},
}
#: Table 1 CD34 % of the study
CD34_PCT = dict(
    zip(
        [f"P{i:02d}" for i in range(1, 18)],
        [70, 48, 58, 50, 22, 33, 34, 59, 46, 70, 46, 80, 14, 58, 67, 54, 47],
        strict=True,
    )
)
#: per-gene calls of the study (pos = higher in CD34+, neg = higher in CD34-, - = no difference)
CALLS = """
P01 pos - pos -
P02 - neg neg -
P03 - pos neg -
P04 - pos - -
P05 - - - -
P06 - pos - -
P07 neg - - -
P08 neg - - -
P09 - neg - -
P10 - neg - -
P11 - neg - -
P12 - pos neg -
P13 - pos - neg
P14 - neg neg neg
P15 - pos - -
P16 - neg - neg
P17 neg - neg -
"""
WORDS = {"pos": "CD34pos_higher", "neg": "CD34neg_higher", "-": "no_difference"}


def read(demo_run, *parts):
    return pd.read_csv(demo_run.joinpath("results", *parts), sep="\t", keep_default_na=False)


def test_resistance_groups_equal_table2(demo_run):
    groups = read(demo_run, "cohort", "resistance_groups.tsv")
    found = {g: set(rows["patient"]) for g, rows in groups.groupby("group")}
    assert found == TABLE2


def test_every_call_equals_the_study(demo_run):
    calls = read(demo_run, "cohort", "calls.tsv")
    got = {(r.patient, r.gene): r.call for r in calls.itertuples()}
    for line in CALLS.strip().splitlines():
        patient, *marks = line.split()
        for gene, mark in zip(["BCL2", "MDR1", "BCRP", "LRP"], marks, strict=True):
            assert got[(patient, gene)] == WORDS[mark], (patient, gene)


def test_bcp_mdr1_counts_as_in_results(demo_run):
    calls = read(demo_run, "cohort", "calls.tsv")
    bcp = calls[(calls["lineage"] == "BCP") & (calls["gene"] == "MDR1")]
    assert bcp["call"].value_counts().to_dict() == {
        "CD34neg_higher": 4,
        "no_difference": 4,
        "CD34pos_higher": 3,
    }


def test_table2_percentages(demo_run):
    table2 = read(demo_run, "cohort", "table2.tsv")
    text = table2.to_csv(sep="\t")
    assert "52.9" in text and "23.5" in text and "17.6" in text and "5.9" in text


def test_flow_qc_matches_table1_and_sorts_pass(demo_run):
    flow = read(demo_run, "qc", "flow.tsv")
    presort = flow[flow["fraction"] == "presort"].set_index("patient")
    for patient, pct in CD34_PCT.items():
        assert abs(float(presort.loc[patient, "pct_cd34pos"]) - pct) <= 2.0, patient
    assert (flow["status"] == "pass").all(), flow[flow["status"] != "pass"]
    sorted_rows = flow[flow["fraction"] != "presort"]
    assert (sorted_rows["purity"].astype(float) > 0.98).all()
    assert set(flow["compensation"]) == {"file", "none"}


def test_all_plates_pass_qc(demo_run):
    curves = read(demo_run, "qpcr", "standard_curves.tsv")
    assert (curves["status"] == "pass").all(), curves[curves["status"] != "pass"]
    assert set(curves["target"]) == {"BCL2", "MDR1", "LRP", "BCRP", "GUS", "TEL-AML1"}


def test_tel_aml1_higher_in_cd34pos(demo_run):
    fusion = read(demo_run, "cohort", "fusion.tsv")
    assert set(fusion["patient"]) >= {"P06", "P07", "P08", "P10"}
    for patient, rows in fusion.groupby("patient"):
        values = rows.set_index("fraction")["value"].astype(float)
        assert values["CD34pos"] > values["CD34neg"], patient


def test_claims_reproduce_the_study(demo_run):
    claims = read(demo_run, "cohort", "claims.tsv").set_index("claim_id")
    assert list(claims.columns[:6]) == [
        "section", "statement", "study_value", "computed_value", "agree", "note",
    ]  # fmt: skip
    agree = claims["agree"].astype(str) == "True"
    # every count of the Results and Table 2, the MDR1 lineage direction, the medians and
    # folds agree; only the Discussion's "all T-ALL" for BCRP contradicts the Results (5/6)
    assert set(claims.index[~agree]) == {"D-T-BCRP-direction-all"}
    for claim in ("T2-CD34neg_only-all", "R-BCP-MDR1-CD34pos", "R-MDR1-lineage-CD34pos",
                  "R-MDR1-lineage-CD34neg", "R-TEL-AML1-CD34pos", "R-cd34-median"):  # fmt: skip
        assert claim in claims.index
    assert claims.loc["T2-CD34neg_only-all", "computed_value"].startswith("9 of 17 (52.9 %)")


def test_mdr1_higher_in_t_all_than_bcp(demo_run):
    lineage = read(demo_run, "cohort", "lineage.tsv")
    mdr1 = lineage[lineage["gene"] == "MDR1"].set_index("fraction")
    for fraction in ("CD34pos", "CD34neg"):
        row = mdr1.loc[fraction]
        assert (row["lineage_a"], row["lineage_b"], row["higher"]) == ("BCP", "T", "T")
        assert float(row["p_mann_whitney_bh"]) < 0.05
        assert float(row["p_welch_log2_bh"]) < 0.05
        assert float(row["median_b"]) > 10 * float(row["median_a"])
    # the study's medians, re-measured: T-ALL CD34+ 60.4, BCP-ALL CD34+ 2.7 (within 25 %)
    assert 60.4 / 1.25 <= float(mdr1.loc["CD34pos", "median_b"]) <= 60.4 * 1.25
    assert 2.7 / 1.25 <= float(mdr1.loc["CD34pos", "median_a"]) <= 2.7 * 1.25


def test_statistics_keep_rows_and_add_censoring_columns(demo_run):
    stats = read(demo_run, "cohort", "statistics.tsv")
    assert len(stats) == 12  # 4 genes x (BCP, T, all)
    for column in ("n_censored", "method", "sensitivity", "p_sign", "p_tobit"):
        assert column in stats.columns


def test_table2_stars_the_groups_resting_on_flagged_calls(demo_run):
    groups = read(demo_run, "cohort", "resistance_groups.tsv")
    flagged = set(groups.loc[groups["group_flag"] == "*", "patient"])
    table2 = read(demo_run, "cohort", "table2.tsv")
    rows = table2[table2["lineage"] == "all"]
    starred = {p.strip()[:-1] for cell in rows["patients"] for p in cell.split(",") if "*" in p}
    assert starred == flagged
    assert int(rows["n_flagged"].sum()) == len(flagged)
    for patient in flagged:
        assert any(f"{patient}*: " in note for note in rows["footnote"]), patient
    # the counts stay the study's whatever the flags
    assert rows.set_index("group").loc["CD34neg_only", "n"] == 9


def test_reference_gene_table_says_gus_alone(demo_run):
    table = read(demo_run, "cohort", "reference_genes.tsv")
    assert len(table) == 1 and "fewer than two reference genes" in table.loc[0, "note"]


def test_figures_and_workbook_exist(demo_run):
    figures = demo_run / "results" / "figures"
    for name in ["figure1_BCP", "figure2_T", "heatmap_log2_fold"]:
        assert (figures / f"{name}.png").stat().st_size > 10_000
        assert (figures / f"{name}.svg").stat().st_size > 10_000
    xlsx = pd.read_excel(demo_run / "results" / "cohort" / "sortpcr_results.xlsx", sheet_name=None)
    assert {"calls", "resistance_groups", "table1", "table2", "statistics"} <= set(xlsx)


def test_censored_values_reach_the_cohort_tables(demo_copy):
    """P14's CD34+ LRP made undetected and its BCRP late (below the lowest standard) in a
    copy of the raw plate: the bounds flow through calls, statistics, lineage and claims."""
    plate = demo_copy / "resources" / "demo" / "qpcr" / "EXPR08.csv"
    lines = plate.read_text().split("\n")
    late = {"F05": "N/A", "F06": "N/A", "F07": "36.5", "F08": "36.7"}  # LRP, BCRP of P14pos
    for i, line in enumerate(lines):
        cells = line.split(",")
        if len(cells) > 6 and cells[1] in late:
            assert cells[4] in ("LRP_P14pos", "BCRP_P14pos"), cells
            cells[6] = late[cells[1]]
            lines[i] = ",".join(cells)
    plate.write_text("\n".join(lines))
    snakemake(demo_copy, "--cores", "2")
    calls = read(demo_copy, "cohort", "calls.tsv").set_index(["patient", "gene"])
    for gene in ("LRP", "BCRP"):
        row = calls.loc[("P14", gene)]
        assert (row["cd34pos_censor"], row["fold_censor"]) == ("<", "<")
        assert row["call"] == "CD34neg_higher" and "bound" in row["flags"]
    stats = read(demo_copy, "cohort", "statistics.tsv").set_index(["lineage", "gene"])
    lrp = stats.loc[("T", "LRP")]
    assert (lrp["n"], lrp["n_censored"], lrp["cd34pos_n_censored"]) == (6, 1, 1)
    assert (lrp["n_sign_pos"], lrp["n_sign_neg"]) == (0, 6)
    assert float(lrp["p_sign"]) == pytest.approx(2 / 64)  # all six down: exact 2 x (1/2)^6
    assert "without them (n=5)" in lrp["sensitivity"]
    assert float(lrp["p_t_log2_censored_excluded"]) < 1 and float(lrp["p_tobit"]) < 1
    lineage = read(demo_copy, "cohort", "lineage.tsv")
    row = lineage[(lineage["gene"] == "LRP") & (lineage["fraction"] == "CD34pos")].iloc[0]
    assert (row["n_censored_b"], row["min_b_censor"]) == (1, "<")
    claims = read(demo_copy, "cohort", "claims.tsv").set_index("claim_id")
    assert str(claims.loc["R-T-LRP-fold-14", "agree"]) == "False"  # a bound, not 3.9
    for claim in ("R-T-LRP-CD34neg", "R-T-LRP-direction", "T2-CD34neg_only-T"):
        assert str(claims.loc[claim, "agree"]) == "True", claim
