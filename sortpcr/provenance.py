"""Provenance: checksums of raw inputs, software versions, the effective configuration, and
the version of our own code that each step runs (:func:`code_version`)."""

from __future__ import annotations

import ast
import hashlib
import platform
import re
from collections.abc import Iterator
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: distributions whose versions the report lists
SOFTWARE = (
    "sortpcr",
    "snakemake",
    "flowkit",
    "flowio",
    "flowutils",
    "numpy",
    "pandas",
    "scipy",
    "matplotlib",
    "defusedxml",
    "openpyxl",
)


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def input_table(paths: list[str]) -> pd.DataFrame:
    """One row per raw input: path (as the workflow names it), bytes, SHA-256."""
    import pandas as pd

    rows = [{"path": p, "bytes": Path(p).stat().st_size, "sha256": sha256(p)} for p in paths]
    return pd.DataFrame(rows, columns=["path", "bytes", "sha256"]).sort_values("path")


def software_table(code: dict[str, str] | None = None) -> pd.DataFrame:
    """Versions of Python and of the packages the workflow uses; then, per step script,
    the :func:`code_version` the workflow ran it with (``code: scripts/x.py``)."""
    import pandas as pd

    rows = [{"software": "python", "version": platform.python_version()}]
    for name in SOFTWARE:
        try:
            rows.append({"software": name, "version": metadata.version(name)})
        except metadata.PackageNotFoundError:
            rows.append({"software": name, "version": "not installed"})
    for script, version in sorted((code or {}).items()):
        rows.append({"software": f"code: {script}", "version": version})
    return pd.DataFrame(rows)


def config_yaml(config: dict[str, Any]) -> str:
    """The effective configuration as YAML (keys sorted)."""
    import yaml

    return yaml.safe_dump(config, sort_keys=True, default_flow_style=False)


# --------------------------------------------------------------------------- code versions

#: the package whose modules :func:`code_files` follows
PACKAGE = "sortpcr"


@lru_cache(maxsize=1024)
def _module_file(root: Path, name: str) -> Path | None:
    """The file of module ``name`` (dotted, within :data:`PACKAGE`) under ``root``."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(root: Path, path: Path) -> str:
    """Dotted package of a module file under ``root`` ("" for a file outside the package)."""
    try:
        parts = path.relative_to(root).with_suffix("").parts
    except ValueError:
        return ""
    if not parts or parts[0] != PACKAGE:
        return ""
    return ".".join(parts[:-1])


#: an import statement at the start of a line (any indent); a parenthesised name list may
#: run over several lines
_IMPORT_LINE = re.compile(
    r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+import[ \t]*(?:\([^)]*\)|[^\n]*)|import[ \t][^\n]*)",
    re.MULTILINE,
)


def _import_statements(source: str) -> Iterator[ast.stmt]:
    """The import statements of a module's source, each parsed with ``ast``.

    Only lines that start like an import are parsed (parsing whole modules with ``ast``
    costs about 0.2 s for the package at every DAG build); a docstring line that merely
    starts with "from ... import" is not valid Python and is skipped.
    """
    for match in _IMPORT_LINE.finditer(source):
        text = match.group(0).strip().rstrip("\\")
        try:
            yield from ast.parse(text).body
        except SyntaxError:
            continue


@lru_cache(maxsize=512)
def _imported(path: Path, root: Path, stamp: tuple[int, int]) -> tuple[str, ...]:
    """Dotted names of the :data:`PACKAGE` modules a file may import: every ``import``
    statement, also inside functions (absolute ``sortpcr.x`` and relative ``.x``), each
    name in a ``from package import name`` that is itself a module, and the parent
    packages (their ``__init__`` runs too). ``stamp`` (mtime, size) keys the cache."""
    del stamp
    source = path.read_text(encoding="utf-8", errors="replace")
    package = _package_of(root, path)
    names: set[str] = set()
    for node in _import_statements(source):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                if node.level - 1 > len(parts) or not parts:
                    continue
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != PACKAGE:
                continue
            names.add(base)
            names |= {f"{base}.{a.name}" for a in node.names if a.name != "*"}
    found = set()
    for name in names:
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            if _module_file(root, ".".join(parts[:end])) is not None:
                found.add(".".join(parts[:end]))
    return tuple(sorted(found))


def code_files(script: str | Path, root: str | Path) -> list[Path]:
    """The script and every :data:`PACKAGE` module it imports, directly or through other
    modules of the package (a static scan with ``ast``: nothing is imported or run).

    ``root`` is the folder holding ``scripts/`` and ``sortpcr/``; paths in the result are
    absolute, sorted, the script first. Modules outside the package (numpy, flowio ...)
    are not followed: their versions are in the provenance's software table.
    """
    root = Path(root).resolve()
    script = (root / script).resolve()
    seen: dict[str, Path] = {}
    todo = [script]
    while todo:
        path = todo.pop()
        stat = path.stat()
        for name in _imported(path, root, (stat.st_mtime_ns, stat.st_size)):
            if name not in seen:
                module = _module_file(root, name)
                if module is not None:
                    seen[name] = module
                    todo.append(module)
    return [script, *sorted(set(seen.values()) - {script})]


def code_version(script: str | Path, root: str | Path) -> str:
    """A content hash of a step's code: ``sha256:`` and the first 16 hex digits of the
    SHA-256 over the relative path and bytes of each file of :func:`code_files`.

    As a rule's ``params:`` value it makes Snakemake rerun the step (and what follows)
    when the script or any package module it uses changes, e.g. after an upgrade; a
    change elsewhere in the package leaves it alone.
    """
    root = Path(root).resolve()
    digest = hashlib.sha256()
    for path in code_files(script, root):
        stat = path.stat()
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(_file_digest(path, (stat.st_mtime_ns, stat.st_size)) + b"\0")
    return "sha256:" + digest.hexdigest()[:16]


@lru_cache(maxsize=512)
def _file_digest(path: Path, stamp: tuple[int, int]) -> bytes:
    """SHA-256 of one file's bytes; ``stamp`` (mtime, size) keys the cache."""
    del stamp
    return hashlib.sha256(path.read_bytes()).digest()


def code_table(scripts: list[str], root: str | Path) -> list[dict[str, str]]:
    """One row per step script: ``script``, ``code_version`` and ``modules`` (the package
    modules it uses, ``;``-joined, relative to ``root``)."""
    root = Path(root).resolve()
    rows = []
    for script in sorted(scripts):
        files = code_files(script, root)
        rows.append(
            {
                "script": Path(script).as_posix(),
                "code_version": code_version(script, root),
                "modules": ";".join(p.relative_to(root).as_posix() for p in files[1:]),
            }
        )
    return rows
