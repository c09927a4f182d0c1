"""Small file helpers shared by all steps: atomic writes and deterministic tables."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported lazily by the functions that need it
    import pandas as pd

FLOAT_FORMAT = "%.6g"

#: columns that hold identifiers or free text: always read as strings (``01`` stays ``01``)
TEXT_COLUMNS = (
    "patient",
    "fraction",
    "plate",
    "sample",
    "qpcr_sample",
    "target",
    "gene",
    "well",
    "replicate_group",
    "lineage",
    "age",
    "file",
    "status",
    "flags",
    "reason",
)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically, keys sorted, for byte-identical reruns."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True, allow_nan=True) + "\n")


def write_tsv(path: str | Path, table: pd.DataFrame) -> None:
    """Write a tab-separated table atomically with a fixed float format and no index."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format=FLOAT_FORMAT, na_rep="NA")


def write_with(path: str | Path, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` and move the result into place atomically (figures, xlsx)."""
    with atomic_path(path) as tmp:
        writer(tmp)


def read_tsv(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_tsv` (``NA`` = missing; identifier and text
    columns stay strings, empty text stays ``""``)."""
    import pandas as pd

    table = pd.read_csv(
        path,
        sep="\t",
        na_values=["NA"],
        keep_default_na=False,
        dtype=dict.fromkeys(TEXT_COLUMNS, str),
    )
    for column in TEXT_COLUMNS:
        if column in table.columns:
            table[column] = table[column].fillna("")
    return table


def concat_tsv(paths: list[str | Path], out: str | Path) -> None:
    """Concatenate tables with the same columns (per patient or per plate) in input order."""
    import pandas as pd

    tables = [read_tsv(p) for p in paths]
    write_tsv(out, pd.concat(tables, ignore_index=True) if tables else pd.DataFrame())
