"""Provenance: checksums of raw inputs, software versions, the effective configuration."""

from __future__ import annotations

import hashlib
import platform
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


def software_table() -> pd.DataFrame:
    """Versions of Python and of the packages the workflow uses."""
    import pandas as pd

    rows = [{"software": "python", "version": platform.python_version()}]
    for name in SOFTWARE:
        try:
            rows.append({"software": name, "version": metadata.version(name)})
        except metadata.PackageNotFoundError:
            rows.append({"software": name, "version": "not installed"})
    return pd.DataFrame(rows)


def config_yaml(config: dict[str, Any]) -> str:
    """The effective configuration as YAML (keys sorted)."""
    import yaml

    return yaml.safe_dump(config, sort_keys=True, default_flow_style=False)
