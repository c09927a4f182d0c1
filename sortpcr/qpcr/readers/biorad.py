"""Bio-Rad exports: iCycler iQ / MyiQ / iQ5 "PCR Quant" and CFX Manager / Maestro.

``icycler``: ``Well, Fluor, Type, Identifier, Replicate #, Threshold Cycle (Ct), ...,
Starting Quantity (SQ)``; target and sample come from ``Identifier`` split by
``settings.identifier_regex``. ``cfx``: ``Well, Target, Content, Sample, Cq`` (early tab
export with ``Threshold Cycle ( C(t) )`` too). Both have one row per well and fluor.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sortpcr.errors import QPCRFormatError
from sortpcr.settings import identifier_pattern

from .columns import TableRows, _replicate_id, _role_from_code
from .contract import Dialect, RawWell
from .tables import _CT_NAMES, _SQ_NAMES

if TYPE_CHECKING:
    from sortpcr.settings import QpcrSettings


def _identifier_regex(settings: QpcrSettings) -> re.Pattern[str]:
    """``settings.identifier_regex`` compiled; QPCRFormatError (a config problem) when it
    cannot split an Identifier (:func:`sortpcr.settings.identifier_pattern`)."""
    try:
        return identifier_pattern(settings.identifier_regex)
    except ValueError as error:
        raise QPCRFormatError(None, str(error), "config qpcr.identifier_regex") from None


def _split_identifier(identifier: str, regex: re.Pattern[str]) -> tuple[str, str] | None:
    m = regex.match(identifier)
    if not m:
        return None
    return (m.group("target") or "").strip(), (m.group("sample") or "").strip()


#: optional columns of both Bio-Rad exports
_OPTIONAL = {"quantity": _SQ_NAMES, "fluor": ("fluor", "dye", "reporter")}


def _read_icycler(path: Path, settings: QpcrSettings, supplied: frozenset[str]) -> list[RawWell]:
    rows = TableRows(
        path,
        supplied,
        {
            "Well": ("well",),
            "Type": ("type",),
            "Identifier": ("identifier",),
            "Threshold Cycle (Ct)": _CT_NAMES,
        },
        {"Type": ("role",), "Identifier": ("target", "sample")},
        {**_OPTIONAL, "Replicate #": ("replicate#", "replicate")},
        ct="Threshold Cycle (Ct)",
        quantity_name="Starting Quantity (SQ)",
    )
    regex = _identifier_regex(settings)
    out = []
    for row in rows:
        role = _role_from_code(str(row["Type"]))
        ident = row.text("Identifier")
        split = _split_identifier(ident, regex) if ident else None
        target, sample = split if split is not None else (ident, "")
        rec = row.record(target, sample, role)
        rec["_identifier"] = ident
        rec["_matched"] = split is not None
        rec["_replicate"] = _replicate_id(("Replicate #", row["Replicate #"]))
        out.append(rec)
    return out


def _read_cfx(path: Path, settings: QpcrSettings, supplied: frozenset[str]) -> list[RawWell]:
    rows = TableRows(
        path,
        supplied,
        {
            "Well": ("well",),
            "Target": ("target",),
            "Content": ("content",),
            "Sample": ("sample",),
            "Cq": ("cq", "thresholdcyclect", "ct", "thresholdcycle"),
        },
        {"Target": ("target",), "Content": ("role",), "Sample": ("sample",)},
        {
            **_OPTIONAL,
            "Biological Set Name": ("biologicalsetname", "biologicalset"),
            "Replicate": ("replicate", "replicate#"),
        },
        ct="Cq",
        quantity_name="Starting Quantity (SQ)",
    )
    out = []
    for row in rows:
        content = row.text("Content")
        number = re.search(r"-\s*0*(\d+)\s*$", content)
        rec = row.record(row["Target"], row["Sample"], _role_from_code(content))
        rec["_replicate"] = _replicate_id(
            ("Content", content if number else ""),
            ("Biological Set Name", row["Biological Set Name"]),
            ("Replicate", row["Replicate"]),
        )
        out.append(rec)
    return out


ICYCLER = Dialect(
    name="icycler",
    read=_read_icycler,
    duplicate_key="fluor",
    sniff_header=lambda names: "identifier" in names and "type" in names,
    columns="iCycler/MyiQ columns (Well, Type, Identifier, Threshold Cycle (Ct))",
)

CFX = Dialect(
    name="cfx",
    read=_read_cfx,
    duplicate_key="fluor",
    # Target alone may be a plate map's column: a CFX export has Content and Target or Sample
    sniff_header=lambda names: "content" in names and bool({"target", "sample"} & names),
    columns="CFX columns (Well, Target, Content, Sample, Cq)",
)
