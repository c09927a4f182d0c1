"""The pins in pyproject.toml (the one place) and envs/sortpcr.yaml agree."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_pins() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = {}
    for spec in data["project"]["dependencies"]:
        name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", spec).groups()
        pins[name.lower()] = version
    return pins


def _conda_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "envs" / "sortpcr.yaml").read_text())
    pins = {}
    for dep in env["dependencies"]:
        entries = dep["pip"] if isinstance(dep, dict) else [dep]
        for entry in entries:
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*==?\s*(\S+)", entry)
            if match:
                pins[match.group(1).lower()] = match.group(2)
    return pins


def test_every_dependency_is_pinned_exactly():
    pins = _pyproject_pins()
    assert "snakemake" in pins and "flowkit" in pins and "pandas" in pins


def test_conda_env_mirrors_pyproject():
    pyproject = _pyproject_pins()
    conda = _conda_pins()
    conda.pop("python")
    # snakemake runs the conda env's jobs; it is not installed inside it
    expected = {k: v for k, v in pyproject.items() if k != "snakemake"}
    assert conda == expected
