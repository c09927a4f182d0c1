"""Table-shaped exports (delimited text, xlsx): find the header line and split the rows."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

from sortpcr.errors import QPCRFormatError
from sortpcr.safe_input import TABLE_MAX_BYTES, read_user_file

from .cells import _decode, _norm_header

# Column names we need, by normalised header text (lower case, no spaces/punctuation).
_CT_NAMES = ("thresholdcyclect", "cq", "ct", "thresholdcycle", "crt")
_SQ_NAMES = ("startingquantitysq", "startingquantity", "sq", "quantity")


class _Table:
    """A delimited text table: header names and data rows with their line numbers."""

    def __init__(self, header: list[str], rows: list[tuple[int, list[str]]]) -> None:
        self.header = header
        self.rows = rows
        self.index = {}
        for i, name in enumerate(header):
            key = _norm_header(name)
            if key and key not in self.index:
                self.index[key] = i

    def col(self, *names: str) -> int | None:
        for n in names:
            if n in self.index:
                return self.index[n]
        return None


def _sniff_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in ("\t", ";", ",")}
    return max(counts, key=lambda d: (counts[d], d == "\t"))


def _find_header(lines: Sequence[str]) -> tuple[int, str] | None:
    """Index and delimiter of the first line holding a ``Well`` field."""
    for index, line in enumerate(lines):
        delim = _sniff_delimiter(line)
        try:
            fields = next(csv.reader([line], delimiter=delim), [])
        except csv.Error:  # e.g. a field over csv's size limit: not a header line
            continue
        if any(_norm_header(f) == "well" for f in fields):
            return index, delim
    return None


def _read_text_table(path: Path, text: str) -> _Table:
    """Find the header line (the first with a ``Well`` field) and split the table."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    found = _find_header(lines)
    if found is None:
        raise QPCRFormatError(path, "no header line with a 'Well' column was found")
    start, delim = found
    reader = csv.reader(lines[start:], delimiter=delim)
    header = [h.strip() for h in next(reader)]
    rows: list[tuple[int, list[str]]] = []
    try:
        for fields in reader:
            if not fields or all(not f.strip() for f in fields):
                continue
            fields = [f.strip() for f in fields] + [""] * max(0, len(header) - len(fields))
            rows.append((start + reader.line_num, fields))
    except csv.Error as exc:  # an unclosed quote swallowing the rest of the file, ...
        raise QPCRFormatError(
            path, f"cannot split the table ({exc})", f"line {start + reader.line_num}"
        ) from None
    return _Table(header, rows)


def _read_xlsx_table(path: Path, data: bytes) -> _Table:
    """Read the first worksheet of an xlsx export (its bytes ``data``) holding a 'Well'
    header."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise QPCRFormatError(path, f"cannot open as an xlsx workbook ({exc})") from exc
    try:
        for sheet in book.worksheets:
            grid = [
                ["" if v is None else (v if isinstance(v, int | float) else str(v)) for v in row]
                for row in sheet.iter_rows(values_only=True)
            ]
            for start, row in enumerate(grid):
                if any(_norm_header(str(v)) == "well" for v in row):
                    header = [str(v).strip() for v in row]
                    rows = []
                    for i, r in enumerate(grid[start + 1 :]):
                        cells = [v if isinstance(v, int | float) else str(v).strip() for v in r]
                        if all(c == "" for c in cells):
                            continue
                        cells += [""] * max(0, len(header) - len(cells))
                        rows.append((start + 2 + i, cells))
                    return _Table(header, rows)
    finally:
        book.close()
    raise QPCRFormatError(path, "no worksheet has a header row with a 'Well' column")


def _load_table(path: Path) -> _Table:
    """A table export or plate map, read by the one safe-input policy (a regular file of
    bounded size), as text or as an xlsx workbook."""
    data = read_user_file(path, error=QPCRFormatError, max_bytes=TABLE_MAX_BYTES, kind="table")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx_table(path, data)
    return _read_text_table(path, _decode(data))


def _detect_decimal_comma(table: _Table, cols: Sequence[int | None]) -> bool:
    """True when numeric cells of ``cols`` use a decimal comma (``19,03``, ``1,000E+03``)."""
    pattern = re.compile(r"^[-+]?\d+,\d+([eE][-+]?\d+)?$")
    for _, fields in table.rows:
        for c in cols:
            if c is None or c >= len(fields):
                continue
            v = fields[c]
            if isinstance(v, str) and pattern.match(v.strip()):
                return True
    return False
