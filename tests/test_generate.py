"""The demo generator is deterministic and the committed demo is its output."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

GENERATE = ROOT / "resources" / "demo" / "generate.py"


def run_generator(out: Path, sheets: Path, *extra: str) -> None:
    subprocess.run(
        [sys.executable, str(GENERATE), "--out", str(out), "--sheets", str(sheets), *extra],
        check=True,
        capture_output=True,
    )


def all_files(folder: Path) -> list[Path]:
    return sorted(
        p.relative_to(folder)
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )


def test_same_seed_gives_byte_identical_files(tmp_path):
    run_generator(tmp_path / "a", tmp_path / "a" / "config")
    run_generator(tmp_path / "b", tmp_path / "b" / "config")
    files = all_files(tmp_path / "a")
    assert len(files) == 17 * 3 + 11 + 3
    assert files == all_files(tmp_path / "b")
    for name in files:
        assert filecmp.cmp(tmp_path / "a" / name, tmp_path / "b" / name, shallow=False), name


def test_other_seed_gives_other_files(tmp_path):
    run_generator(tmp_path / "a", tmp_path / "a" / "config")
    run_generator(tmp_path / "b", tmp_path / "b" / "config", "--seed", "7")
    a = (tmp_path / "a" / "fcs" / "P01_presort.fcs").read_bytes()
    b = (tmp_path / "b" / "fcs" / "P01_presort.fcs").read_bytes()
    assert a != b


def test_committed_demo_is_the_generators_output(tmp_path):
    # regenerate in a copy of the repository layout, with the generator's default paths
    shutil.copytree(
        ROOT / "resources",
        tmp_path / "resources",
        ignore=shutil.ignore_patterns("fcs", "qpcr", "__pycache__"),
    )
    (tmp_path / "config").mkdir()
    subprocess.run(
        [sys.executable, str(tmp_path / "resources" / "demo" / "generate.py")],
        check=True,
        capture_output=True,
    )
    demo = ROOT / "resources" / "demo"
    generated = all_files(tmp_path / "resources" / "demo")
    assert all_files(demo) == generated
    for name in generated:
        assert filecmp.cmp(tmp_path / "resources" / "demo" / name, demo / name, shallow=False), (
            f"{name} differs from the generator's output: run resources/demo/generate.py"
        )
    for sheet in ["samples.tsv", "units.tsv", "plates.tsv"]:
        assert (tmp_path / "config" / sheet).read_text() == (ROOT / "config" / sheet).read_text()


def test_sheets_follow_the_study_order():
    lines = (ROOT / "config" / "samples.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in lines[1:]] == [f"P{i:02d}" for i in range(1, 18)]
