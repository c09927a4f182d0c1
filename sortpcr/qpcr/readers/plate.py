"""The shared post-read steps: a dialect's raw wells -> the plate map -> target aliases,
Ct cut-off, checks, unit, replicate groups -> the tidy well rows over :data:`COLUMNS`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sortpcr.errors import QPCRFormatError

from .cells import _well_order, canonical_target
from .checks import check_sample_collisions, stated_unit
from .contract import COLUMNS, Dialect, RawWell
from .layout import apply_layout, read_layout
from .registry import detect_format, dialect

if TYPE_CHECKING:
    import pandas as pd

    from sortpcr.settings import QpcrSettings


def read_plate(
    path: str | Path,
    plate: str,
    fmt: str | None,
    settings: QpcrSettings,
    layout: str | Path | None = None,
    unit: str = "",
) -> pd.DataFrame:
    """:func:`read_plate_records` as a DataFrame (``ct`` and ``quantity`` float)."""
    import pandas as pd

    rows = read_plate_records(path, plate, fmt, settings, layout, unit)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["ct"] = frame["ct"].astype(float)
    frame["quantity"] = frame["quantity"].astype(float)
    return frame


def read_plate_records(
    path: str | Path,
    plate: str,
    fmt: str | None,
    settings: QpcrSettings,
    layout: str | Path | None = None,
    unit: str = "",
) -> list[dict[str, Any]]:
    """Read one plate export into the tidy well table: dict rows over :data:`COLUMNS`, in
    plate order (well, then fluor, then target). No pandas: the read_plate job writes them.

    ``fmt`` is one of :data:`FORMATS` or ``None``/``""`` to detect it. ``settings``: the qPCR
    settings (``identifier_regex``, ``target_aliases``, ``copy_targets``, ``ct_max``).
    ``layout`` is an optional plate map whose non-empty cells override the export per well.
    ``unit`` (``relative`` or ``copies``; ``""`` = decide from the plate) is the plate's
    unit from ``plates.tsv``.

    Raises :class:`QPCRFormatError` (file, line/well and column named) for missing columns,
    non-numeric Ct, duplicate wells, standards without a quantity, unknowns without a
    target or sample, and unknown formats; :class:`XMLSecurityError` for RDML with DTDs.
    """
    path = Path(path)
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "does not exist"
        raise QPCRFormatError(path, f"the qPCR export {what}")
    d = dialect(path, (fmt or "").strip().lower() or detect_format(path))
    plate_map = read_layout(layout) if layout is not None and str(layout).strip() else None
    supplied: frozenset[str] = frozenset()
    if plate_map is not None:  # the columns it fills need not be in the export
        supplied = frozenset(k for row in plate_map for k in ("target", "sample", "role") if row[k])
    records = d.read(path, settings, supplied)
    if not records:
        raise QPCRFormatError(path, "the export holds no wells")
    if plate_map is not None:
        apply_layout(records, plate_map)
    _resolve(path, records, settings)
    for rec in records:
        _check_well(path, d, rec, settings)
    _check_duplicates(path, d, records)
    unit = _plate_unit(path, records, settings, unit)
    for rec in records:
        rec["replicate_group"] = _replicate_group(rec)
        rec["plate"] = plate
        rec["unit"] = unit
    check_sample_collisions(path, records)
    records.sort(key=lambda r: (_well_order(r["well"]), r["fluor"], r["target"]))
    return [{c: rec[c] for c in COLUMNS} for rec in records]


def _resolve(path: Path, records: list[RawWell], settings: QpcrSettings) -> None:
    """Canonical target names; a Ct at or over ``ct_max`` is undetermined (NaN); an NTC or
    other well whose target is no target of the plate covers every target of its fluor."""
    ct_max, aliases = settings.ct_max, settings.alias_map
    for rec in records:
        rec["target"] = aliases.get(rec["target"].lower(), rec["target"])
        if rec["ct"] < 0:  # RDML's -1 "no Cq" is already NaN; elsewhere it is corrupt
            raise QPCRFormatError(path, f"Ct {rec['ct']:g} is negative", rec["_where"])
        if not math.isnan(rec["ct"]) and rec["ct"] >= ct_max:
            rec["ct"] = math.nan
    known_targets = {r["target"] for r in records if r["role"] in ("standard", "unknown")}
    for rec in records:
        if (
            rec["role"] in ("ntc", "other")
            and not rec["_matched"]
            and rec["target"] not in known_targets
        ):  # an NTC named "NTC" or left blank covers every target of its fluor
            rec["sample"] = rec["target"]
            rec["target"] = ""


def _absent_text(rec: RawWell) -> str:
    """Why a well lacks a field the plate map should have given ("" when it need not)."""
    absent = rec.get("_absent") or ()
    if not absent:
        return ""
    return (
        f" (the export has no {', '.join(repr(a) for a in absent)} column and the "
        "plate map gives none for this well)"
    )


def _check_well(path: Path, d: Dialect, rec: RawWell, settings: QpcrSettings) -> None:
    """An unknown names its target and sample; a standard its target and a positive
    quantity. Other roles keep no quantity."""
    where, role = rec["_where"], rec["role"]
    if role == "unknown" and (not rec["_matched"] or not rec["target"] or not rec["sample"]):
        ident = None if rec.get("_absent") else rec.get("_identifier")
        hint = (
            f"Identifier {ident!r} does not match identifier_regex {settings.identifier_regex!r}"
            if ident is not None
            else "the unknown well has no target or no sample"
        )
        raise QPCRFormatError(
            path,
            f"{hint}{_absent_text(rec)}; set qpcr.identifier_regex (named groups target and "
            "sample) or give the plate a layout",
            where + ", column 'Identifier'" if ident is not None else where,
        )
    if role != "standard":
        rec["quantity"] = math.nan
        return
    if not rec["target"]:
        raise QPCRFormatError(path, "a standard well names no target" + _absent_text(rec), where)
    q = rec["quantity"]
    if q is None or math.isnan(q) or q <= 0:
        what, where = d.missing_quantity(rec)
        raise QPCRFormatError(path, what, where)


def _check_duplicates(path: Path, d: Dialect, records: Sequence[RawWell]) -> None:
    """One row per well and the dialect's :attr:`~.contract.Dialect.duplicate_key`."""
    seen: dict[tuple[str, str], str] = {}
    for rec in records:
        key = (rec["well"], rec[d.duplicate_key])
        if key in seen:
            raise QPCRFormatError(
                path,
                f"duplicate well {rec['well']}"
                + (f" ({key[1]})" if key[1] else "")
                + f": also at {seen[key]}",
                rec["_at"],
            )
        seen[key] = rec["_at"]


def _plate_unit(path: Path, records: Sequence[RawWell], settings: QpcrSettings, unit: str) -> str:
    """``unit`` (from plates.tsv), else the unit the standards state, else ``copies`` when
    the plate carries a copy target, else ``relative``."""
    if unit and unit not in settings.curves:
        raise QPCRFormatError(
            path, f"plate unit {unit!r} is not one of {', '.join(settings.curves)}"
        )
    stated = stated_unit(path, records)
    if unit and stated and unit != stated[0]:
        raise QPCRFormatError(
            path,
            f"plates.tsv gives this plate the unit {unit!r}, but its standards' "
            f"<quantity><unit> is {stated[1]!r} ({stated[0]}); correct one of them",
            stated[2],
        )
    unit = unit or (stated[0] if stated else "")
    if not unit:
        copy_targets = {canonical_target(t, settings) for t in settings.copy_targets}
        unit = "copies" if any(r["target"] in copy_targets for r in records) else "relative"
    return unit


def _replicate_group(rec: Mapping[str, Any]) -> str:
    """``target|sample`` (unknown), ``target|std|quantity``, ``target|ntc``, else ``""``."""
    role, t = rec["role"], rec["target"]
    if role == "unknown":
        return f"{t}|{rec['sample']}"
    if role == "standard":
        return f"{t}|std|{rec['quantity']:.6g}"
    if role == "ntc":
        return f"{t}|ntc"
    return ""
