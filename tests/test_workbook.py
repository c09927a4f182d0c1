"""The cohort workbook: types (age numbers vs '<1' text), number formats, autofilter,
purity in percent on every sheet, the journal sheets and the sheet explaining every column."""

import pandas as pd
import pytest
from openpyxl import load_workbook

from sortpcr.report.columns import COLUMNS, purity_percent
from sortpcr.workbook import (
    AGE_NOTE,
    COLUMN_SHEET,
    JOURNAL_SHEETS,
    age_value,
    number_format,
    write_workbook,
)


def tables():
    table1 = pd.DataFrame(
        [
            {"patient": "P01", "age": "2", "lineage": "BCP", "status": "diagnosis",
             "cd34_pct": 70.147, "markers": "CD45, CD13", "fusion": "negative",
             "heterogeneity": "pass", "purity_cd34pos_pct": 99.3022,
             "purity_cd34neg_pct": 99.5194, "flow_qc": "pass", "flow_reason": ""},
            {"patient": "P02", "age": "<1", "lineage": "T", "status": "relapse",
             "cd34_pct": 48.5, "markers": "CD15", "fusion": "MLL-AF4",
             "heterogeneity": "pass", "purity_cd34pos_pct": 97.04,
             "purity_cd34neg_pct": 99.0, "flow_qc": "fail",
             "flow_reason": "CD34pos: purity 97.0 % < 98 %"},
        ]
    )  # fmt: skip
    groups = pd.DataFrame(
        [
            {"patient": "P01", "lineage": "BCP", "group": "CD34pos_only", "genes_pos": "BCL2",
             "genes_neg": "", "reason": "", "group_flag": "*",
             "footnote": "BCL2: 95% interval 1.6-2.9 crosses a threshold"},
            {"patient": "P02", "lineage": "T", "group": "excluded", "genes_pos": "",
             "genes_neg": "", "reason": "flow QC failed", "group_flag": "", "footnote": ""},
        ]
    )  # fmt: skip
    calls = pd.DataFrame(
        [{"patient": "P01", "lineage": "BCP", "gene": "BCL2", "cd34pos": 2.0, "cd34neg": 0.9,
          "fold": 2.2222, "fold_low": 1.6, "fold_high": 2.9, "call": "CD34pos_higher",
          "reason": "", "ci_crosses_threshold": True, "flags": ""}]
    )  # fmt: skip
    flow = pd.DataFrame(
        [{"patient": "P01", "fraction": "CD34pos", "file": "a.fcs", "events": 2500,
          "cells": 2300, "blasts": 2290, "pct_cd34pos": None, "purity": 0.993022,
          "purity_all_events": 0.91, "purity_cells": 0.98785, "status": "pass", "reason": ""}]
    )  # fmt: skip
    return {"table1": table1, "resistance_groups": groups, "calls": calls, "flow_qc": flow}


@pytest.fixture
def book(tmp_path):
    path = tmp_path / "w.xlsx"
    write_workbook(path, tables())
    return path


def test_age_is_a_number_where_the_sheet_gives_one():
    assert age_value("2") == 2 and isinstance(age_value("2"), int)
    assert age_value("1.5") == 1.5
    assert age_value("<1") == "<1"
    assert age_value("") is None and age_value(None) is None


def test_types_formats_and_autofilter(book):
    wb = load_workbook(book)
    sheet = wb["table1"]
    header = [c.value for c in sheet[1]]
    age = header.index("age") + 1
    assert sheet.cell(2, age).value == 2 and sheet.cell(2, age).data_type == "n"
    assert sheet.cell(3, age).value == "<1" and sheet.cell(3, age).data_type == "s"
    assert sheet.cell(3, age).comment.text == AGE_NOTE
    assert sheet.cell(2, age).comment is None
    cd34 = header.index("cd34_pct") + 1
    assert sheet.cell(2, cd34).value == pytest.approx(70.147)  # stored exactly
    assert sheet.cell(2, cd34).number_format == "0"  # shown as an integer
    purity = header.index("purity_cd34pos_pct") + 1
    assert sheet.cell(2, purity).number_format == "0.0"
    assert sheet.auto_filter.ref == "A1:L3"
    assert sheet.freeze_panes == "A2"
    calls = wb["calls"]
    fold = [c.value for c in calls[1]].index("fold") + 1
    assert calls.cell(2, fold).number_format == "0.000"
    crosses = [c.value for c in calls[1]].index("ci_crosses_threshold") + 1
    assert calls.cell(2, crosses).value is True


def test_purity_in_percent_on_every_sheet(book):
    wb = load_workbook(book)
    flow = wb["flow_qc"]
    header = [c.value for c in flow[1]]
    assert "purity" not in header and "purity_pct" in header
    assert flow.cell(2, header.index("purity_pct") + 1).value == pytest.approx(99.3022)
    assert flow.cell(2, header.index("purity_cells_pct") + 1).value == pytest.approx(98.785)
    # and the same unit as Table 1's purity
    t1 = wb["table1"]
    h1 = [c.value for c in t1[1]]
    assert t1.cell(2, h1.index("purity_cd34pos_pct") + 1).value == pytest.approx(99.3022)
    assert purity_percent(pd.DataFrame({"x": [1]})).columns.tolist() == ["x"]


def test_column_sheet_explains_every_column_of_every_sheet(book):
    wb = load_workbook(book)
    rows = list(wb[COLUMN_SHEET].iter_rows(values_only=True))
    assert rows[0] == ("sheet", "column", "meaning", "unit")
    listed = {(r[0], r[1]): (r[2], r[3]) for r in rows[1:]}
    for name in ("table1", "resistance_groups", "calls", "flow_qc"):
        header = [c.value for c in wb[name][1]]
        for column in header:
            meaning, unit = listed[(name, column)]
            assert meaning and meaning != "(not described)", (name, column)
    assert listed[("flow_qc", "purity_pct")][1] == "%"
    assert listed[("calls", "fold")][1] == "ratio"
    assert listed[("table1", "age")][1] == "years"


def test_journal_sheets_as_the_study_prints_them(book):
    wb = load_workbook(book)
    assert wb.sheetnames[:2] == list(JOURNAL_SHEETS)
    t1 = list(wb[JOURNAL_SHEETS[0]].iter_rows(values_only=True))
    assert t1[1][:4] == ("Patient", "Age, years", "ALL", "CD34, %")
    assert t1[2][:4] == ("P01", "2", "BCP", "70")  # CD34 % as an integer
    assert t1[2][6:8] == ("99.3", "99.5")  # purity to one decimal
    assert t1[3][2] == "T, relapse"
    t2 = list(wb[JOURNAL_SHEETS[1]].iter_rows(values_only=True))
    assert t2[1] == ("Resistant properties", "BCP-ALL n=1", "T-lineage ALL n=0")
    rows = {r[0]: r[1:] for r in t2[2:] if r[1] is not None}
    assert rows["Higher in CD34+ blasts only"] == ("P01* (1/1, 100.0 %)", "0")
    assert rows["Excluded (quality control failed)"] == ("0", "P02 (1)")  # no denominator
    assert t2[-1][0] == "* P01: BCL2: 95% interval 1.6-2.9 crosses a threshold"


def test_deterministic(tmp_path):
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    write_workbook(a, tables())
    write_workbook(b, tables())
    assert a.read_bytes() == b.read_bytes()


def test_number_formats():
    assert number_format("p_t_log2_bh") == "0.0000"
    assert number_format("efficiency_low") == "0.0%"
    assert number_format("pct_lineage") == "0.0"
    assert number_format("patient") is None


def test_every_cohort_column_is_described():
    # the columns of the cohort tables (contract of the science steps) all have a meaning
    for column in ("fold_censor", "group_flag", "footnote", "claim_id", "agree", "censor"):
        assert column in COLUMNS
