"""The ``sortpcr gate`` command, run as a user runs it (a subprocess): its table equals the
workflow's own gating of the same files, and its errors are one line with exit status 2."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import shared_path

from sortpcr.fcs import read_fcs
from sortpcr.gating import evaluate, load_strategy

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "resources" / "demo" / "fcs"
STRATEGY = REPO / "resources" / "gating" / "facsdiva.xml"
CELLQUEST = REPO / "resources" / "gating" / "cellquest.xml"


def _run(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sortpcr.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _table(stdout: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(stdout), delimiter="\t"))


def _expected(strategy: Path, path: Path) -> dict[str, tuple[int, int]]:
    result = evaluate(load_strategy(strategy), read_fcs(path))
    out = {}
    for gate, count in result.counts.items():
        parent = result.parents[gate]
        out[gate] = (count, result.n_events if parent is None else result.counts[parent])
    return out


def test_gate_demo_files_as_the_workflow() -> None:
    files = [DEMO / "P01_presort.fcs", DEMO / "P01_CD34pos.fcs"]
    proc = _run("gate", "--strategy", STRATEGY, *files)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.splitlines()[0] == "file\tgate\tgate_path\tcount\tparent_count"
    rows = _table(proc.stdout)
    for path in files:
        mine = {r["gate"]: (int(r["count"]), int(r["parent_count"])) for r in rows
                if r["file"] == str(path)}  # fmt: skip
        assert mine == _expected(STRATEGY, path)
    blasts = next(r for r in rows if r["gate"] == "Blasts" and r["file"] == str(files[0]))
    assert blasts["gate_path"].endswith("/Blasts") and blasts["gate_path"].startswith("/")
    # the parent count is the count of the gate one level up the path
    by_path = {(r["file"], r["gate_path"]): r for r in rows}
    for r in rows:
        up = r["gate_path"].rsplit("/", 1)[0]
        if up:
            assert r["parent_count"] == by_path[(r["file"], up)]["count"]


GML = """<?xml version="1.0" encoding="UTF-8"?>
<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating"
  xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">
  <gating:RectangleGate gating:id="PEpos">
    <gating:dimension gating:compensation-ref="FCS" gating:min="500">
      <data-type:fcs-dimension data-type:name="PE-A"/>
    </gating:dimension>
  </gating:RectangleGate>
</gating:Gating-ML>
"""


def test_gate_no_compensation(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "resources" / "demo"))
    import numpy as np
    from fcswrite import Channel, build_fcs

    # FITC spills 50 % into PE: 400 bright-FITC events read PE 600 raw, 100 compensated
    ev = np.zeros((1000, 2), dtype=np.float32)
    ev[:400] = (1000.0, 600.0)
    ev[400:] = (10.0, 1000.0)
    spill = {"$SPILLOVER": "2,FITC-A,PE-A,1,0.5,0,1"}
    path = tmp_path / "spill.fcs"
    path.write_bytes(build_fcs(ev, [Channel("FITC-A"), Channel("PE-A")], spill))
    strategy = tmp_path / "pe.xml"
    strategy.write_text(GML)
    on = _run("gate", "--strategy", strategy, path)
    off = _run("gate", "--strategy", strategy, "--no-compensation", path)
    assert on.returncode == off.returncode == 0, on.stderr + off.stderr
    assert [(r["gate"], r["count"]) for r in _table(on.stdout)] == [("PEpos", "600")]
    assert [(r["gate"], r["count"]) for r in _table(off.stdout)] == [("PEpos", "1000")]
    # a matrix file replacing the file's: FITC spills 20 % -> bright-FITC PE 600 - 200 = 400
    matrix = tmp_path / "matrix.csv"
    matrix.write_text("FITC-A,PE-A\n1,0.2\n0,1\n")
    other = _run("gate", "--strategy", strategy, "--compensation", matrix, path)
    assert other.returncode == 0, other.stderr
    assert [(r["gate"], r["count"]) for r in _table(other.stdout)] == [("PEpos", "600")]
    both = _run("gate", "--strategy", strategy, "--compensation", matrix, "--no-compensation", path)
    assert both.returncode == 2 and "contradict" in both.stderr
    broken = tmp_path / "broken.csv"
    broken.write_text("FITC-A,PE-A\n1,x\n0,1\n")
    bad = _run("gate", "--strategy", strategy, "--compensation", broken, path)
    assert bad.returncode == 2 and "broken.csv" in bad.stderr and "Traceback" not in bad.stderr


def test_gate_chosen_data_set(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "resources" / "demo"))
    import numpy as np
    from fcswrite import Channel, chain_data_sets

    chans = [Channel("FITC-A"), Channel("PE-A")]
    low = np.full((100, 2), 10.0, dtype=np.float32)
    high = np.full((300, 2), 1000.0, dtype=np.float32)
    path = tmp_path / "two.lmd"
    path.write_bytes(chain_data_sets([{"events": low, "channels": chans},
                                      {"events": high, "channels": chans}]))  # fmt: skip
    strategy = tmp_path / "pe.xml"
    strategy.write_text(GML.replace('gating:compensation-ref="FCS"', ""))
    proc = _run("gate", "--strategy", strategy, path)
    assert proc.returncode == 2 and "data sets" in proc.stderr and "Traceback" not in proc.stderr
    for dataset, want in (("0", ("0", "100")), ("1", ("300", "300"))):
        proc = _run("gate", "--strategy", strategy, "--dataset", dataset, path)
        assert proc.returncode == 0, proc.stderr
        assert [(r["count"], r["parent_count"]) for r in _table(proc.stdout)] == [want]


def test_gate_cellquest_file() -> None:
    cq = DEMO / "P09_presort.fcs"  # CellQuest FCS 2.0, no matrix
    proc = _run("gate", "--strategy", CELLQUEST, cq)
    assert proc.returncode == 0, proc.stderr
    got = {r["gate"]: (int(r["count"]), int(r["parent_count"])) for r in _table(proc.stdout)}
    assert got == _expected(CELLQUEST, cq)


@pytest.mark.shared
def test_gate_diva_experiment() -> None:
    xml = shared_path("fcs", "diva", "PE_2.xml")
    fcs = shared_path("fcs", "diva", "124500.fcs")
    proc = _run("gate", "--strategy", xml, fcs)
    assert proc.returncode == 0, proc.stderr
    rows = _table(proc.stdout)
    assert [(r["gate_path"], r["count"], r["parent_count"]) for r in rows] == [
        ("/P1", "17870", "19090"),
        ("/P1/P2", "17511", "17870"),
        ("/P1/P2/P3", "12315", "17511"),
        ("/P1/P2/P3/P4", "1155", "12315"),
        ("/P1/P2/P3/P4/P5", "1099", "1155"),
    ]
    # other tubes' data file names never appear, even in the error for a file of no tube
    proc = _run("gate", "--strategy", xml, DEMO / "P01_presort.fcs")
    assert proc.returncode == 2 and "P01_presort.fcs" in proc.stderr
    assert "124502.fcs" not in proc.stderr + proc.stdout


def test_errors_are_one_line_with_status_2(tmp_path: Path) -> None:
    good = DEMO / "P01_presort.fcs"
    missing = tmp_path / "absent.fcs"
    proc = _run("gate", "--strategy", STRATEGY, missing, good)
    assert proc.returncode == 2
    assert "absent.fcs" in proc.stderr and "Traceback" not in proc.stderr
    assert {r["file"] for r in _table(proc.stdout)} == {str(good)}  # the rest still gated
    not_fcs = tmp_path / "notes.fcs"
    not_fcs.write_text("hello, this is a note and no flow cytometry data at all " * 3)
    proc = _run("gate", "--strategy", STRATEGY, not_fcs)
    assert proc.returncode == 2 and "not an FCS file" in proc.stderr
    bad_xml = tmp_path / "s.xml"
    bad_xml.write_text("<Gating-ML")
    proc = _run("gate", "--strategy", bad_xml, good)
    assert proc.returncode == 2 and "s.xml" in proc.stderr and "not well-formed" in proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    proc = _run("gate", "--strategy", tmp_path / "none.xml", good)
    assert proc.returncode == 2 and "not found" in proc.stderr
    proc = _run("gate", good)  # no --strategy: argparse's usage message
    assert proc.returncode == 2 and "--strategy" in proc.stderr
    proc = _run("gate", "--strategy", CELLQUEST, good)  # channels the file lacks
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "FSC-H" in proc.stderr


def test_console_script_is_declared_and_installed() -> None:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert meta["project"]["scripts"]["sortpcr"] == "sortpcr.cli:main"
    script = Path(sys.executable).parent / "sortpcr"
    if not script.exists():
        pytest.skip("the package is not installed in this environment (pip install -e .)")
    proc = subprocess.run(
        [str(script), "gate", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and "--strategy" in proc.stdout
