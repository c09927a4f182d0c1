"""Tables 1 and 2 as a Word document: the journal cells, footnotes, landscape, reproducible."""

import pandas as pd
from docx import Document

from sortpcr.report.docx import TITLE1, TITLE2, write_journal_docx

TABLE1 = pd.DataFrame(
    [{"patient": "P01", "age": "<1", "lineage": "T", "status": "relapse", "cd34_pct": 79.6,
      "markers": "CD13, CD11b", "fusion": "negative", "purity_cd34pos_pct": 98.84,
      "purity_cd34neg_pct": 99.06, "flow_qc": "pass", "flow_reason": ""}]
)  # fmt: skip
GROUPS = pd.DataFrame(
    [{"patient": "P01", "lineage": "T", "group": "both", "group_flag": "*",
      "footnote": "LRP: interval 0.4-0.6 crosses a threshold"}]
)  # fmt: skip


def test_docx_holds_both_tables_as_printed(tmp_path):
    path = tmp_path / "t.docx"
    write_journal_docx(path, TABLE1, GROUPS)
    document = Document(path)
    texts = [p.text for p in document.paragraphs]
    assert TITLE1 in texts and TITLE2 in texts
    assert "* P01: LRP: interval 0.4-0.6 crosses a threshold" in texts
    t1, t2 = document.tables
    assert [c.text for c in t1.rows[0].cells][:4] == ["Patient", "Age, years", "ALL", "CD34, %"]
    assert [c.text for c in t1.rows[1].cells][:4] == ["P01", "<1", "T, relapse", "80"]
    assert [c.text for c in t1.rows[1].cells][6:8] == ["98.8", "99.1"]
    assert [c.text for c in t2.rows[0].cells] == ["Resistant properties", "T-lineage ALL n=1"]
    rows = {r.cells[0].text: r.cells[1].text for r in t2.rows[1:]}
    assert rows["Higher in CD34+ and in CD34− blasts (different genes)"] == "P01* (1/1, 100.0 %)"
    assert rows["Higher in CD34+ blasts only"] == "0"
    section = document.sections[0]
    assert section.page_width > section.page_height  # landscape


def test_docx_is_reproducible(tmp_path):
    a, b = tmp_path / "a.docx", tmp_path / "b.docx"
    write_journal_docx(a, TABLE1, GROUPS)
    write_journal_docx(b, TABLE1, GROUPS)
    assert a.read_bytes() == b.read_bytes()
