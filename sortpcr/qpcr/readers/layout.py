"""Plate maps: a CSV/TSV/xlsx table ``well`` + any of ``target, sample, role, quantity,
fluor`` whose non-empty cells override what an export says of a well."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sortpcr.errors import QPCRFormatError

from .cells import normalise_well
from .columns import _cell, _num, _role_from_code
from .contract import ROLES, RawWell
from .tables import _detect_decimal_comma, _load_table


def read_layout(path: str | Path) -> list[dict[str, Any]]:
    """Read a plate map (CSV/TSV/xlsx) as dict rows: ``well`` plus any of ``target, sample,
    role, quantity, fluor``. Empty cells mean "keep what the export says"."""
    path = Path(path)
    table = _load_table(path)
    c_well = table.col("well")
    if c_well is None:
        raise QPCRFormatError(path, "the plate map has no 'well' column", "line 1 (header)")
    names = {k: table.col(k) for k in ("target", "sample", "role", "quantity", "fluor")}
    if all(c is None for c in names.values()):
        raise QPCRFormatError(
            path,
            "the plate map needs at least one of the columns target, sample, role, quantity",
            "line 1 (header)",
        )
    dec = _detect_decimal_comma(table, [names["quantity"]])
    rows = []
    seen: dict[tuple[str, str], int] = {}
    for line, f in table.rows:
        well = normalise_well(_cell(f, c_well), path, f"line {line}, column 'well'")
        rec: dict[str, Any] = {"well": well}
        for k, c in names.items():
            v = _cell(f, c)
            if k == "quantity":
                rec[k] = _num(path, v, dec, line, well, "quantity") if c is not None else math.nan
            else:
                rec[k] = str(v).strip()
        if rec["role"]:
            r = rec["role"].lower()
            rec["role"] = r if r in ROLES else _role_from_code(rec["role"])
        key = (well, rec["fluor"])
        if key in seen:
            raise QPCRFormatError(
                path, f"well {well} appears twice (lines {seen[key]} and {line})", f"line {line}"
            )
        seen[key] = line
        rows.append(rec)
    return rows


def apply_layout(records: list[RawWell], layout: list[dict[str, Any]]) -> None:
    """Override each record by its plate-map row (same well and fluor, else same well)."""
    by_key = {(r["well"], r["fluor"]): r for r in layout}
    for rec in records:
        lay = by_key.get((rec["well"], rec["fluor"])) or by_key.get((rec["well"], ""))
        if lay is None:
            continue
        if lay["target"]:
            rec["target"] = lay["target"]
            rec["_matched"] = True
        if lay["sample"]:
            rec["sample"] = lay["sample"]
            rec["_matched"] = True
        if lay["role"]:
            rec["role"] = lay["role"]
        if not math.isnan(lay["quantity"]):
            rec["quantity"] = lay["quantity"]
