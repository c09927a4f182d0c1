"""Report pages: self-contained interactive tables, the front page (the answer), the
patient pages and the journal tables, on hand-made tables with known answers."""

import re

import pandas as pd
import pytest

from sortpcr.report.html import cell, table_page
from sortpcr.report.journal import table1_journal, table2_journal
from sortpcr.report.pages import (
    LANDING,
    expression_with_intervals,
    front_page,
    gene_counts,
    patient_flags,
    patient_page,
    statistics_sentences,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 16


def groups():
    return pd.DataFrame(
        [
            {"patient": "P01", "lineage": "BCP", "group": "CD34pos_only", "reason": "",
             "group_flag": "*", "footnote": "BCL2: interval 1.6-2.9 crosses a threshold"},
            {"patient": "P02", "lineage": "BCP", "group": "none", "reason": "",
             "group_flag": "", "footnote": ""},
            {"patient": "P03", "lineage": "T", "group": "excluded",
             "reason": "flow QC failed: CD34pos purity 97.1 % < 98 %", "group_flag": "",
             "footnote": ""},
        ]
    )  # fmt: skip


def calls():
    def row(patient, gene, call, fold, crosses=False, reason=""):
        return {"patient": patient, "lineage": "BCP" if patient != "P03" else "T",
                "gene": gene, "cd34pos": fold, "cd34neg": 1.0, "fold": fold,
                "fold_low": fold / 1.4, "fold_high": fold * 1.4, "call": call,
                "reason": reason, "ci_crosses_threshold": crosses, "flags": ""}  # fmt: skip

    return pd.DataFrame(
        [
            row("P01", "BCL2", "CD34pos_higher", 2.2, crosses=True),
            row("P01", "MDR1", "no_difference", 1.1),
            row("P02", "BCL2", "no_difference", 0.8),
            row("P02", "MDR1", "not_evaluable", float("nan"), reason="GUS undetected"),
            row("P03", "BCL2", "not_evaluable", float("nan"), reason="flow QC failed"),
            row("P03", "MDR1", "not_evaluable", float("nan"), reason="flow QC failed"),
        ]
    )


def statistics():
    return pd.DataFrame(
        [{"lineage": "BCP", "gene": "BCL2", "n": 2, "median_fold": 1.5, "n_cd34pos_higher": 1,
          "n_cd34neg_higher": 0, "n_no_difference": 1, "n_not_evaluable": 0,
          "p_t_log2": 0.0004, "p_t_log2_bh": 0.0123, "p_wilcoxon": 0.5}]
    )  # fmt: skip


def claims():
    return pd.DataFrame(
        [
            {"claim_id": "T2_neg", "section": "Table 2", "statement": "CD34− only in 9/17",
             "study_value": "9/17", "computed_value": "9/17", "agree": True, "note": ""},
            {"claim_id": "BCL2", "section": "Results", "statement": "BCL2 higher in 1/11",
             "study_value": "1/11", "computed_value": "2/11", "agree": False, "note": "P07"},
        ]
    )  # fmt: skip


def test_table_page_is_self_contained_sortable_filterable_and_explained():
    table = pd.DataFrame({"patient": ["P01", "P02"], "fold": [2.5, float("inf")]})
    doc = table_page(table, "Calls", "caption <b>x</b>")
    assert doc.startswith("<!DOCTYPE html>")
    # nothing fetched from elsewhere: no external script, style sheet, image or font
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", doc)
    assert "<link" not in doc and "@import" not in doc
    assert 'class="sortable"' in doc and doc.count('type="search"') == 2
    assert "function sortBy" in doc and "function filterRows" in doc
    # columns explained: tooltip and the list, with the unit
    assert 'title="CD34+ / CD34- expression [ratio]"' in doc
    assert "<dt>fold</dt><dd>CD34+ / CD34- expression <i>[ratio]</i></dd>" in doc
    assert 'data-v="Infinity">∞<' in doc  # an infinite bound sorts as a number
    assert "caption <b>x</b>" in doc


def test_cell_text():
    assert cell(2.0) == "2" and cell(0.123456789) == "0.1235" and cell(float("nan")) == ""
    assert cell(None) == "" and cell(True) == "True" and cell("<1") == "<1"


def test_table1_journal_layout():
    t1 = pd.DataFrame(
        [{"patient": "P09", "age": "15", "lineage": "BCP", "status": "relapse",
          "cd34_pct": 45.6, "markers": "DR", "fusion": "negative",
          "purity_cd34pos_pct": 99.04, "purity_cd34neg_pct": 98.96, "flow_qc": "pass",
          "flow_reason": ""}]
    )  # fmt: skip
    row = table1_journal(t1).iloc[0]
    assert row["ALL"] == "BCP, relapse" and row["CD34, %"] == "46"
    assert row["Purity CD34+, %"] == "99.0" and row["Purity CD34−, %"] == "99.0"


def test_table2_journal_words_counts_and_footnote():
    table, notes = table2_journal(groups())
    table = table.set_index("Resistant properties")
    assert list(table.columns) == ["BCP-ALL n=2", "T-lineage ALL n=0"]
    assert table.loc["Higher in CD34+ blasts only", "BCP-ALL n=2"] == "P01* (1/2, 50.0 %)"
    assert table.loc["No difference between CD34+ and CD34− blasts", "BCP-ALL n=2"] == (
        "P02 (1/2, 50.0 %)"
    )
    assert table.loc["Higher in CD34− blasts only", "BCP-ALL n=2"] == "0"
    assert table.loc["Excluded (quality control failed)", "T-lineage ALL n=0"] == "P03 (1)"
    assert notes == ["* P01: BCL2: interval 1.6-2.9 crosses a threshold"]


def test_gene_counts_and_statistics_sentence():
    counts = gene_counts(calls()).set_index(["lineage", "gene"])
    assert counts.loc[("BCP", "BCL2"), "higher in CD34+"] == 1
    assert counts.loc[("BCP", "BCL2"), "no difference"] == 1
    assert counts.loc[("BCP", "MDR1"), "not evaluable"] == 1
    (sentence,) = statistics_sentences(statistics())
    assert sentence.startswith("BCL2 in BCP-ALL (2 paired patients): median fold")
    assert "p = < 0.001 (Benjamini–Hochberg 0.012)" in sentence


def test_front_page_holds_the_answer():
    doc = front_page(groups(), calls(), statistics(), claims(), None, 2.0)
    landing = doc.split(LANDING)[1]
    assert "3 patients</b> (1 excluded)" in landing
    assert "1 of 3 higher in CD34+ blasts only" in landing
    assert "Higher in CD34+ blasts only" in landing and "P01*" in landing
    assert "flagged call" in landing and "P01" in landing
    body = doc.split(LANDING)[2]
    assert "1 of 2 claims of the study agree" in body
    assert '<span class="fail">differs</span>' in body
    assert body.index("BCL2 higher in 1/11") < body.index("CD34− only in 9/17")  # differs first
    assert "flow QC failed: CD34pos purity 97.1 % &lt; 98 %" in body  # excluded, and why
    assert "GUS undetected" in body  # a call left out, and why
    assert "patient_P01.html" in body
    assert "BCL2 in BCP-ALL" in body


def test_front_page_without_claims_says_so():
    doc = front_page(groups(), calls(), statistics(), None, None, 2.0)
    assert "claims.tsv) was not built" in doc


def test_front_page_states_the_fold_threshold_it_is_given():
    doc = front_page(groups(), calls(), statistics(), None, None, 3.0)
    assert "≥ 3-fold higher in it" in doc and "at least 3 either way" in doc
    assert "≥ 2-fold" not in doc and "at least 2 either" not in doc


def test_expression_interval_at_the_stated_level():
    expression = pd.DataFrame(
        [{"gene": "BCL2", "fraction": "CD34pos", "plate": "combined", "unit": "relative",
          "value": 2.0, "log10_se": 0.1, "status": "ok", "flags": "", "reason": ""},
         {"gene": "BCL2", "fraction": "CD34pos", "plate": "EXPR01", "unit": "relative",
          "value": 2.0, "log10_se": 0.1, "status": "ok", "flags": "", "reason": ""}]
    )  # fmt: skip
    table = expression_with_intervals(expression, 0.95)
    assert len(table) == 1  # combined values only
    # 2 x/÷ 10^(1.959964 x 0.1) = 2 x/÷ 1.5704
    assert float(table.loc[0, "low (95%)"]) == pytest.approx(1.2736, abs=1e-3)
    assert float(table.loc[0, "high (95%)"]) == pytest.approx(3.141, abs=1e-3)


def test_patient_page_whole(tmp_path):
    flow_png, plate_png = tmp_path / "P01.png", tmp_path / "curves.png"
    flow_png.write_bytes(PNG)
    plate_png.write_bytes(PNG)
    flow = pd.DataFrame(
        [{"patient": "P01", "fraction": "CD34pos", "status": "fail",
          "reason": "purity 97.1 % < 98 %", "purity_pct": 97.1}]
    )  # fmt: skip
    expression = pd.DataFrame(
        [{"patient": "P01", "gene": "BCL2", "fraction": "CD34neg", "plate": "EXPR01",
          "unit": "relative", "value": 0.9, "log10_se": 0.05, "status": "ok",
          "flags": "target_above_range", "reason": ""}]
    )  # fmt: skip
    pairs = pd.DataFrame(
        [{"fraction": "CD34pos", "plate": "EXPR01", "sample": "P01pos"},
         {"fraction": "CD34neg", "plate": "EXPR01", "sample": "P01neg"}]
    )  # fmt: skip
    mine = calls()[calls()["patient"] == "P01"]
    group = groups().iloc[[0]]
    flags = patient_flags("P01", flow, expression, mine, group)
    assert "flow CD34pos: fail — purity 97.1 % < 98 %" in flags
    assert any("target_above_range" in f for f in flags)
    assert any(f.startswith("call BCL2: higher in CD34+ [the fold's interval") for f in flags)
    assert any("group rests on a flagged call" in f for f in flags)
    doc = patient_page(
        "P01", {"lineage": "BCP", "age": "2"}, flow, expression, mine, group,
        pd.DataFrame(), pairs, flow_png, {"EXPR01": plate_png}, 0.95,
    )  # fmt: skip
    assert "<h1>Patient P01</h1>" in doc
    assert "Group: higher in CD34+ blasts only*" in doc
    assert doc.count('src="data:image/png;base64,') + doc.count("src='data:image/png") == 2
    assert "P01pos (CD34pos, plate EXPR01)" in doc
    assert "purity 97.1 % &lt; 98 %" in doc


def test_table_captions_state_the_fold_threshold_they_are_given():
    """The resistance-groups page says the run's threshold; no page says "2-fold" at 3."""
    from sortpcr.report.build import build_pages
    from tests.conftest import classify_settings

    table1 = pd.DataFrame(
        [{"patient": p, "age": "5", "lineage": "BCP" if p != "P03" else "T",
          "status": "diagnosis", "cd34_pct": 40.0, "markers": "", "fusion": "negative",
          "purity_cd34pos_pct": 99.0, "purity_cd34neg_pct": 99.0, "flow_qc": "pass",
          "flow_reason": ""} for p in ("P01", "P02", "P03")]
    )  # fmt: skip
    expression = pd.DataFrame(columns=["patient", "gene", "fraction", "plate", "value"])
    tables = {"resistance_groups": groups(), "calls": calls(), "statistics": statistics(),
              "table1": table1, "expression": expression}  # fmt: skip
    pairs = [pd.DataFrame(columns=["patient", "fraction", "plate", "sample"])]
    pages = {
        t: build_pages(tables, {}, pairs, {}, {}, classify_settings(fold_threshold=t))
        for t in (2.0, 3.0)
    }
    assert "genes at least 2-fold higher in CD34+" in pages[2.0]["table_resistance_groups"]
    assert "genes at least 3-fold higher in CD34+" in pages[3.0]["table_resistance_groups"]
    assert not [name for name, doc in pages[3.0].items() if "2-fold" in doc]


@pytest.mark.parametrize("limits", ["shipped", "null"])
def test_report_captions_render_with_the_configured_curve_limits(limits):
    """Every caption renders as Snakemake's report renders it (Jinja with trim_blocks and
    lstrip_blocks, then docutils), with the shipped config and with curve limits set to
    null (not checked), which the captions say in words instead of failing on None."""
    from types import SimpleNamespace

    from docutils.core import publish_parts
    from jinja2 import Environment

    from tests.conftest import ROOT, validated_config

    config = validated_config()
    if limits == "null":
        config["qpcr"]["curves"]["relative"]["efficiency_max"] = None
        config["qpcr"]["curves"]["copies"].update(slope_min=None, r2_min=None)
    snakemake = SimpleNamespace(config=config, wildcards={"plate": "EXPR01", "patient": "P01"})
    env = Environment(trim_blocks=True, lstrip_blocks=True)
    texts = {}
    for path in sorted((ROOT / "resources" / "report").glob("*.rst")):
        text = env.from_string(path.read_text()).render(snakemake=snakemake, categories={},
                                                          files={})  # fmt: skip
        publish_parts(text, writer="html", settings_overrides={"halt_level": 2})  # warnings fail
        assert "None" not in text, path.name
        texts[path.stem] = " ".join(text.split())
    curves = texts["qpcr_curves"]
    if limits == "shipped":
        assert "efficiency 90 to 110 % and R² at least 0.98" in curves
        assert "slope -3.9 to -3 and R² at least 0.98" in curves
    else:
        assert "efficiency at least 90 % and R² at least 0.98" in curves
        assert "slope at most -3 and R² not checked" in curves
