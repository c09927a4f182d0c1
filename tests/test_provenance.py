"""Code versions: which package modules a step script uses (static scan), and the hash that
reruns a step when its code changes (issue 13, item 2)."""

from __future__ import annotations

from pathlib import Path

from sortpcr.provenance import code_files, code_table, code_version, software_table
from tests.conftest import ROOT


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


FILES = {
    "scripts/step.py": (
        '"""A step.\n\nfrom the old days import nothing\n"""\n'
        "import sys\n"
        "from sortpcr.runner import run_step  # noqa: E402\n"
        "def main():\n"
        "    from sortpcr.plots import flow\n"
        "    import sortpcr.deep.leaf as leaf\n"
    ),
    "scripts/other.py": "from sortpcr.unrelated import x\n",
    "sortpcr/__init__.py": "",
    "sortpcr/runner.py": "from .errors import (\n    InputError,  # comment\n)\nimport numpy\n",
    "sortpcr/errors.py": "class InputError(Exception):\n    pass\n",
    "sortpcr/plots/__init__.py": "",
    "sortpcr/plots/flow.py": "from ..io import write\n",
    "sortpcr/io.py": "def write():\n    pass\n",
    "sortpcr/deep/__init__.py": "",
    "sortpcr/deep/leaf.py": "x = 1\n",
    "sortpcr/unrelated.py": "x = 2\n",
}


def names(root: Path, paths: list[Path]) -> list[str]:
    return [p.relative_to(root.resolve()).as_posix() for p in paths]


def test_code_files_follow_imports_within_the_package_only(tmp_path):
    root = tree(tmp_path, FILES)
    assert names(root, code_files("scripts/step.py", root)) == [
        "scripts/step.py",
        "sortpcr/__init__.py",
        "sortpcr/deep/__init__.py",
        "sortpcr/deep/leaf.py",
        "sortpcr/errors.py",  # relative import in runner.py, parenthesised over lines
        "sortpcr/io.py",  # `from ..io` in plots/flow.py
        "sortpcr/plots/__init__.py",
        "sortpcr/plots/flow.py",  # imported inside a function, as a name of a package
        "sortpcr/runner.py",
    ]


def test_code_version_changes_with_the_modules_a_step_uses_and_no_other(tmp_path):
    root = tree(tmp_path, FILES)
    before = code_version("scripts/step.py", root)
    assert before.startswith("sha256:") and len(before) == 7 + 16
    assert code_version("scripts/step.py", root) == before  # deterministic
    (root / "sortpcr" / "unrelated.py").write_text("x = 3\n")
    assert code_version("scripts/step.py", root) == before
    (root / "sortpcr" / "io.py").write_text("def write():\n    return 1\n")  # two levels down
    after = code_version("scripts/step.py", root)
    assert after != before
    (root / "sortpcr" / "io.py").write_text("def write():\n    pass\n")
    assert code_version("scripts/step.py", root) == before


def test_every_workflow_script_is_scanned_and_recorded():
    scripts = sorted(f"scripts/{p.name}" for p in (ROOT / "scripts").glob("*.py"))
    rows = {r["script"]: r for r in code_table(scripts, ROOT)}
    assert "sortpcr/classify.py" in rows["scripts/classify.py"]["modules"].split(";")
    assert "sortpcr/plots/flow.py" in rows["scripts/gate_patient.py"]["modules"].split(";")
    assert "sortpcr/qpcr/readers/plate.py" in rows["scripts/read_plate.py"]["modules"].split(";")
    assert "sortpcr/classify.py" not in rows["scripts/read_plate.py"]["modules"]
    table = software_table({s: r["code_version"] for s, r in rows.items()})
    recorded = dict(zip(table["software"], table["version"], strict=True))
    assert recorded["code: scripts/classify.py"] == rows["scripts/classify.py"]["code_version"]
