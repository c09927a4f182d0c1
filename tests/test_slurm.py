"""The demo cohort on a real SLURM: a private single-node cluster (slurmctld + slurmd + munged
on 127.0.0.1, started and stopped by tests/slurm/cluster.sh), the workflow run through
snakemake-executor-plugin-slurm with the shipped profile, every result table compared byte for
byte with a local run (tests/slurm/run_demo.sh does all of it).

Runs where the cluster can be built: Linux, as root, with apt-get (CI and the development
machine); skipped elsewhere, or when SORTPCR_SKIP_SLURM=1.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "slurm"
#: the whole script (plugin install, cluster start, SLURM run); the local run is shared with
#: the e2e tests through the demo_run fixture
TIMEOUT_S = 2400

pytestmark = pytest.mark.e2e


def _why_not() -> str | None:
    """Why a real SLURM cannot be started here, or None when it can."""
    if os.environ.get("SORTPCR_SKIP_SLURM") == "1":
        return "SORTPCR_SKIP_SLURM=1"
    if not sys.platform.startswith("linux"):
        return f"needs Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return "needs root to start munged, slurmctld and slurmd"
    have_slurm = all(shutil.which(t) for t in ("slurmctld", "slurmd", "munged", "sbatch"))
    if not have_slurm and not shutil.which("apt-get"):
        return "SLURM is not installed and apt-get is not available to install it"
    return None


def _stop_cluster(slurm_dir: Path) -> None:
    """Stop the daemons by the PIDs cluster.sh recorded (a no-op if already stopped)."""
    subprocess.run(
        ["bash", str(SCRIPTS / "cluster.sh"), "stop"],
        env=dict(os.environ, SORTPCR_SLURM_DIR=str(slurm_dir)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


#: lines of the scripts that name a stage (shown live, so the run does not sit silent)
STAGES = ("run_demo.sh: ", "cluster.sh: ", "SLURM jobs", "Snakemake jobs", "compared", "timings")


def _read_with_stages(process: subprocess.Popen, show, timeout: float) -> tuple[str, bool]:
    """All of the process's output; each stage line is passed to ``show`` as it comes.
    Returns (output, finished before ``timeout`` seconds)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    output, deadline = [], time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return "".join(output), False
        if line is None:
            process.wait()
            return "".join(output), True
        output.append(line)
        if line.startswith(STAGES):
            show(line.rstrip("\n"))


# decided before the demo_run fixture runs the demo: a skipped test costs nothing
@pytest.mark.skipif(_why_not() is not None, reason=str(_why_not()))
def test_demo_on_slurm_matches_local_run(demo_run: Path, tmp_path: Path, capsys) -> None:

    def show(line: str) -> None:
        # past pytest's capture: the stages reach the terminal while the test runs
        with capsys.disabled():
            print(f"\n[test_slurm] {line}", end="", flush=True)

    show(
        "starts a private SLURM (munged, slurmctld, slurmd on 127.0.0.1; installed with "
        "apt-get if missing) and stops it afterwards; SORTPCR_SKIP_SLURM=1 skips this test"
    )
    # The cluster's folder holds Unix sockets (paths <= 108 bytes): short, directly in /tmp.
    slurm_dir = Path(tempfile.mkdtemp(prefix="sortpcr-slurm.", dir="/tmp"))
    env = dict(os.environ, TMPDIR=str(tmp_path), SORTPCR_SLURM_DIR=str(slurm_dir))
    env.pop("PYTHONPATH", None)
    process = subprocess.Popen(
        ["bash", str(SCRIPTS / "run_demo.sh"), "--local-run", str(demo_run)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, finished = _read_with_stages(process, show, TIMEOUT_S)
        if not finished:
            # The script's own trap stops the cluster on SIGTERM; SIGKILL the rest afterwards.
            os.killpg(process.pid, signal.SIGTERM)
            rest, finished = _read_with_stages(process, show, 60)
            if not finished:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            pytest.fail(f"run_demo.sh did not finish in {TIMEOUT_S} s:\n{(output + rest)[-6000:]}")
    finally:
        # Whatever happened, no daemon outlives the test (run_demo.sh's own trap normally
        # stopped them already; this is a no-op then).
        _stop_cluster(slurm_dir)
        shutil.rmtree(slurm_dir, ignore_errors=True)

    assert process.returncode == 0, f"run_demo.sh failed ({process.returncode}):\n{output[-8000:]}"
    # Shown with `pytest -rP`: job counts and the time each phase took.
    keys = ("SLURM jobs", "Snakemake jobs", "compared", "timings")
    print("\n".join(line for line in output.splitlines() if line.startswith(keys)))

    # Snakemake handed jobs to SLURM, and SLURM itself ran each of them to completion.
    submitted = re.search(r"^SLURM job IDs submitted by Snakemake: ([\d ]*)$", output, re.M)
    assert submitted, output[-4000:]
    job_ids = submitted.group(1).split()
    assert len(job_ids) >= 3, output[-4000:]
    states = dict(re.findall(r"^\s+(\d+)\|([A-Z_]+)\|", output, re.M))
    for job_id in job_ids:
        assert states.get(job_id) == "COMPLETED", f"SLURM job {job_id}: {states.get(job_id)}"
    # Grouping: fewer SLURM jobs than Snakemake jobs (one per patient chain, per plate chain).
    steps = re.search(r"^Snakemake jobs: (\d+) ", output, re.M)
    assert steps, output[-4000:]
    assert len(job_ids) < int(steps.group(1))

    # And the results are the local run's, table for table.
    summary = re.search(r"^compared (\d+) tables: (\d+) identical$", output, re.M)
    assert summary, output[-4000:]
    assert summary.group(1) == summary.group(2)
    assert int(summary.group(1)) > 0


def test_stages_are_shown_as_they_come() -> None:
    """The SLURM test shows the scripts' stage lines while they run, keeps all output, and
    stops waiting at its timeout."""
    script = 'echo "run_demo.sh: local"; echo noise; sleep 0.3; echo "cluster.sh: up"'
    process = subprocess.Popen(
        ["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    shown: list[tuple[float, str]] = []
    start = time.monotonic()
    output, finished = _read_with_stages(
        process, lambda line: shown.append((time.monotonic() - start, line)), 30
    )
    assert finished and output == "run_demo.sh: local\nnoise\ncluster.sh: up\n"
    assert [line for _, line in shown] == ["run_demo.sh: local", "cluster.sh: up"]
    assert shown[0][0] < shown[1][0] - 0.2  # the first stage came before the script ended
    slow = subprocess.Popen(["sleep", "5"], stdout=subprocess.PIPE, text=True)
    _, finished = _read_with_stages(slow, print, 0.3)
    assert not finished
    slow.kill()
    slow.wait()
