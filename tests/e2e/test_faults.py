"""Faults and bad input at workflow level: kill and resume, determinism, the lock, a wrong
sheet, a sort that fails purity, and privacy of the results and the report."""

from __future__ import annotations

import filecmp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT, copy_workflow, snakemake

pytestmark = pytest.mark.e2e

sys.path.insert(0, str(ROOT / "resources" / "demo"))


def result_tables(workdir: Path) -> list[Path]:
    """Every deterministic result file (tables and JSON) below results/."""
    base = workdir / "results"
    return sorted(
        p.relative_to(base)
        for p in base.rglob("*")
        if p.suffix in {".tsv", ".json", ".yaml"} and p.name != "software.tsv"
    )


def assert_same_results(a: Path, b: Path) -> None:
    files_a, files_b = result_tables(a), result_tables(b)
    assert files_a == files_b
    different = [
        str(f)
        for f in files_a
        if not filecmp.cmp(a / "results" / f, b / "results" / f, shallow=False)
    ]
    assert different == []


def test_killed_run_resumes_to_identical_results(demo_run, tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    process = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    flow = workdir / "results" / "flow"
    while time.monotonic() < deadline and process.poll() is None:
        if flow.is_dir() and len(list(flow.glob("*.tsv"))) >= 3:
            break
        time.sleep(0.1)
    assert process.poll() is None, "the run ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    # the killed run leaves its lock and incomplete outputs; the plain command refuses to
    # go on and says what to do (the README tells users the same)
    refused = snakemake(workdir, "--cores", "2", check=False)
    message = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "--unlock" in message or "--rerun-incomplete" in message
    snakemake(workdir, "--unlock")
    snakemake(workdir, "--cores", "2", "--rerun-incomplete")
    assert_same_results(demo_run, workdir)


def test_second_concurrent_run_is_refused(demo_copy):
    locks = demo_copy / ".snakemake" / "locks"
    first = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "1", "--forceall"],
        cwd=demo_copy,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (locks.is_dir() and any(locks.iterdir())):
            time.sleep(0.05)
        # refused either for the lock or for the first run's jobs in progress, which
        # Snakemake reports as incomplete; insisting on those hits the lock
        second = snakemake(demo_copy, "--cores", "1", check=False)
        assert second.returncode != 0
        insist = snakemake(demo_copy, "--cores", "1", "--rerun-incomplete", check=False)
        assert insist.returncode != 0
        assert "Directory cannot be locked" in insist.stdout + insist.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()


def test_wrong_sheet_stops_before_any_job_with_every_problem(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    samples = workdir / "config" / "samples.tsv"
    lines = samples.read_text().splitlines()
    lines[1] = lines[1].replace("\tBCP\t", "\tB-ALL\t", 1)  # unknown lineage
    lines.append(lines[2])  # duplicate patient
    samples.write_text("\n".join(lines) + "\n")
    plates = workdir / "config" / "plates.tsv"
    plates.write_text(plates.read_text().replace("EXPR01", "EXPR1X", 1))  # units name EXPR01
    result = snakemake(workdir, "--cores", "1", check=False)
    text = result.stdout + result.stderr
    assert result.returncode != 0
    assert "'B-ALL' is not one of BCP, T" in text
    assert "duplicate patient" in text
    assert "'EXPR01' is not in plates.tsv" in text
    assert not (workdir / "results").exists()


def test_crossed_ranges_in_the_config_stop_before_any_job(tmp_path):
    """What the schema cannot state (a range whose ends cross) stops the run at start-up,
    every such key named once, before any job."""
    workdir = copy_workflow(tmp_path / "wf")
    config = workdir / "config" / "config.yaml"
    text = config.read_text()
    text = text.replace("cd34_range: [0.10, 0.90]", "cd34_range: [0.90, 0.10]")
    text = text.replace("slope_min: -3.9, slope_max: -3.0", "slope_min: -3.0, slope_max: -3.9")
    config.write_text(text)
    result = snakemake(workdir, "--cores", "1", check=False)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert out.count("config qc.cd34_range [0.9, 0.1]: low is above high") == 1
    assert "config qpcr.curves.copies [-3, -3.9]: slope_min is above slope_max" in out
    assert not (workdir / "results").exists()


def test_failed_purity_excludes_that_patient_only(tmp_path):
    import cohort_spec
    import flow_sim
    from generate import SEED, identity

    workdir = copy_workflow(tmp_path / "wf")
    patients = cohort_spec.patient_ids()
    index = patients.index("P04")
    spec = cohort_spec.PATIENTS[index]
    out = workdir / "resources" / "demo" / "fcs"
    flow_sim.write_patient_fcs(
        out,
        "P04",
        cd34_fraction=spec["cd34_pct"] / 100,
        style=flow_sim.style_for("P04"),
        seed=SEED + index,
        identity=identity(index),
        purity={"CD34neg": 0.96},
    )
    snakemake(workdir, "--cores", "2")
    flow = pd.read_csv(workdir / "results" / "qc" / "flow.tsv", sep="\t", keep_default_na=False)
    row = flow[(flow["patient"] == "P04") & (flow["fraction"] == "CD34neg")].iloc[0]
    assert row["status"] == "fail"
    assert "purity" in row["reason"]
    assert abs(float(row["purity"]) - 0.96) < 0.01
    assert (flow[flow["patient"] != "P04"]["status"] == "pass").all()
    groups = pd.read_csv(
        workdir / "results" / "cohort" / "resistance_groups.tsv", sep="\t", keep_default_na=False
    ).set_index("patient")
    assert groups.loc["P04", "group"] == "excluded"
    assert "purity" in groups.loc["P04", "reason"]
    assert groups.loc["P01", "group"] == "CD34pos_only"
    stats = pd.read_csv(workdir / "results" / "cohort" / "statistics.tsv", sep="\t")
    bcp_mdr1 = stats[(stats["gene"] == "MDR1") & (stats["lineage"] == "BCP")].iloc[0]
    assert int(bcp_mdr1["n"]) == 10


def identifying_values(workdir: Path) -> set[str]:
    """Values of every identifying keyword in the raw FCS files of a workflow copy."""
    from sortpcr.fcs import identifying_keywords, read_text

    values = set()
    for fcs in (workdir / "resources" / "demo" / "fcs").glob("*.fcs"):
        text = read_text(fcs)
        values |= {text[k] for k in identifying_keywords(text) if len(text[k]) > 4}
    return values - {"presort", "CD34pos", "CD34neg"}  # TUBE NAME: the fraction, not a person


def test_report_and_results_carry_no_identifying_keyword(demo_copy):
    secrets = identifying_values(demo_copy)
    assert {"Kowalska, Irina", "Irina Kowalska", "Kowalska_Irina_BM_sort.fcs"} <= secrets
    snakemake(demo_copy, "--report", "results/report.html")
    report = demo_copy / "results" / "report.html"
    assert report.stat().st_size > 100_000
    leaks = []
    for path in (demo_copy / "results").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".xlsx":  # a zip: scan its members
                import zipfile

                with zipfile.ZipFile(path) as book:
                    data = b"".join(book.read(name) for name in book.namelist())
            if path.suffix == ".html":  # the report embeds results base64-encoded
                import base64
                import re

                for blob in re.findall(rb"base64,([A-Za-z0-9+/=]+)", data):
                    data += base64.b64decode(blob + b"=" * (-len(blob) % 4))
            leaks += [f"{path}: {s}" for s in secrets if s.encode() in data]
    assert leaks == []


def test_two_samples_under_one_name_stop_that_plate(tmp_path):
    # issue 13: the wells of P02pos typed as P01pos used to be pooled into P01's calls
    # (BCL2 3.24 -> 4.47 fold) while P02 became `excluded` without an error
    workdir = copy_workflow(tmp_path / "wf")
    export = workdir / "resources" / "demo" / "qpcr" / "EXPR01.csv"
    export.write_bytes(export.read_bytes().replace(b"_P02pos,", b"_P01pos,"))
    target = "results/qpcr/EXPR01/quantities.tsv"
    result = snakemake(workdir, "--cores", "1", target, check=False)
    text = result.stdout + result.stderr
    assert result.returncode != 0
    assert "EXPR01.csv: wells D05, D06, F01, F02: sample 'P01pos' (target BCL2)" in text
    assert "Replicate # 21 (wells D05, D06) and Replicate # 31 (wells F01, F02)" in text
    assert not (workdir / "results" / "qpcr" / "EXPR01" / "wells.tsv").exists()
    assert not (workdir / target).exists()


def test_gating_job_declares_memory_from_its_input_size(tmp_path):
    # issue 13: a 5,000,000-event pre-sort file made the job peak at 1.2-1.6 GB while the
    # rule declared 1,000 MB; the declaration now grows with the FCS files' size
    import re

    from sortpcr.runner import gating_memory_mb

    workdir = copy_workflow(tmp_path / "wf")
    presort = workdir / "resources" / "demo" / "fcs" / "P01_presort.fcs"
    # the sizes of the benchmark's 5 M-event pre-sort and 1.25 M-event sorted files (sparse)
    os.truncate(presort, 160_000_833)
    for fraction in ("CD34pos", "CD34neg"):
        os.truncate(presort.with_name(f"P01_{fraction}.fcs"), 40_000_832)
    result = snakemake(workdir, "-n", "results/flow/P01.json", "results/flow/P02.json")
    declared = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"patient=(P0[12])\n.*?mem_mb=(\d+)", result.stdout, re.S)
    }
    files = [presort, *(presort.with_name(f"P01_{f}.fcs") for f in ("CD34pos", "CD34neg"))]
    size_mb = sum(p.stat().st_size for p in files) / 2**20  # + a strategy of a few kB
    assert abs(declared["P01"] - gating_memory_mb(size_mb)) <= 1
    assert declared["P01"] > 1595  # the benchmark's peak for files of these sizes
    assert declared["P02"] == 1000
