"""The workflow used as a Snakemake module from another folder, with that folder's own
config and sheets (config/README.md), end to end on the demo; then its HTML report holds the
front page, the tables as HTML pages and one page per patient."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import copy_workflow, snakemake
from tests.e2e.test_demo import TABLE2

pytestmark = pytest.mark.e2e

MARKER = "[module copy]"
SNAKEFILE = """\
configfile: "config/config.yaml"


module sortpcr:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from sortpcr
"""


def report_data(report: Path) -> tuple[dict, dict, str]:
    """The report's ``results``, ``categories`` and start page (``workflow_desc``), JSON
    assigned in its script."""
    text = report.read_text(encoding="utf-8")
    found = {}
    for name in ("results", "categories", "workflow_desc"):
        match = re.search(rf"^\s*var {name} = ([{{\"].*?);?\s*$", text, re.M)
        assert match, f"no '{name}' in the report"
        found[name] = json.loads(match.group(1))
    return found["results"], found["categories"], found["workflow_desc"]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("module")
    workflow = copy_workflow(base / "sortpcr")
    # mark the copy's package, to see that the jobs import it and not an installed sortpcr
    columns = workflow / "sortpcr" / "report" / "columns.py"
    text = columns.read_text(encoding="utf-8")
    original = '"pseudonymous patient ID from config/samples.tsv"'
    assert original in text
    columns.write_text(text.replace(original, original[:-1] + f' {MARKER}"'), encoding="utf-8")
    # the user's own folder: config and sheets only; the sheets point at the demo's files
    mine = base / "analysis"
    (mine / "config").mkdir(parents=True)
    shutil.copy(workflow / "config" / "config.yaml", mine / "config" / "config.yaml")
    demo = (workflow / "resources").as_posix() + "/"
    for sheet in ("samples", "units", "plates"):
        text = (workflow / "config" / f"{sheet}.tsv").read_text(encoding="utf-8")
        (mine / "config" / f"{sheet}.tsv").write_text(text.replace("../resources/", demo))
    (mine / "Snakefile").write_text(SNAKEFILE.format(snakefile=workflow / "Snakefile"))
    snakemake(mine, "--cores", "2", "--scheduler", "greedy")
    snakemake(mine, "--report", "results/report.html")
    return mine


def test_module_run_reproduces_table2_in_the_users_folder(deployed):
    groups = pd.read_csv(deployed / "results/cohort/resistance_groups.tsv", sep="\t")
    found = {g: set(rows["patient"]) for g, rows in groups.groupby("group")}
    assert found == TABLE2
    assert (deployed / "logs" / "report_pages.log").exists()
    workflow = deployed.parent / "sortpcr"
    assert not (workflow / "results").exists() and not (workflow / "logs").exists()
    # the jobs imported the module's own sortpcr package
    page = (deployed / "results/report/table_calls.html").read_text(encoding="utf-8")
    assert MARKER in page


def test_report_holds_front_page_tables_as_html_and_patient_pages(deployed):
    results, categories, start = report_data(deployed / "results" / "report.html")
    mime = {Path(path).name: entry["mime_type"] for path, entry in results.items()}
    # the tables a user reads are HTML pages in the report (the eye icon opens them)
    for table in ("table2", "resistance_groups", "calls", "table1", "statistics",
                  "expression", "flow", "standard_curves"):  # fmt: skip
        assert mime[f"table_{table}.html"] == "text/html", table
    assert mime["answer.html"] == "text/html"
    assert mime["journal_tables.html"] == "text/html"
    assert mime["sortpcr_results.xlsx"].endswith("spreadsheetml.sheet")  # the workbook
    assert mime["journal_tables.docx"].endswith("wordprocessingml.document")
    assert not any(m == "text/tab-separated-values" for m in mime.values())  # no TSV left
    # one page per patient
    patients = categories["Patients"]["One page per patient"]
    assert sorted(Path(p).name for p in patients) == [
        f"patient_P{i:02d}.html" for i in range(1, 18)
    ]
    # every report item has a subcategory; figures once per category
    assert all("Other" not in subs for subs in categories.values()), categories
    for category, subs in categories.items():
        stems = [str(Path(p).with_suffix("")) for paths in subs.values() for p in paths]
        assert len(stems) == len(set(stems)), category  # not as PNG and SVG both
    # the start page opens on the answer, with links to the patient pages
    assert "Higher in CD34− blasts only" in start and "17 patients" in start
    assert "P02, P07, P08" in start  # Table 2's patients on the start page
    for i in range(1, 18):
        link = f"javascript:app.showResultInfo('results/report/patient_P{i:02d}.html')"
        assert link in start, i


def test_every_column_of_the_results_is_explained(deployed):
    from sortpcr.report.columns import undocumented

    tables = [*sorted((deployed / "results" / "cohort").glob("*.tsv"))]
    tables += [deployed / "results/qc/flow.tsv", deployed / "results/qpcr/standard_curves.tsv"]
    missing = {p.name: undocumented(pd.read_csv(p, sep="\t", nrows=1).columns) for p in tables}
    assert {name: cols for name, cols in missing.items() if cols} == {}
    book = pd.read_excel(deployed / "results/cohort/sortpcr_results.xlsx", sheet_name="columns")
    assert "(not described)" not in set(book["meaning"])
