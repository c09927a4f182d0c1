"""Small file helpers shared by all steps: atomic writes, deterministic tables and Office
files."""

from __future__ import annotations

import csv
import errno
import json
import math
import numbers
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sortpcr.errors import OutputError

if TYPE_CHECKING:  # pandas is imported lazily by the functions that need it
    import pandas as pd

FLOAT_FORMAT = "%.6g"

#: A table: dict rows, or a pandas DataFrame (converted with ``to_dict("records")``).
Rows = Iterable[Mapping[str, Any]]

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


def _umask() -> int:
    """The process's umask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only on success.

    The file gets the permissions of any file created here (0666 less the umask), not the
    owner-only 0600 of a temporary file, so that the lab's group can read the results.
    A failure to write (disk full, quota, permissions: an :class:`OSError` while the file is
    created, written or moved) becomes an :class:`OutputError` naming ``path`` and the
    system's reason; nothing is left behind.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
        os.close(fd)
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as error:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(error, OSError) and not isinstance(error, OutputError):
            raise _output_error(path, error) from None
        raise


def _output_error(path: Path, error: OSError) -> OutputError:
    """An :class:`OutputError` for ``path`` with the system's reason (and a hint)."""
    reason = error.strerror or str(error)
    hint = {
        errno.ENOSPC: "; free some space and rerun",
        errno.EDQUOT: "; the disk quota is used up",
        errno.EROFS: "; the file system is read-only",
        errno.EACCES: "; check the folder's permissions",
    }.get(error.errno or 0, "")
    return OutputError(path, f"could not be written: {reason}{hint}")


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


def format_cell(value: Any) -> str:
    """One TSV cell as :func:`write_tsv` writes it: ``NA`` for None/NaN, floats as ``%.6g``,
    integers (Python or numpy) in full, booleans as ``True``/``False``, text as is."""
    if value is None:
        return "NA"
    if isinstance(value, str):
        return value
    if type(value).__name__ in ("bool", "bool_"):  # Python and numpy booleans
        return str(bool(value))
    if isinstance(value, numbers.Integral):  # Python and numpy integers
        return str(int(value))
    number = float(value)
    return "NA" if math.isnan(number) else FLOAT_FORMAT % number


def write_records(path: str | Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Write dict rows as :func:`write_tsv` would write the same table, without pandas
    (a per-patient step saves pandas' ~0.4 s import). Missing keys are ``NA``."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([format_cell(row.get(c)) for c in columns] for row in rows)


def _parse_cell(text: str) -> Any:
    if text == "NA":
        return None
    if text in ("True", "False"):
        return text == "True"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Read a table written by :func:`write_tsv` or :func:`write_records` as dict rows,
    without pandas: identifier and text columns (:data:`TEXT_COLUMNS`) stay strings (``NA``
    becomes ``""``); other cells become int, float, bool, text, or None for ``NA``."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        text = set(TEXT_COLUMNS)
        return [
            {
                key: ("" if value == "NA" else value) if key in text else _parse_cell(value)
                for key, value in row.items()
            }
            for row in reader
        ]


def as_records(rows: Rows | None) -> list[dict[str, Any]]:
    """Dict rows of a table: records as given (copied), a DataFrame via ``to_dict``.

    Duck-typed so that this module never imports pandas; ``None`` is an empty table.
    """
    if rows is None:
        return []
    if hasattr(rows, "to_dict"):
        return rows.to_dict("records")
    return [dict(row) for row in rows]


def is_missing(value: Any) -> bool:
    """True for a missing cell: None (records) or a float NaN (pandas, numpy)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def cell_text(value: Any) -> str:
    """A cell as text; missing -> empty string."""
    return "" if is_missing(value) else str(value)


def cell_float(value: Any) -> float:
    """A cell as a float; missing or not a number -> NaN."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def column_floats(rows: list[dict[str, Any]], column: str) -> list[float]:
    """One numeric column of dict rows as floats, in row order (missing cells NaN)."""
    return [cell_float(row[column]) for row in rows]


def group_rows(
    rows: list[dict[str, Any]], columns: tuple[str, ...]
) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    """Dict rows by their values in ``columns`` (a tuple key), each group in row order."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[c] for c in columns), []).append(row)
    return groups


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
    """Concatenate tables with the same columns (per patient or per plate) in input order,
    without pandas; a column that only some tables have is added, empty elsewhere."""
    columns: list[str] = []
    rows: list[dict[str, Any]] = []
    for path in paths:
        with open(path, encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle, delimiter="\t"), [])
        columns += [c for c in header if c not in columns]
        rows += read_records(path)
    write_records(out, rows, columns)


def normalise_zip(path: Path) -> None:
    """Rewrite an Office file (xlsx, docx) with fixed member timestamps and document dates
    (openpyxl and python-docx stamp the current time on save)."""
    with zipfile.ZipFile(path) as source:
        members = [(info.filename, source.read(info.filename)) for info in source.infolist()]
    stamp = rb"\g<1>2000-01-01T00:00:00Z\g<2>"
    members = [
        (
            name,
            re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)", stamp, data)
            if name == "docProps/core.xml"
            else data,
        )
        for name, data in members
    ]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, data)
