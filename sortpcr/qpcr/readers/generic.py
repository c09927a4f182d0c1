"""The generic table: CSV/TSV with the tidy columns ``well, target, sample, role, ct``
(+ ``quantity`` for standards; ``fluor`` optional), one row per well and target."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sortpcr.errors import QPCRFormatError

from .cells import normalise_well
from .contract import ROLES, Dialect, RawWell
from .tables import (
    _cell,
    _detect_decimal_comma,
    _load_table,
    _mark_absent,
    _num,
    _record,
    _require,
    _role_from_code,
)


def _read_generic(path: Path, settings: Mapping[str, Any]) -> list[RawWell]:
    table = _load_table(path)
    cols = _require(
        path,
        table,
        {
            "well": ("well",),
            "target": ("target",),
            "sample": ("sample",),
            "role": ("role",),
            "ct": ("ct", "cq"),
        },
        settings,
        {"target": ("target",), "sample": ("sample",), "role": ("role",)},
    )
    c_q = table.col("quantity", "startingquantitysq", "sq")
    c_fluor = table.col("fluor", "dye")
    dec = _detect_decimal_comma(table, [cols["ct"], c_q])
    out = []
    for line, f in table.rows:
        well = normalise_well(_cell(f, cols["well"]), path, f"line {line}, column 'well'")
        role_text = str(_cell(f, cols["role"])).strip()
        role = role_text.lower()
        if role not in ROLES:
            role = _role_from_code(role_text)
            if role == "other" and role_text:
                raise QPCRFormatError(
                    path,
                    f"role {role_text!r} is not one of standard, unknown, ntc, other "
                    "(or Std, Unkn, NTC)",
                    f"line {line}, well {well}, column 'role'",
                )
        ct = _num(path, _cell(f, cols["ct"]), dec, line, well, "ct")
        q = (
            _num(path, _cell(f, c_q), dec, line, well, "quantity", strict=False)
            if c_q is not None
            else math.nan
        )
        out.append(
            _record(line, well, _cell(f, cols["target"]), _cell(f, cols["sample"]), role, ct,
                    q, _cell(f, c_fluor))
        )  # fmt: skip
    _mark_absent(out, cols)
    return out


GENERIC = Dialect(
    name="generic",
    read=_read_generic,
    duplicate_key="target",
    sniff_header=lambda names: (
        {"well", "target", "sample", "role"} <= names and bool({"ct", "cq"} & names)
    ),
    columns="the generic columns (well, target, sample, role, ct)",
)
