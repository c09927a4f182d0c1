"""Bio-Rad exports: iCycler iQ / MyiQ / iQ5 "PCR Quant" and CFX Manager / Maestro.

``icycler``: ``Well, Fluor, Type, Identifier, Replicate #, Threshold Cycle (Ct), ...,
Starting Quantity (SQ)``; target and sample come from ``Identifier`` split by
``settings["identifier_regex"]``. ``cfx``: ``Well, Target, Content, Sample, Cq`` (early tab
export with ``Threshold Cycle ( C(t) )`` too). Both have one row per well and fluor.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sortpcr.errors import QPCRFormatError

from .cells import normalise_well
from .contract import DEFAULT_IDENTIFIER_REGEX, Dialect, RawWell, at_line
from .tables import (
    _CT_NAMES,
    _SQ_NAMES,
    _cell,
    _detect_decimal_comma,
    _load_table,
    _mark_absent,
    _num,
    _record,
    _replicate_id,
    _require,
    _role_from_code,
)


def _identifier_regex(settings: Mapping[str, Any]) -> re.Pattern[str]:
    """``settings["identifier_regex"]`` compiled; QPCRFormatError (a config problem) when it
    is not a regular expression or lacks the named groups ``target`` and ``sample``."""
    text = settings.get("identifier_regex") or DEFAULT_IDENTIFIER_REGEX
    try:
        regex = re.compile(text)
    except re.error as exc:
        raise QPCRFormatError(
            None, f"{text!r} is not a regular expression ({exc})", "config qpcr.identifier_regex"
        ) from None
    missing = [g for g in ("target", "sample") if g not in regex.groupindex]
    if missing:
        raise QPCRFormatError(
            None,
            f"{text!r} lacks the named group(s) {', '.join(missing)} (write (?P<target>...))",
            "config qpcr.identifier_regex",
        )
    return regex


def _split_identifier(identifier: str, regex: re.Pattern[str]) -> tuple[str, str] | None:
    m = regex.match(identifier)
    if not m:
        return None
    return (m.group("target") or "").strip(), (m.group("sample") or "").strip()


def _read_icycler(path: Path, settings: Mapping[str, Any]) -> list[RawWell]:
    table = _load_table(path)
    cols = _require(
        path,
        table,
        {
            "Well": ("well",),
            "Type": ("type",),
            "Identifier": ("identifier",),
            "Threshold Cycle (Ct)": _CT_NAMES,
        },
        settings,
        {"Type": ("role",), "Identifier": ("target", "sample")},
    )
    c_sq = table.col(*_SQ_NAMES)
    c_fluor = table.col("fluor", "dye", "reporter")
    c_rep = table.col("replicate#", "replicate")
    regex = _identifier_regex(settings)
    dec = _detect_decimal_comma(table, [cols["Threshold Cycle (Ct)"], c_sq])
    out = []
    for line, f in table.rows:
        well = normalise_well(_cell(f, cols["Well"]), path, f"line {line}, column 'Well'")
        role = _role_from_code(str(_cell(f, cols["Type"])))
        ident = str(_cell(f, cols["Identifier"])).strip()
        split = _split_identifier(ident, regex) if ident else None
        if split is not None:
            target, sample = split
            matched = True
        else:
            target, sample, matched = ident, "", False
        ct = _num(
            path,
            _cell(f, cols["Threshold Cycle (Ct)"]),
            dec,
            line,
            well,
            table.header[cols["Threshold Cycle (Ct)"]],
        )
        sq = (
            _num(path, _cell(f, c_sq), dec, line, well, "Starting Quantity (SQ)", strict=False)
            if c_sq is not None
            else math.nan
        )
        out.append(
            {
                "well": well,
                "target": target,
                "sample": sample,
                "role": role,
                "ct": ct,
                "quantity": sq,
                "fluor": str(_cell(f, c_fluor)).strip(),
                **at_line(line, well),
                "_identifier": ident,
                "_matched": matched,
                "_replicate": _replicate_id(("Replicate #", _cell(f, c_rep))),
            }
        )
    _mark_absent(out, cols)
    return out


def _read_cfx(path: Path, settings: Mapping[str, Any]) -> list[RawWell]:
    table = _load_table(path)
    cols = _require(
        path,
        table,
        {
            "Well": ("well",),
            "Target": ("target",),
            "Content": ("content",),
            "Sample": ("sample",),
            "Cq": ("cq", "thresholdcyclect", "ct", "thresholdcycle"),
        },
        settings,
        {"Target": ("target",), "Content": ("role",), "Sample": ("sample",)},
    )
    c_sq = table.col(*_SQ_NAMES)
    c_fluor = table.col("fluor", "dye", "reporter")
    c_set = table.col("biologicalsetname", "biologicalset")
    c_rep = table.col("replicate", "replicate#")
    dec = _detect_decimal_comma(table, [cols["Cq"], c_sq])
    out = []
    for line, f in table.rows:
        well = normalise_well(_cell(f, cols["Well"]), path, f"line {line}, column 'Well'")
        content = str(_cell(f, cols["Content"])).strip()
        role = _role_from_code(content)
        number = re.search(r"-\s*0*(\d+)\s*$", content)
        ct = _num(path, _cell(f, cols["Cq"]), dec, line, well, table.header[cols["Cq"]])
        sq = (
            _num(path, _cell(f, c_sq), dec, line, well, "Starting Quantity (SQ)", strict=False)
            if c_sq is not None
            else math.nan
        )
        rec = _record(line, well, _cell(f, cols["Target"]), _cell(f, cols["Sample"]), role,
                      ct, sq, _cell(f, c_fluor))  # fmt: skip
        rec["_replicate"] = _replicate_id(
            ("Content", content if number else ""),
            ("Biological Set Name", _cell(f, c_set)),
            ("Replicate", _cell(f, c_rep)),
        )
        out.append(rec)
    _mark_absent(out, cols)
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
