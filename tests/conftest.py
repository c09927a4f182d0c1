"""Shared fixtures: paths, the shared instrument files, and real Snakemake runs on copies
of the workflow (the repository itself is never written to by a test)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
#: what a copied workflow needs (everything a user's clone has, minus results)
WORKFLOW_PARTS = ["Snakefile", "rules", "scripts", "config", "envs", "resources", "sortpcr"]


def shared_path(*parts: str) -> Path:
    """A file under ../shared, or skip the test when the shared folder is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared material not available: {path}")
    return path


def copy_workflow(dest: Path) -> Path:
    """Copy the workflow (not results, not .snakemake) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".snakemake", "results")
    for part in WORKFLOW_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=ignore)
        else:
            shutil.copy2(src, dest / part)
    return dest


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900):
    """Run the venv's Snakemake in ``workdir``; return the CompletedProcess."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
        )
    return result


def pending(workdir: Path, *args: str) -> set[str]:
    """Outputs whose ``plan`` is ``update pending`` in ``snakemake --summary``."""
    out = snakemake(workdir, "--summary", *args).stdout
    lines = [line.split("\t") for line in out.splitlines() if "\t" in line]
    header = lines[0]
    col_file, col_plan = header.index("output_file"), header.index("plan")
    return {row[col_file] for row in lines[1:] if row[col_plan] == "update pending"}


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """The demo cohort run once, end to end, in a copy of the workflow (read-only for tests)."""
    workdir = copy_workflow(tmp_path_factory.mktemp("demo") / "wf")
    snakemake(workdir, "--cores", "2")
    return workdir


@pytest.fixture
def demo_copy(demo_run, tmp_path) -> Path:
    """A private copy of the finished demo run (results and .snakemake metadata included)."""
    dest = tmp_path / "wf"
    shutil.copytree(demo_run, dest, symlinks=True)
    return dest


def validated_config(**sections) -> dict:
    """config/config.yaml after the schema's ``validate`` (as the Snakefile runs it: ranges
    and enums checked, defaults filled in). ``sections``: section name -> keys to change
    before validating, e.g. ``classification={"genes": ["MDR1"]}``."""
    import yaml
    from snakemake.utils import validate

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    for name, changes in sections.items():
        config[name] = {**config.get(name, {}), **changes}
    validate(config, str(ROOT / "config" / "schemas" / "config.schema.yaml"))
    return config


def qpcr_settings(**changes):
    """QpcrSettings of the shipped, validated config with ``changes`` to its ``qpcr`` section
    (a nested section such as ``replicates`` is replaced whole; the schema fills the rest)."""
    from sortpcr.settings import QpcrSettings

    return QpcrSettings.from_config(validated_config(qpcr=changes)["qpcr"])


def qpcr_settings_source() -> str:
    """Python source that binds ``settings`` as a qPCR job builds it (QpcrSettings from the
    validated ``qpcr`` section its params hold), for code run by :func:`fresh_python`."""
    import json

    section = json.dumps(validated_config()["qpcr"])
    return (
        "import json\nfrom sortpcr.settings import QpcrSettings\n"
        f"settings = QpcrSettings.from_config(json.loads({section!r}))\n"
    )


def classify_settings(**changes):
    """ClassifySettings of the shipped, validated config with ``changes`` to its section."""
    from sortpcr.settings import ClassifySettings

    return ClassifySettings.from_config(validated_config(classification=changes)["classification"])


def figure_settings(figures=None, **classification):
    """FigureSettings of the shipped, validated config with changes to ``classification``
    (keywords) and ``figures``."""
    from sortpcr.settings import FigureSettings

    config = validated_config(classification=classification, figures=figures or {})
    return FigureSettings.from_config(config["classification"], config["figures"])


def flowqc_settings(gating=None, qc=None):
    """FlowQCSettings of the shipped, validated config with changes to ``gating``/``qc``."""
    from sortpcr.settings import FlowQCSettings

    config = validated_config(gating=gating or {}, qc=qc or {})
    return FlowQCSettings.from_config(config["gating"], config["qc"])


def normalise_settings(**sections):
    """NormaliseSettings of the shipped, validated config; ``sections``: section name ->
    keys to change, e.g. ``qpcr={"rt_sd_log2": 0.5}``."""
    from sortpcr.settings import NormaliseSettings

    config = validated_config(**sections)
    return NormaliseSettings.from_config(
        config["qpcr"], config["normalisation"], config["classification"]
    )


def load_cohort_spec():
    """The demo cohort's specification (``resources/demo/cohort_spec.py``) as a module."""
    import importlib

    demo = str(ROOT / "resources" / "demo")
    if demo not in sys.path:
        sys.path.insert(0, demo)
    return importlib.import_module("cohort_spec")


def fresh_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter in the repository (as a job's process starts) and
    return what it printed, stripped: for tests of which modules a step's path imports."""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()
