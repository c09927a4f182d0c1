"""Table 1 and Table 2 laid out as the study prints them.

Table 1: one row per patient, CD34 % as an integer, purities to one decimal, the lineage in
the study's words ("BCP", "T, relapse"). Table 2: one row per resistance group in words,
one column per lineage ("BCP-ALL n=11"), each cell the patients of the group and lineage
with their count and share; a patient whose group rests on a flagged call (the groups
table's ``group_flag`` "*") gets a ``*`` and a footnote naming the genes and why.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pandas as pd

from sortpcr.classify import GROUP_WORDS
from sortpcr.io import cell_text

#: the titles of the two journal tables, as every output (report, workbook, Word) prints them
TITLE1 = "Table 1. Patient characteristics"
TITLE2 = "Table 2. Resistant properties of CD34+ vs CD34− leukemic subpopulations"
LINEAGE_WORDS = {"BCP": "BCP-ALL", "T": "T-lineage ALL"}


def _int_text(value: Any) -> str:
    number = pd.to_numeric(value, errors="coerce")
    return "" if pd.isna(number) else f"{float(number):.0f}"


def _one_decimal(value: Any) -> str:
    number = pd.to_numeric(value, errors="coerce")
    return "" if pd.isna(number) else f"{float(number):.1f}"


def table1_journal(table1: pd.DataFrame) -> pd.DataFrame:
    """Table 1 in the study's layout (all cells text, formatted as printed).

    ``table1`` is results/cohort/table1.tsv: ``cd34_pct`` and ``purity_*_pct`` in percent.
    A patient failing flow QC keeps its row; the last column says why.
    """
    rows = []
    for _, r in table1.iterrows():
        lineage = cell_text(r.get("lineage"))
        if cell_text(r.get("status")) == "relapse":
            lineage += ", relapse"
        qc = cell_text(r.get("flow_qc"))
        rows.append(
            {
                "Patient": cell_text(r["patient"]),
                "Age, years": cell_text(r.get("age")),
                "ALL": lineage,
                "CD34, %": _int_text(r.get("cd34_pct")),
                "Heterogeneous markers": cell_text(r.get("markers")),
                "Fusion gene": cell_text(r.get("fusion")),
                "Purity CD34+, %": _one_decimal(r.get("purity_cd34pos_pct")),
                "Purity CD34−, %": _one_decimal(r.get("purity_cd34neg_pct")),
                "Flow QC": qc if qc == "pass" else f"{qc}: {cell_text(r.get('flow_reason'))}",
            }
        )
    return pd.DataFrame(rows)


def _lineages(groups: pd.DataFrame, order: Sequence[str]) -> list[str]:
    present = [str(v) for v in groups["lineage"].dropna().unique()]
    return [x for x in order if x in present] + sorted(x for x in present if x not in order)


def table2_journal(
    groups: pd.DataFrame, lineage_order: Sequence[str] = ("BCP", "T")
) -> tuple[pd.DataFrame, list[str]]:
    """Table 2 in the study's layout, and its footnotes.

    ``groups`` is results/cohort/resistance_groups.tsv (one row per patient; ``group_flag``
    and ``footnote`` optional). Rows: the groups in words (the excluded row only when a
    patient was excluded); columns: one per lineage, headed "BCP-ALL n=11"; a cell lists the
    patients, then "k/n (p %)", or is "0"; excluded patients count in no denominator.
    """
    groups = groups.copy()
    for column in ("group_flag", "footnote"):
        if column not in groups.columns:
            groups[column] = ""
    lineages = _lineages(groups, lineage_order)
    # excluded patients count in no denominator (as results/cohort/table2.tsv)
    evaluable = groups[groups["group"] != "excluded"]
    sizes = {x: int((evaluable["lineage"] == x).sum()) for x in lineages}
    heads = {x: f"{LINEAGE_WORDS.get(x, x)} n={sizes[x]}" for x in lineages}
    present = set(groups["group"])
    rows, notes = [], []
    for group, words in GROUP_WORDS.items():
        if group == "excluded" and group not in present:
            continue
        row = {"Resistant properties": words[0].upper() + words[1:]}
        for lineage in lineages:
            mine = groups[(groups["group"] == group) & (groups["lineage"] == lineage)]
            ids = [
                cell_text(p) + ("*" if cell_text(f) == "*" else "")
                for p, f in zip(mine["patient"], mine["group_flag"], strict=True)
            ]
            n, total = len(ids), sizes[lineage]
            if not n:
                row[heads[lineage]] = "0"
            elif group == "excluded" or not total:
                row[heads[lineage]] = f"{', '.join(ids)} ({n})"
            else:
                row[heads[lineage]] = f"{', '.join(ids)} ({n}/{total}, {100.0 * n / total:.1f} %)"
        rows.append(row)
    flagged = groups[groups["group_flag"].map(cell_text) == "*"]
    for _, r in flagged.iterrows():
        notes.append(f"* {cell_text(r['patient'])}: {cell_text(r['footnote']) or 'flagged call'}")
    return pd.DataFrame(rows), notes


def journal_html(table: pd.DataFrame, title: str, notes: Sequence[str] = ()) -> str:
    """A journal table as an HTML fragment: booktabs-like rules, footnotes below."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell_text(v))}</td>" for v in row) + "</tr>"
        for row in table.itertuples(index=False)
    )
    foot = '<p class="note">' + "<br>".join(html.escape(n) for n in notes) + "</p>" if notes else ""
    return (
        f'<table class="journal"><caption>{html.escape(title)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{foot}"
    )


JOURNAL_STYLE = (
    "table.journal{border-collapse:collapse;border-top:2px solid #000;"
    "border-bottom:2px solid #000;margin:.6em 0}"
    "table.journal caption{text-align:left;font-weight:600;padding:.3em 0}"
    "table.journal th{background:none;border:none;border-bottom:1px solid #000;"
    "position:static;padding:4px 10px}"
    "table.journal td{border:none;padding:3px 10px}"
)
