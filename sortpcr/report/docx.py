"""Tables 1 and 2 as the study prints them, as a Word document (python-docx).

The same cells as the HTML journal page and the workbook's journal sheets
(:mod:`sortpcr.report.journal`): a title above each table, a rule above and below the header
and below the last row, footnotes under Table 2. Landscape A4. Deterministic: fixed
document properties and zip timestamps (:func:`sortpcr.io.normalise_zip`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd

from sortpcr.io import cell_text, normalise_zip
from sortpcr.report.journal import TITLE1, TITLE2, table1_journal, table2_journal


def _rule(cell, edge: str, size: int) -> None:  # noqa: ANN001
    """A horizontal line (``size`` eighths of a point) on one edge of a table cell."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    props = cell._tc.get_or_add_tcPr()
    borders = props.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        props.append(borders)
    line = OxmlElement(f"w:{edge}")
    line.set(qn("w:val"), "single")
    line.set(qn("w:sz"), str(size))
    line.set(qn("w:color"), "000000")
    borders.append(line)


def _table(document, title: str, table: pd.DataFrame, notes: Sequence[str] = ()) -> None:  # noqa: ANN001
    from docx.shared import Pt

    heading = document.add_paragraph()
    heading.add_run(title).bold = True
    grid = document.add_table(rows=len(table) + 1, cols=len(table.columns))
    for j, column in enumerate(table.columns):
        cell = grid.cell(0, j)
        cell.text = str(column)
        cell.paragraphs[0].runs[0].bold = True
        _rule(cell, "top", 12)
        _rule(cell, "bottom", 6)
    for i, row in enumerate(table.itertuples(index=False), start=1):
        for j, value in enumerate(row):
            grid.cell(i, j).text = cell_text(value)
            if i == len(table):
                _rule(grid.cell(i, j), "bottom", 12)
    for row in grid.rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(9)
    for note in notes:
        paragraph = document.add_paragraph(note)
        paragraph.runs[0].font.size = Pt(8)


def write_journal_docx(path: str | Path, table1: pd.DataFrame, groups: pd.DataFrame) -> None:
    """Write Tables 1 and 2 (from results/cohort/table1.tsv and resistance_groups.tsv) to
    ``path`` as .docx (in place; wrap with :func:`sortpcr.io.write_with` for atomicity)."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm, Pt

    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.8))
    _table(document, TITLE1, table1_journal(table1))
    document.add_paragraph(
        "CD34, %: CD34+ among gated blasts of the pre-sort sample; purity: the sorted tube "
        "re-analysed with the same gates, percent of the configured denominator."
    ).runs[0].font.size = Pt(8)
    table2, notes = table2_journal(groups)
    _table(document, TITLE2, table2, notes)
    fixed = datetime(2000, 1, 1)
    props = document.core_properties
    props.author = props.last_modified_by = "sortpcr"
    props.created = props.modified = fixed
    props.revision = 1
    path = Path(path)
    document.save(path)
    normalise_zip(path)
