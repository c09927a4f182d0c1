"""Incremental reruns on the demo cohort: exactly the outputs that depend on a change are
pending (asserted with `snakemake --summary`, in a copied workflow, after content changes)."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from tests.conftest import pending

pytestmark = pytest.mark.e2e

COHORT = {
    *(
        f"results/cohort/{t}.tsv"
        for t in [
            "calls",
            "resistance_groups",
            "table1",
            "table2",
            "expression",
            "fusion",
            "statistics",
        ]
    ),
    "results/cohort/sortpcr_results.xlsx",
    *(
        f"results/figures/{f}.{e}"
        for f in ["figure1_BCP", "figure2_T", "heatmap_log2_fold", "fusion_TEL-AML1"]
        for e in ["png", "svg"]
    ),
    "results/provenance/inputs.tsv",
    "results/provenance/software.tsv",
    "results/provenance/config.yaml",
}


def flow_chain(patient: str) -> set[str]:
    return {f"results/flow/{patient}.{ext}" for ext in ["json", "tsv", "png"]}


def analysis_chain(patient: str) -> set[str]:
    return {
        f"results/pairs/{patient}.tsv",
        f"results/expression/{patient}.tsv",
        f"results/calls/{patient}.tsv",
        f"results/calls/{patient}.group.tsv",
        f"results/calls/{patient}.fusion.tsv",
    }


def plate_chain(plate: str) -> set[str]:
    return {
        f"results/qpcr/{plate}/{name}"
        for name in ["wells.tsv", "curves.tsv", "quantities.tsv", "wells_qc.tsv", "curves.png"]
    }


def sheet(workdir, name):
    return pd.read_csv(
        workdir / "config" / f"{name}.tsv", sep="\t", dtype=str, keep_default_na=False
    )


def resolve(workdir, label):
    return (workdir / "config" / label).resolve()


def test_nothing_pending_after_a_complete_run(demo_copy):
    assert pending(demo_copy) == set()


def test_changed_presort_fcs_reruns_one_patient(demo_copy):
    samples = sheet(demo_copy, "samples")
    fcs = resolve(demo_copy, samples.loc[samples["patient"] == "P03", "presort_fcs"].item())
    data = bytearray(fcs.read_bytes())
    start = int(data[26:34])  # HEADER: first byte of DATA
    # swap two 4-byte words inside DATA: event values change, the layout does not
    a, b = start + 400, start + 800
    data[a : a + 4], data[b : b + 4] = data[b : b + 4], data[a : a + 4]
    fcs.write_bytes(bytes(data))
    expected = flow_chain("P03") | analysis_chain("P03") | {"results/qc/flow.tsv"} | COHORT
    assert pending(demo_copy) == expected


def test_reexported_plate_reruns_plate_its_patients_and_cohort(demo_copy):
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
    expected = plate_chain(plate) | {"results/qpcr/standard_curves.tsv"} | COHORT
    for patient in patients:
        expected |= analysis_chain(patient)
    assert pending(demo_copy) == expected


def test_added_patient_runs_only_its_jobs_and_the_cohort(demo_copy):
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
    expected = (
        flow_chain("P18")
        | analysis_chain("P18")
        | plate_chain("EXPR99")
        | {"results/qc/flow.tsv", "results/qpcr/standard_curves.tsv"}
        | COHORT
    )
    assert pending(demo_copy) == expected


def test_purity_threshold_reruns_flow_and_what_follows(demo_copy):
    patients = list(sheet(demo_copy, "samples")["patient"])
    expected = {"results/qc/flow.tsv"} | COHORT
    for patient in patients:
        expected |= flow_chain(patient) | analysis_chain(patient)
    config = demo_copy / "config" / "config.yaml"
    text = config.read_text()
    assert "purity_min: 0.98" in text
    config.write_text(text.replace("purity_min: 0.98", "purity_min: 0.97"))
    assert pending(demo_copy) == expected
