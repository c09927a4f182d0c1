"""Incremental reruns on the demo cohort: exactly the outputs that depend on a change are
pending (asserted with `snakemake --summary`, in a copied workflow, after content changes)."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from tests.conftest import pending, snakemake

pytestmark = pytest.mark.e2e

#: where the cohort-level steps write (cohort tables, statistics, workbook, figures,
#: provenance, report pages): every one of them descends from every patient's chain
COHORT_DIRS = (
    "results/cohort/",
    "results/figures/",
    "results/provenance/",
    "results/report/",
)


class Outputs:
    """The workflow's outputs, as `snakemake --summary` of the finished demo lists them, so
    that the expected sets follow the rules (a step that gains an output needs no edit)."""

    def __init__(self, files: set[str]) -> None:
        self.files = files
        self.cohort = {f for f in files if f.startswith(COHORT_DIRS)}
        self.provenance = {f for f in files if f.startswith("results/provenance/")}
        self.report = {f for f in files if f.startswith("results/report/")}
        self.figures = {f for f in files if f.startswith("results/figures/")}
        #: the checksums follow the raw inputs alone; software.tsv and config.yaml the code
        #: and the config (after_code: a change of code or config)
        self.checksums = {"results/provenance/inputs.tsv"}
        self.cohort_after_data = self.cohort - (self.provenance - self.checksums)
        self.cohort_after_code = self.cohort - self.checksums

    def flow_chain(self, patient: str) -> set[str]:
        return {f for f in self.files if f.startswith(f"results/flow/{patient}.")}

    def analysis_chain(self, patient: str) -> set[str]:
        return {
            f
            for f in self.files
            for prefix in ("pairs", "expression", "calls")
            if f.startswith(f"results/{prefix}/{patient}.")
        }

    def calls(self, patient: str) -> set[str]:
        return {f for f in self.files if f.startswith(f"results/calls/{patient}.")}

    def plate_chain(self, plate: str) -> set[str]:
        return {f for f in self.files if f.startswith(f"results/qpcr/{plate}/")}


@pytest.fixture(scope="module")
def out(demo_run) -> Outputs:
    summary = snakemake(demo_run, "--summary").stdout
    rows = [line.split("\t") for line in summary.splitlines() if "\t" in line]
    column = rows[0].index("output_file")
    files = {row[column] for row in rows[1:]}
    assert {"results/qc/flow.tsv", "results/calls/P01.tsv"} <= files
    return Outputs(files)


def sheet(workdir, name):
    return pd.read_csv(
        workdir / "config" / f"{name}.tsv", sep="\t", dtype=str, keep_default_na=False
    )


def resolve(workdir, label):
    return (workdir / "config" / label).resolve()


def test_nothing_pending_after_a_complete_run(demo_copy):
    assert pending(demo_copy) == set()


def test_changed_presort_fcs_reruns_one_patient(demo_copy, out):
    samples = sheet(demo_copy, "samples")
    fcs = resolve(demo_copy, samples.loc[samples["patient"] == "P03", "presort_fcs"].item())
    data = bytearray(fcs.read_bytes())
    start = int(data[26:34])  # HEADER: first byte of DATA
    # swap two 4-byte words inside DATA: event values change, the layout does not
    a, b = start + 400, start + 800
    data[a : a + 4], data[b : b + 4] = data[b : b + 4], data[a : a + 4]
    fcs.write_bytes(bytes(data))
    expected = out.flow_chain("P03") | out.analysis_chain("P03") | out.cohort_after_data
    expected |= {"results/qc/flow.tsv"}
    assert pending(demo_copy) == expected


def test_reexported_plate_reruns_plate_its_patients_and_cohort(demo_copy, out):
    units = sheet(demo_copy, "units")
    plates = sheet(demo_copy, "plates")
    plate = "EXPR02"
    export = resolve(demo_copy, plates.loc[plates["plate"] == plate, "path"].item())
    lines = export.read_bytes().split(b"\r\n")
    # re-exported after a threshold change in the instrument software: one Ct moves
    row = next(i for i, line in enumerate(lines) if b"MDR1_" in line and b"Unkn" in line)
    cells = lines[row].split(b",")
    ct = next(i for i, cell in enumerate(cells) if re.fullmatch(rb"\d+\.\d+", cell))
    cells[ct] = b"%.2f" % (float(cells[ct]) + 0.05)
    lines[row] = b",".join(cells)
    export.write_bytes(b"\r\n".join(lines))
    patients = sorted(set(units.loc[units["plate"] == plate, "patient"]))
    assert len(patients) == 2
    expected = out.plate_chain(plate) | {"results/qpcr/standard_curves.tsv"} | out.cohort_after_data
    for patient in patients:
        expected |= out.analysis_chain(patient)
    assert pending(demo_copy) == expected


def test_added_patient_runs_only_its_jobs_and_the_cohort(demo_copy, out):
    cfg = demo_copy / "config"
    samples, units, plates = (sheet(demo_copy, n) for n in ("samples", "units", "plates"))
    donor = samples[samples["patient"] == "P05"].iloc[0].to_dict()
    new = dict(donor, patient="P18")
    # the new patient's own files: copies of P05's FCS, and a plate on which P05's samples
    # were renamed P18 (as a lab would run the new patient on a new plate)
    fcs_dir = resolve(demo_copy, donor["presort_fcs"]).parent
    mapping = {}
    for label in [donor["presort_fcs"], *units.loc[units["patient"] == "P05", "sorted_fcs"]]:
        src = resolve(demo_copy, label)
        dst = fcs_dir / src.name.replace("P05", "P18")
        shutil.copyfile(src, dst)
        mapping[label] = label.replace("P05", "P18")
    new["presort_fcs"] = mapping[donor["presort_fcs"]]
    old_plate = units.loc[units["patient"] == "P05", "plate"].iloc[0]
    src = resolve(demo_copy, plates.loc[plates["plate"] == old_plate, "path"].item())
    dst = src.with_name("EXPR99.csv")
    dst.write_text(src.read_text().replace("P05", "P18"))
    new_plate = plates[plates["plate"] == old_plate].iloc[0].to_dict()
    new_plate.update(plate="EXPR99", path=new_plate["path"].replace(src.name, dst.name))
    new_units = []
    for row in units[(units["patient"] == "P05") & (units["plate"] == old_plate)].to_dict(
        "records"
    ):
        new_units.append(
            dict(
                row,
                patient="P18",
                plate="EXPR99",
                sorted_fcs=mapping[row["sorted_fcs"]],
                qpcr_sample=row["qpcr_sample"].replace("P05", "P18"),
            )
        )
    pd.concat([samples, pd.DataFrame([new])]).to_csv(cfg / "samples.tsv", sep="\t", index=False)
    pd.concat([units, pd.DataFrame(new_units)]).to_csv(cfg / "units.tsv", sep="\t", index=False)
    pd.concat([plates, pd.DataFrame([new_plate])]).to_csv(cfg / "plates.tsv", sep="\t", index=False)
    new_files = {
        f.replace("P05", "P18").replace(old_plate, "EXPR99")
        for f in out.flow_chain("P05") | out.analysis_chain("P05") | out.plate_chain(old_plate)
    }
    new_files |= {"results/report/patient_P18.html"} if out.report else set()
    expected = (
        new_files
        | {"results/qc/flow.tsv", "results/qpcr/standard_curves.tsv"}
        | out.cohort_after_data
    )
    assert pending(demo_copy) == expected


def test_purity_threshold_reruns_flow_and_what_follows(demo_copy, out):
    patients = list(sheet(demo_copy, "samples")["patient"])
    expected = {"results/qc/flow.tsv"} | out.cohort_after_code
    for patient in patients:
        expected |= out.flow_chain(patient) | out.analysis_chain(patient)
    config = demo_copy / "config" / "config.yaml"
    text = config.read_text()
    assert "purity_min: 0.98" in text
    config.write_text(text.replace("purity_min: 0.98", "purity_min: 0.97"))
    assert pending(demo_copy) == expected


def change_module(workdir, module: str) -> None:
    """An upgrade of one module of the package (a behaviour-neutral edit of its code)."""
    path = workdir / "sortpcr" / module
    path.write_text(path.read_text() + "\n_UPGRADED = True\n")


def test_upgraded_classify_module_reruns_classify_and_what_follows(demo_copy, out):
    # issue 13: a changed call rule in sortpcr/classify.py used to leave stale calls
    patients = list(sheet(demo_copy, "samples")["patient"])
    change_module(demo_copy, "classify.py")
    expected = set(out.cohort_after_code)
    for patient in patients:
        expected |= out.calls(patient)
    assert pending(demo_copy) == expected
    dry = snakemake(demo_copy, "-n", "results/calls/P06.tsv").stdout
    assert "Params have changed since last execution" in dry  # -n says why


def test_upgraded_leaf_module_reruns_only_the_step_that_uses_it(demo_copy, out):
    change_module(demo_copy, "plots/cohort.py")  # used by the cohort figures alone
    figures = out.figures
    got = pending(demo_copy)
    # the figures and the provenance (it records code versions) rerun; of the rest at most
    # the report pages, which show the figures; no table, no patient's or plate's step, and
    # no raw file is hashed again (the checksums depend on the inputs alone)
    assert figures | (out.provenance - out.checksums) <= got
    assert got - figures - out.provenance <= out.report
    assert not got & out.checksums
    software = demo_copy / "results" / "provenance" / "software.tsv"
    snakemake(demo_copy, "--cores", "1", *sorted(got))
    recorded = dict(line.split("\t") for line in software.read_text().splitlines()[1:])
    from sortpcr.provenance import code_version

    assert recorded["code: scripts/figures.py"] == code_version("scripts/figures.py", demo_copy)
    assert pending(demo_copy) == set()


def test_compensation_choice_reruns_that_patient_and_the_matrix_is_an_input(demo_copy, out):
    samples = sheet(demo_copy, "samples")
    samples["compensation"] = ""
    samples.loc[samples["patient"] == "P02", "compensation"] = "none"
    samples.loc[samples["patient"] == "P03", "compensation"] = "comp/P03.tsv"
    matrix = demo_copy / "config" / "comp" / "P03.tsv"
    matrix.parent.mkdir()
    matrix.write_text("FITC-A\tPE-A\n1\t0.02\n0.001\t1\n")
    samples.to_csv(demo_copy / "config" / "samples.tsv", sep="\t", index=False)
    expected = {"results/qc/flow.tsv"} | out.cohort_after_data
    for patient in ("P02", "P03"):
        expected |= out.flow_chain(patient) | out.analysis_chain(patient)
    assert pending(demo_copy) == expected
    snakemake(demo_copy, "--cores", "2", "results/flow/P02.tsv", "results/flow/P03.tsv")
    flow = {p: pd.read_csv(demo_copy / f"results/flow/{p}.tsv", sep="\t") for p in ("P02", "P03")}
    assert set(flow["P02"]["compensation"]) == {"off"}  # the Diva-style file has a matrix
    assert set(flow["P03"]["compensation"]) == {"matrix comp/P03.tsv"}
    matrix.write_text("FITC-A\tPE-A\n1\t0.03\n0.001\t1\n")  # the lab corrects its matrix
    again = pending(demo_copy)
    assert out.flow_chain("P03") <= again
    assert not out.flow_chain("P02") & again
