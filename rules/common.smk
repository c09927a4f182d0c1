# Configuration, sample sheets and shared helpers. All problems in the config and the three
# sheets are collected and reported together before any job is planned.
import json
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, WORKFLOW_DIR)  # the Snakefile's folder (also as a module)

from sortpcr.errors import SheetError  # noqa: E402
from sortpcr.fcs import COMPENSATION_CHOICES  # noqa: E402
from sortpcr.provenance import code_version as hash_code  # noqa: E402
from sortpcr.runner import gating_memory_mb  # noqa: E402
from sortpcr.settings import settings_problems  # noqa: E402
from sortpcr.sheets import load as load_sheets  # noqa: E402

try:
    SHEETS = load_sheets(config)
except SheetError as error:
    raise WorkflowError(str(error)) from None

# Our own check above lists every problem; this one fills in the schema defaults. Then
# every step's settings are built once, for what the schema cannot state (crossed
# ranges, an identifier_regex without its groups).
validate(config, "../config/schemas/config.schema.yaml")
if problems := settings_problems(config):
    raise WorkflowError("\n".join(problems))

PATIENTS = SHEETS.patients
PLATES = list(SHEETS.plates["plate"])


wildcard_constraints:
    patient="|".join(re.escape(p) for p in PATIENTS),
    plate="|".join(re.escape(p) for p in PLATES),


def sample_row(patient):
    """The samples.tsv row of one patient, as a dict."""
    return SHEETS.sample(patient)


def strategy_of(wildcards):
    """Per-patient gating strategy, or the configured default."""
    return sample_row(wildcards.patient)["gating"] or config["gating"]["strategy"]


def compensation_matrix(patient):
    """The spillover matrix file samples.tsv gives a patient, or "" (file's own, or none)."""
    choice = sample_row(patient)["compensation"]
    return "" if choice in COMPENSATION_CHOICES else choice


def compensation_of(patient):
    """params: the sheet's compensation for a patient's files: `choice` ("" = the files'
    own matrix, "none", or the matrix file's path) and `label` (as written in the sheet).
    """
    row = sample_row(patient)
    return {"choice": row["compensation"], "label": row["compensation_label"]}


def flow_inputs(wildcards):
    """Pre-sort and both sorted FCS files of one patient (and its spillover matrix file)."""
    inputs = {
        "presort": sample_row(wildcards.patient)["presort_fcs"],
        "CD34pos": SHEETS.sorted_fcs(wildcards.patient, "CD34pos"),
        "CD34neg": SHEETS.sorted_fcs(wildcards.patient, "CD34neg"),
        "strategy": strategy_of(wildcards),
    }
    if compensation_matrix(wildcards.patient):
        inputs["compensation"] = compensation_matrix(wildcards.patient)
    return inputs


def gate_mem_mb(wildcards, input):
    """resources: a gating job's memory from the size of its FCS files (sortpcr.runner).

    Sizes are read with os.path, not `input.size_mb`: in `snakemake --report` that property
    leaves an un-awaited coroutine behind (a RuntimeWarning per patient)."""
    return gating_memory_mb(sum(os.path.getsize(f) for f in input) / 2**20)


def all_flow_inputs():
    """Every raw FCS file, strategy and matrix file of the cohort (sorted, unique)."""
    files = set(SHEETS.samples["presort_fcs"]) | set(SHEETS.units["sorted_fcs"])
    files |= {p for p in SHEETS.samples["gating"] if p} | {config["gating"]["strategy"]}
    files |= {compensation_matrix(p) for p in PATIENTS} - {""}
    return sorted(files)


def flow_labels(patient):
    """File labels for results: the paths as written in the sheets (never FCS keywords)."""
    label = {
        r["fraction"]: r["sorted_fcs_label"] for r in SHEETS.patient_units(patient)
    }
    return {
        "presort": sample_row(patient)["presort_fcs_label"],
        "CD34pos": label["CD34pos"],
        "CD34neg": label["CD34neg"],
    }


def plate_row(plate):
    """The plates.tsv row of one plate, as a dict."""
    return SHEETS.plate(plate)


def plate_inputs(wildcards):
    """Instrument export (and optional plate map) of one plate."""
    row = plate_row(wildcards.plate)
    inputs = {"export": row["path"]}
    if row["layout"]:
        inputs["layout"] = row["layout"]
    return inputs


def raw_files(inputs):
    """Input function: the raw files that the input function `inputs` names, as a list.

    Later steps declare the raw files their chain started from: Snakemake ignores a missing
    intermediate (removed after a failed step) when later outputs exist, which would leave
    those outputs stale. The steps do not read these files.
    """
    return lambda wildcards: list(inputs(wildcards).values())


def units_of(patient):
    """units.tsv rows of one patient (params: a changed row reruns only that patient)."""
    columns = ["patient", "fraction", "plate", "qpcr_sample", "sorted_fcs_label"]
    rows = [{c: row[c] for c in columns} for row in SHEETS.patient_units(patient)]
    for row, unit in zip(rows, SHEETS.patient_units(patient)):
        cdna = unit.get("cdna")  # optional cDNA preparation (RT variation)
        if isinstance(cdna, str) and cdna:
            row["cdna"] = cdna
    return rows


def patient_plates(name):
    """Input function: `name`.tsv of every plate one patient was measured on."""

    def files(wildcards):
        plates = SHEETS.plates_of(wildcards.patient)
        return expand("results/qpcr/{plate}/{name}.tsv", plate=plates, name=name)

    return files


def samples_records():
    """samples.tsv as records for the cohort tables (labels only, never resolved paths)."""
    columns = ["patient", "lineage", "age", "status", "fusion", "markers"]
    return SHEETS.samples[columns].to_dict("records")


def final_outputs():
    """Everything `snakemake` builds by default."""
    return [
        "results/qc/flow.tsv",
        "results/qpcr/standard_curves.tsv",
        *expand("results/qpcr/{plate}/quantities.tsv", plate=PLATES),
        *expand("results/flow/{patient}.png", patient=PATIENTS),
        *COHORT_TABLES,
        "results/cohort/sortpcr_results.xlsx",
        *FIGURES,
        "results/provenance/inputs.tsv",
    ]


def code_version(script):
    """params value: hash of a step's script and the sortpcr modules it imports, so that an
    upgrade (a changed module) reruns exactly the steps that run it, and what follows.
    """
    # without a local source (a remote module) the code is not tracked
    try:
        return hash_code(script, WORKFLOW_DIR)
    except (OSError, SyntaxError) as error:
        return f"unknown ({type(error).__name__})"


def code_versions():
    """params value of the provenance step: the code version of every step script."""
    scripts = sorted(Path(WORKFLOW_DIR, "scripts").glob("*.py"))
    return {f"scripts/{p.name}": code_version(f"scripts/{p.name}") for p in scripts}
