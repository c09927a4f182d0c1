"""Gating throughput: read + compensate + gate a 1,000,000-event FACSDiva-style file.

    .venv/bin/python tests/benchmarks/gating_bench.py [--events N] [--repeat 3]
                                                       [--dir DIR] [--json OUT]

Prints events/s for sortpcr (``read_fcs`` + ``evaluate`` with the shipped
``resources/gating/facsdiva.xml``, its template coordinates) beside FlowKit
(``flowkit.Sample`` + ``GatingStrategy.gate_sample`` on the same file and strategy), best of
``--repeat`` runs in one warm process, and the same work as a fresh process (imports
included, as a Snakemake ``script:`` job pays it). Asserts that both give identical
memberships for every gate. Then the cost of adaptation: the same file gated with the
adaptive searches, and the gating job's work per demo patient (``analyse_patient`` of three
files, the applied gates' Gating-ML, the QC figure) with the adaptive strategies against the
fixed ones, in CPU seconds (``--job``; the demo's 17 patients, best of ``--repeat``).
Not a test: timings are never asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "resources" / "demo"))

STRATEGY = ROOT / "resources" / "gating" / "facsdiva.xml"

FRESH_OURS = """
import sys, time
t = time.perf_counter()
from sortpcr.fcs import read_fcs
from sortpcr.gating import evaluate, load_strategy
r = evaluate(load_strategy(sys.argv[2]), read_fcs(sys.argv[1]))
print(time.perf_counter() - t)
"""
FRESH_FLOWKIT = """
import sys, time
t = time.perf_counter()
import flowkit
s = flowkit.Sample(sys.argv[1], sample_id="x")
r = flowkit.parse_gating_xml(sys.argv[2]).gate_sample(s)
print(time.perf_counter() - t)
"""


def make_file(directory: Path, n_events: int) -> Path:
    """A FACSDiva-style pre-sort file of ``n_events`` events (the demo simulator)."""
    import flow_sim

    paths = flow_sim.write_patient_fcs(directory, "BENCH", 0.5, "diva", 2024, {}, n_events=n_events)
    for tube in ("CD34pos", "CD34neg"):
        paths[tube].unlink()
    return paths["presort"]


def _best(fn, repeat: int):
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def run(n_events: int = 1_000_000, repeat: int = 3, directory: Path | None = None) -> dict:
    """Measure both engines on one generated file; return the figures (seconds, events/s)."""
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        where = Path(directory) if directory else Path(tmp)
        path = make_file(where, n_events)

        from sortpcr.fcs import read_fcs
        from sortpcr.gating import evaluate, load_strategy

        def ours():
            return evaluate(load_strategy(STRATEGY), read_fcs(path), adapt=False)

        def adapted():
            return evaluate(load_strategy(STRATEGY), read_fcs(path))

        import flowkit

        def theirs():
            sample = flowkit.Sample(str(path), sample_id="bench")
            strategy = flowkit.parse_gating_xml(str(STRATEGY))
            return strategy.gate_sample(sample)

        ours()  # warm caches (file pages, first-call costs) for both
        t_ours, r_ours = _best(ours, repeat)
        adapted()
        t_adapted, _ = _best(adapted, repeat)
        theirs()
        t_fk, r_fk = _best(theirs, repeat)
        identical = {
            g: bool(np.array_equal(m, r_fk.get_gate_membership(g)))
            for g, m in r_ours.memberships.items()
        }
        if not all(identical.values()):
            raise SystemExit(f"memberships differ from FlowKit: {identical}")

        fresh = {}
        for name, code in (("sortpcr", FRESH_OURS), ("flowkit", FRESH_FLOWKIT)):
            out = subprocess.run(
                [sys.executable, "-c", code, str(path), str(STRATEGY)],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            fresh[name] = float(out.stdout.strip().splitlines()[-1])

    return {
        "events": n_events,
        "gates": list(r_ours.counts),
        "counts": r_ours.counts,
        "memberships_identical": True,
        "sortpcr_s": round(t_ours, 4),
        "flowkit_s": round(t_fk, 4),
        "sortpcr_events_per_s": round(n_events / t_ours),
        "flowkit_events_per_s": round(n_events / t_fk),
        "speedup": round(t_fk / t_ours, 2),
        "sortpcr_adaptive_s": round(t_adapted, 4),
        "fresh_process_sortpcr_s": round(fresh["sortpcr"], 3),
        "fresh_process_flowkit_s": round(fresh["flowkit"], 3),
        "fresh_process_speedup": round(fresh["flowkit"] / fresh["sortpcr"], 2),
    }


def job_cost(repeat: int = 3) -> dict:
    """CPU seconds per demo patient of the gating job's work (gate three files, write the
    applied gates, draw the figure), adaptive strategies against fixed ones; best of
    ``repeat`` passes over the 17 demo patients in one warm process (imports paid once)."""
    import flow_sim

    from sortpcr.flowqc import analyse_patient_with_events, applied_gates_text
    from sortpcr.plots.flow import patient_figure
    from sortpcr.settings import FlowQCSettings

    settings = FlowQCSettings.from_config(
        {
            "blast_gate": "Blasts",
            "fraction_gates": {"CD34pos": "CD34pos", "CD34neg": "CD34neg"},
            "markers": {"CD45": ["FITC-A", "FL1-H"], "CD34": ["PE-A", "FL2-H"]},
            "min_blast_events": 200,
        },
        {"purity_min": 0.98, "purity_denominator": "blasts", "cd34_range": [0.10, 0.90]},
    )
    fcs = ROOT / "resources" / "demo" / "fcs"
    patients = [f"P{i:02d}" for i in range(1, 18)]

    def one_pass(suffix: str, out: Path) -> tuple[float, float]:
        gate_cpu = total_cpu = 0.0
        for patient in patients:
            name = "facsdiva" if flow_sim.style_for(patient) == "diva" else "cellquest"
            files = {f: fcs / f"{patient}_{f}.fcs" for f in ("presort", "CD34pos", "CD34neg")}
            start = time.process_time()
            result, events = analyse_patient_with_events(
                patient, files["presort"], {f: files[f] for f in ("CD34pos", "CD34neg")}, {},
                ROOT / "resources" / "gating" / f"{name}{suffix}.xml", settings,
            )  # fmt: skip
            (out / "g.xml").write_text(applied_gates_text(result, events))
            gated = time.process_time()
            patient_figure(result, events, out / "f.png")
            gate_cpu += gated - start
            total_cpu += time.process_time() - start
        return gate_cpu / len(patients), total_cpu / len(patients)

    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, suffix in (("fixed", "_fixed"), ("adaptive", "")):
            one_pass(suffix, Path(tmp))  # warm
            runs = [one_pass(suffix, Path(tmp)) for _ in range(repeat)]
            figures[f"{label}_gating_cpu_s"] = round(min(r[0] for r in runs), 4)
            figures[f"{label}_job_cpu_s"] = round(min(r[1] for r in runs), 4)
    figures["added_job_cpu_s_per_patient"] = round(
        figures["adaptive_job_cpu_s"] - figures["fixed_job_cpu_s"], 4
    )
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the FCS file")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--job", action="store_true", help="also the per-patient job cost")
    args = parser.parse_args(argv)
    figures = run(args.events, args.repeat, args.dir)
    print(f"read + compensate + gate, {figures['events']:,} events, gates {figures['gates']}")
    print(
        f"  sortpcr : {figures['sortpcr_s']:.3f} s  {figures['sortpcr_events_per_s']:>12,} events/s"
    )
    print(
        f"  FlowKit : {figures['flowkit_s']:.3f} s  {figures['flowkit_events_per_s']:>12,} events/s"
    )
    print(f"  speed-up {figures['speedup']}x, memberships identical for every gate")
    print(f"  sortpcr with the adaptive searches: {figures['sortpcr_adaptive_s']:.3f} s")
    print(
        f"  fresh process (imports included): sortpcr {figures['fresh_process_sortpcr_s']} s, "
        f"FlowKit {figures['fresh_process_flowkit_s']} s "
        f"({figures['fresh_process_speedup']}x)"
    )
    if args.job:
        job = job_cost(args.repeat)
        figures.update(job)
        print(
            "gating job per demo patient, CPU s (gating + Gating-ML / whole job with figure): "
            f"fixed {job['fixed_gating_cpu_s']} / {job['fixed_job_cpu_s']}, adaptive "
            f"{job['adaptive_gating_cpu_s']} / {job['adaptive_job_cpu_s']}; added "
            f"{job['added_job_cpu_s_per_patient']}"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
