"""All report pages from the cohort tables: page key -> whole HTML document.

Keys: ``front`` (the answer), ``journal`` (Tables 1 and 2 as printed), ``patient_<ID>``
(one per patient), ``table_<name>`` (one interactive page per result table or text).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sortpcr.io import cell_text
from sortpcr.report.columns import purity_percent
from sortpcr.report.html import page, table_page
from sortpcr.report.pages import front_page, journal_page, patient_page
from sortpcr.settings import ClassifySettings

#: table name -> (title, caption) of its page; ``{threshold}`` in a caption is the fold
#: threshold of the run
TABLE_PAGES: dict[str, tuple[str, str]] = {
    "table2": ("Table 2: resistance groups per lineage", "Counts of patients per group."),
    "resistance_groups": (
        "Resistance group of each patient",
        "genes_pos / genes_neg: genes at least {threshold}-fold higher in CD34+ / CD34- blasts.",
    ),
    "calls": ("Calls per patient and gene", "fold = CD34+ / CD34- expression (AU)."),
    "table1": ("Table 1: patient characteristics (data)", "CD34 % and purities in percent."),
    "statistics": ("Statistics per gene and lineage", "Paired tests of CD34+ vs CD34- values."),
    "claims": ("The study's claims beside ours", "From results/cohort/claims.tsv."),
    "lineage": ("BCP vs T lineage comparison", "From results/cohort/lineage.tsv."),
    "expression": (
        "Normalised expression per fraction and plate",
        "value = target / GUS (AU relative to IM-9); fusion rows: copies / GUS copies x 100.",
    ),
    "fusion": ("TEL-AML1 per fraction", "EAC-normalised copies (%)."),
    "flow": ("Flow QC per file", "Counts after each gate; purities in percent."),
    "standard_curves": ("Standard curves per plate and target", "Ct on log10 quantity."),
    "inputs": ("Raw inputs (SHA-256)", "Every raw file the results rest on."),
    "software": ("Software versions", "Versions of the software that made the results."),
}


def _sample(table1: pd.DataFrame, patient: str) -> dict[str, Any]:
    rows = table1[table1["patient"].map(cell_text) == patient]
    return rows.iloc[0].to_dict() if len(rows) else {}


def _of(table: pd.DataFrame | None, patient: str) -> pd.DataFrame:
    if table is None or "patient" not in table.columns:
        return pd.DataFrame()
    return table[table["patient"].map(cell_text) == patient].reset_index(drop=True)


def build_pages(
    tables: Mapping[str, pd.DataFrame],
    texts: Mapping[str, str],
    pairs: Sequence[pd.DataFrame],
    flow_pngs: Mapping[str, str | Path],
    plate_pngs: Mapping[str, str | Path],
    settings: ClassifySettings,
) -> dict[str, str]:
    """Every page. ``tables`` by name (calls, resistance_groups, table1, statistics, flow,
    standard_curves, …; claims optional), ``texts`` by name (e.g. the effective config),
    ``pairs`` the per-patient pairing tables (which sample is on which plate),
    ``flow_pngs`` patient -> gating figure, ``plate_pngs`` plate -> curve figure,
    ``settings``: the classification settings (its ``fold_threshold`` and ``ci_level``)."""
    tables = dict(tables)
    if "flow" in tables:
        tables["flow"] = purity_percent(tables["flow"])
    level = settings.ci_level
    groups, calls = tables["resistance_groups"], tables["calls"]
    pages = {
        "front": front_page(
            groups,
            calls,
            tables["statistics"],
            tables.get("claims"),
            tables.get("standard_curves"),
            settings.fold_threshold,
        ),
        "journal": journal_page(tables["table1"], groups),
    }
    all_pairs = pd.concat(list(pairs), ignore_index=True) if pairs else pd.DataFrame()
    for patient in groups["patient"].map(cell_text):
        mine = _of(all_pairs, patient)
        plates = sorted({cell_text(p) for p in mine.get("plate", [])} & set(plate_pngs))
        pages[f"patient_{patient}"] = patient_page(
            patient,
            _sample(tables["table1"], patient),
            _of(tables.get("flow"), patient),
            _of(tables.get("expression"), patient),
            _of(calls, patient),
            _of(groups, patient),
            _of(tables.get("fusion"), patient),
            mine,
            flow_pngs.get(patient),
            {p: plate_pngs[p] for p in plates},
            level,
        )
    for name, table in tables.items():
        title, caption = TABLE_PAGES.get(name, (name, ""))
        caption = caption.format(threshold=f"{settings.fold_threshold:g}")
        pages[f"table_{name}"] = table_page(table, title, caption)
    for name, text in texts.items():
        pages[f"table_{name}"] = page(name, f"<pre>{html.escape(text)}</pre>")
    return pages
