"""The columns of a table-shaped export: look them up, parse cells with messages naming
line, well and column, and turn rows into :class:`~.contract.RawWell` records."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sortpcr.errors import QPCRFormatError

from .cells import is_debris, is_missing, normalise_well, parse_number
from .contract import RawWell, at_line
from .tables import _detect_decimal_comma, _load_table, _Table


def _role_from_code(code: str) -> str:
    c = code.strip().lower()
    if c.startswith("std") or c == "standard":
        return "standard"
    if c.startswith("unkn") or c == "unknown":
        return "unknown"
    if c.startswith("ntc") or c in ("no template control",):
        return "ntc"
    return "other"


def _require(
    path: Path,
    table: _Table,
    what: dict[str, tuple[str, ...]],
    supplied: frozenset[str] = frozenset(),
    supplies: Mapping[str, tuple[str, ...]] | None = None,
) -> dict[str, int | None]:
    """Column index of each needed column (label -> header names it may have).

    A column the export lacks is an error unless the plate map supplies it: ``supplies``
    maps a label to the plate-map columns that replace it, and ``supplied`` holds the plate
    map's columns; such a label gets ``None`` (empty cells, filled by the plate map)."""
    given = set(supplied)
    found: dict[str, int | None] = {}
    missing = []
    for label, names in what.items():
        c = table.col(*names)
        if c is None and (supplies or {}).get(label) and set(supplies[label]) <= given:
            found[label] = None
        elif c is None:
            missing.append(label)
        else:
            found[label] = c
    if missing:
        raise QPCRFormatError(
            path,
            "missing column(s) "
            + ", ".join(repr(m) for m in missing)
            + " in the header"
            + ("" if not given else " (the plate map does not supply them)"),
            "line 1 (header)",
        )
    return found


def _cell(fields: list[Any], c: int | None) -> Any:
    if c is None or c >= len(fields):
        return ""
    return fields[c]


def _num(
    path: Path,
    value: Any,
    decimal_comma: bool,
    line: Any,
    well: str,
    column: str,
    strict: bool = True,
) -> float:
    """Parse a cell; a bad value raises :class:`QPCRFormatError` naming line, well and column.

    With ``strict=False`` (quantity columns, read for every well but used for standards only)
    Excel debris becomes NaN; a standard left without a quantity is reported later.
    """
    try:
        return parse_number(value, decimal_comma)
    except ValueError as exc:
        if not strict and is_debris(value):
            return math.nan
        what = (
            f"{column} {str(value)!r} is Excel display debris hiding the value; re-export the file"
            if is_debris(value)
            else f"{column} {str(value)!r} is not a number"
        )
        raise QPCRFormatError(path, what, f"line {line}, well {well}, column {column!r}") from exc


def _replicate_id(*parts: tuple[str, Any]) -> str:
    """The export's own replicate-group label of a well, e.g. ``Replicate # 21`` or
    ``Content Unkn-01, Biological Set Name 'liver'``; ``""`` when the export states none."""
    shown = []
    for column, value in parts:
        text = str(value).strip()
        if text and not is_missing(text):
            if re.fullmatch(r"\d+(\.0+)?", text):  # 21 and 21.0 (an xlsx number) agree
                text = str(int(float(text)))
            shown.append(f"{column} {text}")
    return ", ".join(shown)


def _record(
    line: int,
    well: str,
    target: Any,
    sample: Any,
    role: str,
    ct: float,
    quantity: float,
    fluor: Any,
) -> RawWell:
    """One well of a table-shaped export, before aliases and checks."""
    return {
        "well": well,
        "target": str(target).strip(),
        "sample": str(sample).strip(),
        "role": role,
        "ct": ct,
        "quantity": quantity,
        "fluor": str(fluor).strip(),
        **at_line(line, well),
        "_matched": True,
    }


class TableRows:
    """The rows of a table export, with the columns a dialect reads.

    ``need`` maps a column label to the header names it may have; its first label is the
    well, ``ct`` names the Ct label among them. A needed column the plate map supplies
    (``supplies``, see :func:`_require`) may be missing: its label is in :attr:`absent`.
    ``optional`` columns (``quantity``, ``fluor``, ...) may be missing: empty cells.
    Messages name the Ct column as the header writes it, or as ``ct_name`` when given,
    and the quantity column as ``quantity_name``.
    """

    def __init__(
        self,
        path: Path,
        supplied: frozenset[str],
        need: Mapping[str, tuple[str, ...]],
        supplies: Mapping[str, tuple[str, ...]],
        optional: Mapping[str, tuple[str, ...]],
        *,
        ct: str,
        quantity_name: str,
        ct_name: str | None = None,
    ) -> None:
        self.path = path
        self.table: _Table = _load_table(path)
        self.cols = _require(path, self.table, dict(need), supplied, supplies)
        self.absent = tuple(label for label, c in self.cols.items() if c is None)
        self.well_label = next(iter(need))
        self.ct = ct
        self.ct_name = ct_name or self.table.header[self.cols[ct]]  # type: ignore[index]
        self.quantity_name = quantity_name
        for label, names in optional.items():
            self.cols[label] = self.table.col(*names)
        self.decimal_comma = _detect_decimal_comma(
            self.table, [self.cols[ct], self.cols.get("quantity")]
        )

    def __iter__(self) -> Iterator[TableRow]:
        for line, fields in self.table.rows:
            yield TableRow(self, line, fields)


class TableRow:
    """One data row: its line, its well (``A01``) and its cells by column label."""

    def __init__(self, rows: TableRows, line: int, fields: list[Any]) -> None:
        self.rows, self.line, self.fields = rows, line, fields
        label = rows.well_label
        self.well = normalise_well(self[label], rows.path, f"line {line}, column {label!r}")

    def __getitem__(self, label: str) -> Any:
        return _cell(self.fields, self.rows.cols.get(label))

    def text(self, label: str) -> str:
        return str(self[label]).strip()

    def ct(self) -> float:
        """The Ct (cycles; NaN = none); a bad cell raises naming line, well and column."""
        r = self.rows
        return _num(r.path, self[r.ct], r.decimal_comma, self.line, self.well, r.ct_name)

    def quantity(self) -> float:
        """The quantity (NaN = none; Excel debris too: only standards need one)."""
        r = self.rows
        if r.cols.get("quantity") is None:
            return math.nan
        value = self["quantity"]
        return _num(r.path, value, r.decimal_comma, self.line, self.well, r.quantity_name, False)

    def record(self, target: Any, sample: Any, role: str) -> RawWell:
        """The row as a raw well (Ct read before the quantity, as errors are reported)."""
        ct = self.ct()
        rec = _record(self.line, self.well, target, sample, role, ct, self.quantity(),
                      self["fluor"])  # fmt: skip
        rec["_absent"] = self.rows.absent
        return rec
