"""The generic table: CSV/TSV with the tidy columns ``well, target, sample, role, ct``
(+ ``quantity`` for standards; ``fluor`` optional), one row per well and target."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sortpcr.errors import QPCRFormatError

from .columns import TableRows, _role_from_code
from .contract import ROLES, Dialect, RawWell

if TYPE_CHECKING:
    from sortpcr.settings import QpcrSettings


def _read_generic(path: Path, settings: QpcrSettings, supplied: frozenset[str]) -> list[RawWell]:
    rows = TableRows(
        path,
        supplied,
        {
            "well": ("well",),
            "target": ("target",),
            "sample": ("sample",),
            "role": ("role",),
            "ct": ("ct", "cq"),
        },
        {"target": ("target",), "sample": ("sample",), "role": ("role",)},
        {"quantity": ("quantity", "startingquantitysq", "sq"), "fluor": ("fluor", "dye")},
        ct="ct",
        ct_name="ct",
        quantity_name="quantity",
    )
    out = []
    for row in rows:
        role_text = row.text("role")
        role = role_text.lower()
        if role not in ROLES:
            role = _role_from_code(role_text)
            if role == "other" and role_text:
                raise QPCRFormatError(
                    path,
                    f"role {role_text!r} is not one of standard, unknown, ntc, other "
                    "(or Std, Unkn, NTC)",
                    f"line {row.line}, well {row.well}, column 'role'",
                )
        out.append(row.record(row["target"], row["sample"], role))
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
