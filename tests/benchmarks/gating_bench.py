"""Gating throughput: read + compensate + gate a 1,000,000-event FACSDiva-style file.

    .venv/bin/python tests/benchmarks/gating_bench.py [--events N] [--repeat 3]
                                                       [--dir DIR] [--json OUT]

Prints events/s for sortpcr (``read_fcs`` + ``evaluate`` with the shipped
``resources/gating/facsdiva.xml``) beside FlowKit (``flowkit.Sample`` +
``GatingStrategy.gate_sample`` on the same file and strategy), best of ``--repeat`` runs in
one warm process, and the same work as a fresh process (imports included, as a Snakemake
``script:`` job pays it). Asserts that both give identical memberships for every gate.
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
            return evaluate(load_strategy(STRATEGY), read_fcs(path))

        import flowkit

        def theirs():
            sample = flowkit.Sample(str(path), sample_id="bench")
            strategy = flowkit.parse_gating_xml(str(STRATEGY))
            return strategy.gate_sample(sample)

        ours()  # warm caches (file pages, first-call costs) for both
        t_ours, r_ours = _best(ours, repeat)
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
        "fresh_process_sortpcr_s": round(fresh["sortpcr"], 3),
        "fresh_process_flowkit_s": round(fresh["flowkit"], 3),
        "fresh_process_speedup": round(fresh["flowkit"] / fresh["sortpcr"], 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the FCS file")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
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
    print(
        f"  fresh process (imports included): sortpcr {figures['fresh_process_sortpcr_s']} s, "
        f"FlowKit {figures['fresh_process_flowkit_s']} s "
        f"({figures['fresh_process_speedup']}x)"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
