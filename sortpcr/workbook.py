"""The cohort workbook (xlsx) for lab users.

Sheets: Table 1 and Table 2 as the study prints them (formatted), then every cohort and QC
table with a header row, frozen panes, an autofilter and number formats, then ``columns``:
every column of every sheet with its meaning and unit. Purity is in percent on every sheet
(the flow QC table's fractions are converted); ``age`` is a number where the sheet gives
one (``<1`` stays text, with a cell comment). Deterministic: fixed document properties and
zip timestamps, so reruns are byte-identical.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sortpcr.io import cell_text, normalise_zip
from sortpcr.report.columns import describe, purity_percent
from sortpcr.report.journal import TITLE1, TITLE2, table1_journal, table2_journal

#: Sheet order of the data sheets (others follow in the given order).
DATA_SHEETS = (
    "table1",
    "table2",
    "resistance_groups",
    "calls",
    "statistics",
    "claims",
    "lineage",
    "expression",
    "fusion",
    "flow_qc",
    "standard_curves",
)
JOURNAL_SHEETS = ("Table 1 (journal)", "Table 2 (journal)")
COLUMN_SHEET = "columns"
AGE_NOTE = "'<1' = under one year: kept as text, the other ages are numbers (years)"


def age_value(value: Any) -> int | float | str | None:
    """An age cell for Excel: a number where the text is one, else the text (e.g. ``<1``)."""
    text = cell_text(value).strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def number_format(column: str) -> str | None:
    """Excel number format of a column (None = General)."""
    if column in ("cd34_pct",):
        return "0"
    if column.endswith("_pct") or column.startswith("pct_") or column == "pct_cd34pos":
        return "0.0"
    if column.startswith("p_"):
        return "0.0000"
    if column.startswith("efficiency"):
        return "0.0%"
    if column in ("r2",):
        return "0.0000"
    if re.match(r"^(fold|median_fold|log2_fold|mean_log2_fold|slope|intercept)", column):
        return "0.000"
    if column.endswith("log10_se") or column in ("log10_se", "log10_value", "residual_sd"):
        return "0.0000"
    return None


def _excel_value(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _fit_widths(sheet, table: pd.DataFrame) -> None:  # noqa: ANN001
    from openpyxl.utils import get_column_letter

    for index, column in enumerate(table.columns, start=1):
        width = max([len(str(column))] + [len(cell_text(v)) for v in table[column].head(200)])
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)


def _data_sheet(book, name: str, table: pd.DataFrame) -> None:  # noqa: ANN001
    from openpyxl.comments import Comment
    from openpyxl.styles import Font

    sheet = book.create_sheet(title=name[:31])
    sheet.append([str(c) for c in table.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table.itertuples(index=False):
        values = []
        for column, value in zip(table.columns, row, strict=True):
            values.append(age_value(value) if column == "age" else _excel_value(value))
        sheet.append(values)
    for index, column in enumerate(table.columns, start=1):
        fmt = number_format(str(column))
        if fmt:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = fmt
        if column == "age":
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                if isinstance(cell.value, str):
                    cell.comment = Comment(AGE_NOTE, "sortpcr")
    sheet.freeze_panes = "A2"
    if len(table.columns):
        sheet.auto_filter.ref = sheet.dimensions
    _fit_widths(sheet, table)


def _journal_sheet(book, name: str, title: str, table: pd.DataFrame, notes: list[str]) -> None:  # noqa: ANN001
    from openpyxl.styles import Alignment, Border, Font, Side

    sheet = book.create_sheet(title=name[:31])
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=12)
    sheet.append([str(c) for c in table.columns])
    thick, thin = Side(style="medium"), Side(style="thin")
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.border = Border(top=thick, bottom=thin)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in table.itertuples(index=False):
        sheet.append([cell_text(v) for v in row])
    last = sheet.max_row
    for cell in sheet[last]:
        cell.border = Border(bottom=thick)
    for row in sheet.iter_rows(min_row=3, max_row=last):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for note in notes:
        sheet.append([note])
    _fit_widths(sheet, table)


def column_sheet(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every column of every data sheet: sheet, column, meaning, unit."""
    rows = [
        {
            "sheet": name,
            "column": str(c),
            "meaning": describe(str(c))[0],
            "unit": describe(str(c))[1],
        }
        for name, table in tables.items()
        for c in table.columns
    ]
    return pd.DataFrame(rows, columns=["sheet", "column", "meaning", "unit"])


def workbook_tables(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The data sheets in order, with the flow QC purities in percent."""
    tables = dict(tables)
    if "flow_qc" in tables:
        tables["flow_qc"] = purity_percent(tables["flow_qc"])
    names = [n for n in DATA_SHEETS if n in tables] + [n for n in tables if n not in DATA_SHEETS]
    return {n: tables[n] for n in names}


def write_workbook(path: str | Path, tables: Mapping[str, pd.DataFrame]) -> None:
    """Write the cohort workbook to ``path`` (in place; wrap with
    :func:`sortpcr.io.write_with` for atomicity).

    ``tables``: the cohort tables by name (``table1``, ``resistance_groups``, … as in
    results/cohort/, ``flow_qc`` = results/qc/flow.tsv with purity as a fraction of 1,
    ``standard_curves``). The journal sheets are drawn when ``table1`` and
    ``resistance_groups`` are given.
    """
    from datetime import datetime

    from openpyxl import Workbook

    data = workbook_tables(tables)
    book = Workbook()
    book.remove(book.active)
    if "table1" in data:
        _journal_sheet(
            book,
            JOURNAL_SHEETS[0],
            TITLE1,
            table1_journal(data["table1"]),
            [],
        )
    if "resistance_groups" in data:
        table2, notes = table2_journal(data["resistance_groups"])
        _journal_sheet(
            book,
            JOURNAL_SHEETS[1],
            TITLE2,
            table2,
            notes,
        )
    for name, table in data.items():
        _data_sheet(book, name, table)
    _data_sheet(book, COLUMN_SHEET, column_sheet(data))
    fixed = datetime(2000, 1, 1)
    book.properties.created = fixed
    book.properties.modified = fixed
    book.properties.creator = "sortpcr"
    book.properties.lastModifiedBy = "sortpcr"
    path = Path(path)
    book.save(path)
    normalise_zip(path)
