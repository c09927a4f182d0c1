"""Benchmark: prints a table and writes JSON. Never part of the test suite's verdict.

    .venv/bin/python tests/benchmarks/run.py                 # everything, 1,000-patient scale
    .venv/bin/python tests/benchmarks/run.py --scale 200     # a smaller scale cohort
    .venv/bin/python tests/benchmarks/run.py --skip scale    # without the scale runs
    .venv/bin/python tests/benchmarks/run.py --skip demo gating --dry-only  # 1,000: -n only

Figures:
* demo cold run (fresh copy, no results): wall and CPU seconds, jobs run, and per rule the
  mean wall and CPU seconds of a job (from the rules' ``benchmark:`` files);
* no-op rerun: wall seconds; rerun after one patient's pre-sort FCS changed: wall, jobs;
* gating: events/s for read + compensate + gate on a generated 1,000,000-event FCS file, ours
  beside FlowKit's ``GatingStrategy.gate_sample`` (memberships asserted identical), and the
  same file gated as one Snakemake-style job (a fresh process, imports included);
* scale: a generated N-patient cohort: ``snakemake -n`` seconds, then a full run's CPU seconds
  per patient and the peak memory of any one process;
* memory: one gating job's peak RSS on a 5,000,000-event pre-sort file (``--memory-events``)
  beside the ``mem_mb`` the rule declares for that input size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import copy_workflow  # noqa: E402

#: ``python -m snakemake`` that also reports the CPU seconds of Snakemake's own process (DAG,
#: scheduling, bookkeeping), apart from the jobs it starts
SNAKEMAKE_SELF = """
import atexit, resource, sys
def report():
    r = resource.getrusage(resource.RUSAGE_SELF)
    sys.stderr.write(f"SNAKEMAKE_SELF_CPU {r.ru_utime + r.ru_stime:.2f}\\n")
atexit.register(report)
from snakemake.cli import main
sys.argv[0] = "snakemake"
main()
"""


def timed(cmd: list[str], cwd: Path) -> dict:
    """Run a command; wall seconds, CPU seconds of its process tree and of Snakemake's own
    process, peak RSS (MB) of the largest process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    steps = re.findall(r"(\d+) of (\d+) steps", result.stdout + result.stderr)
    own = re.findall(r"SNAKEMAKE_SELF_CPU ([0-9.]+)", result.stderr)
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2),
        "peak_rss_mb": round(after.ru_maxrss / 1024, 1),
        "snakemake_process_cpu_s": float(own[-1]) if own else None,
        "jobs": int(steps[-1][1]) if steps else planned_jobs(result.stdout + result.stderr),
    }


def planned_jobs(output: str) -> int:
    """Jobs in the job-stats table of a dry run (row ``total``)."""
    match = re.search(r"^total\s+(\d+)", output, flags=re.MULTILINE)
    return int(match.group(1)) if match else 0


def snakemake(*args: str) -> list[str]:
    return [sys.executable, "-c", SNAKEMAKE_SELF, *args]


def per_rule(workdir: Path) -> dict:
    """Mean wall and CPU seconds per job of each rule, from the rules' ``benchmark:`` files
    (psutil samples a job's CPU time, so jobs shorter than its first sample read 0)."""
    import csv

    rows: dict[str, list[tuple[float, float]]] = {}
    for path in sorted((workdir / "benchmarks").rglob("*.tsv")):
        rule = path.parent.name if path.parent.name != "benchmarks" else path.stem
        with open(path, newline="") as handle:
            record = next(csv.DictReader(handle, delimiter="\t"))
        rows.setdefault(rule, []).append((float(record["s"]), float(record["cpu_time"])))
    return {
        rule: {
            "jobs": len(v),
            "wall_s_per_job": round(sum(w for w, _ in v) / len(v), 2),
            "cpu_s_per_job": round(sum(c for _, c in v) / len(v), 2),
        }
        for rule, v in sorted(rows.items(), key=lambda kv: -sum(w for w, _ in kv[1]))
    }


def bench_demo(tmp: Path) -> dict:
    workdir = copy_workflow(tmp / "demo")
    out = {"cold": timed(snakemake("--cores", "2"), workdir)}
    shutil.rmtree(workdir / "results")
    shutil.rmtree(workdir / ".snakemake")
    shutil.rmtree(workdir / "benchmarks")
    out["cold_greedy"] = timed(snakemake("--cores", "2", "--scheduler", "greedy"), workdir)
    out["cold_greedy_per_rule"] = per_rule(workdir)
    out["noop"] = timed(snakemake("--cores", "2"), workdir)
    presort = next((workdir / "resources" / "demo" / "fcs").glob("P03_presort.fcs"))
    data = bytearray(presort.read_bytes())
    start = int(data[26:34])
    data[start + 400 : start + 404], data[start + 800 : start + 804] = (
        data[start + 800 : start + 804],
        data[start + 400 : start + 404],
    )
    presort.write_bytes(bytes(data))
    out["one_patient_changed"] = timed(snakemake("--cores", "2"), workdir)
    return out


def bench_gating(tmp: Path) -> dict:
    script = HERE / "gating_bench.py"
    if not script.exists():
        return {"skipped": "tests/benchmarks/gating_bench.py not present"}
    result = subprocess.run(
        [sys.executable, str(script), "--json", str(tmp / "gating.json"), "--dir", str(tmp)],
        capture_output=True,
        text=True,
    )
    print(result.stdout)
    if result.returncode != 0:
        return {"failed": result.stderr[-2000:]}
    return json.loads((tmp / "gating.json").read_text())


#: the gating job's work (scripts/gate_patient.py without Snakemake) in a fresh process
GATING_JOB = """
import sys, yaml
sys.path.insert(0, sys.argv[1])
from sortpcr.flowqc import FLOW_COLUMNS, analyse_patient_with_events, flow_records
from sortpcr.io import write_json, write_records
from sortpcr.plots.flow import patient_figure
from sortpcr.settings import FlowQCSettings
cfg = yaml.safe_load(open(sys.argv[1] + "/config/config.yaml"))
d = sys.argv[2]
files = {"CD34pos": d + "/BIG_CD34pos.fcs", "CD34neg": d + "/BIG_CD34neg.fcs"}
labels = {"presort": "BIG_presort.fcs", "CD34pos": "BIG_CD34pos.fcs", "CD34neg": "BIG_CD34neg.fcs"}
result, events = analyse_patient_with_events(
    "BIG", d + "/BIG_presort.fcs", files, labels, sys.argv[1] + "/resources/gating/facsdiva.xml",
    FlowQCSettings.from_config(cfg["gating"], cfg["qc"]),
)
write_json(d + "/BIG.json", result)
write_records(d + "/BIG.tsv", flow_records(result), FLOW_COLUMNS)
patient_figure(result, events, d + "/BIG.png")
"""


def bench_memory(tmp: Path, events: int = 5_000_000) -> dict:
    """Peak memory of one gating job on a pre-sort file of ``events`` events (sorted tubes of
    a quarter of that each, as the demo simulator writes them) against what the rule
    declares (``gating_memory_mb`` of the input size)."""
    sys.path.insert(0, str(ROOT / "resources" / "demo"))
    import flow_sim

    from sortpcr.runner import gating_memory_mb

    folder = tmp / "memory"
    folder.mkdir()
    paths = flow_sim.write_patient_fcs(folder, "BIG", 0.5, "diva", 2024, {}, n_events=events)
    input_mb = sum(p.stat().st_size for p in paths.values()) / 2**20  # as Snakemake's size_mb
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", GATING_JOB, str(ROOT), str(folder)], check=True, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mb = after.ru_maxrss / 1024  # the largest child so far: run this before the others
    total_events = sum(
        int(re.search(rb"\$TOT[^0-9]*(\d+)", p.read_bytes()[:4096]).group(1))
        for p in paths.values()
    )
    return {
        "presort_events": events,
        "all_events": total_events,
        "input_mb": round(input_mb, 1),
        "peak_rss_mb": round(peak_mb),
        "declared_mem_mb": gating_memory_mb(input_mb),
        "peak_mb_per_million_events": round(peak_mb / (total_events / 1e6)),
        "wall_s": round(time.perf_counter() - start, 1),
        "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
    }


def bench_scale(tmp: Path, patients: int, dry_only: bool = False) -> dict:
    workdir = copy_workflow(tmp / "scale")
    shutil.rmtree(workdir / "resources" / "demo" / "fcs")
    shutil.rmtree(workdir / "resources" / "demo" / "qpcr")
    subprocess.run(
        [
            sys.executable,
            str(workdir / "resources" / "demo" / "generate.py"),
            "--patients",
            str(patients),
        ],
        check=True,
    )
    dry = timed(snakemake("-n", "--cores", "2"), workdir)
    if dry_only:
        return {
            "patients": patients,
            "dry_run_s": dry["wall_s"],
            "dry_run_peak_rss_mb": dry["peak_rss_mb"],
            "jobs": dry["jobs"],
        }
    full = timed(snakemake("--cores", "2", "--scheduler", "greedy"), workdir)
    return {
        "patients": patients,
        "dry_run_s": dry["wall_s"],
        "full_run": full,
        "cpu_s_per_patient": round(full["cpu_s"] / patients, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="sortpcr benchmark")
    parser.add_argument("--scale", type=int, default=1000, help="patients in the scale cohort")
    parser.add_argument("--dry-only", action="store_true", help="scale: only `snakemake -n`")
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["memory", "demo", "gating", "scale"]
    )
    parser.add_argument("--memory-events", type=int, default=5_000_000)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/benchmark.json"))
    args = parser.parse_args()
    figures: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        }
    }
    with tempfile.TemporaryDirectory(prefix="sortpcr-bench-") as tmp:
        tmp_path = Path(tmp)
        if "memory" not in args.skip:  # first: ru_maxrss of children is the largest so far
            figures["memory"] = bench_memory(tmp_path, args.memory_events)
        if "demo" not in args.skip:
            figures["demo"] = bench_demo(tmp_path)
        if "gating" not in args.skip:
            figures["gating"] = bench_gating(tmp_path)
        if "scale" not in args.skip:
            figures["scale"] = bench_scale(tmp_path, args.scale, args.dry_only)
    print(json.dumps(figures, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
