"""Cells of an export: numbers, "no value" texts, Excel debris, well names, target aliases."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sortpcr.errors import QPCRFormatError

if TYPE_CHECKING:
    from sortpcr.settings import QpcrSettings

# Texts meaning "no value" in exports (compared case-insensitively after stripping).
_MISSING = {"", "n/a", "na", "nan", "undetermined", "none", "-", "no ct", "no cq", "null"}
# Excel debris: overflow (#####), infinities/indeterminates from re-saved files.
_DEBRIS = re.compile(r"^(#+|[-+]?1[.,]?#[.,]?(inf|ind|qnan|snan)\w*|[-+]?inf(inity)?)$", re.I)
_WELL = re.compile(r"^\s*([A-Za-z]{1,2})\s*0*(\d{1,3})\s*$")


def _norm_header(text: str) -> str:
    return re.sub(r"[^a-z0-9#]", "", text.strip().lower())


def normalise_well(text: str, path: str | Path | None = None, where: str | None = None) -> str:
    """Return a well name as ``A01`` (row letter(s) + two-digit column).

    Accepts ``A1``, ``A01``, ``a 1``. Raises :class:`QPCRFormatError` otherwise.
    """
    m = _WELL.match(str(text))
    if not m:
        raise QPCRFormatError(path, f"well name {text!r} is not a plate position like A01", where)
    return f"{m.group(1).upper()}{int(m.group(2)):02d}"


def _well_order(well: str) -> tuple[int, int]:
    m = _WELL.match(well)
    if not m:
        return (10**6, 10**6)
    letters = m.group(1).upper()
    row = 0
    for ch in letters:
        row = row * 26 + (ord(ch) - 64)
    return (row, int(m.group(2)))


def is_missing(text: Any) -> bool:
    """True when an export cell means "no value": blank, ``N/A``, ``NaN``, ``Undetermined``."""
    if text is None:
        return True
    if isinstance(text, float) and math.isnan(text):
        return True
    return str(text).strip().strip('"').strip().lower() in _MISSING


def is_debris(text: Any) -> bool:
    """True for Excel display debris (``#####`` overflow, ``-1#,INF``, ``1.#IND``)."""
    return bool(_DEBRIS.match(str(text).strip().strip('"').strip()))


def parse_number(text: Any, decimal_comma: bool = False) -> float:
    """Parse one export cell as a float; NaN for the "no value" texts.

    Raises ``ValueError`` for anything else that is not a number, Excel debris included
    (``#####`` hides a number that is lost; it must never pass as "undetermined").
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    if is_missing(text):
        return math.nan
    s = str(text).strip().strip('"').strip().replace("\u2212", "-")
    if is_debris(s):
        raise ValueError(f"Excel display debris {s!r}")
    if decimal_comma:
        if re.fullmatch(r"[-+]?\d{1,3}(\.\d{3})+(,\d*)?", s):
            s = s.replace(".", "")
        s = s.replace(",", ".")
    value = float(s)
    if math.isinf(value):
        raise ValueError(f"infinite value {s!r}")
    return value


def _decode(raw: bytes) -> str:
    """Decode an export: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return raw.decode("utf-16", errors="replace")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def canonical_target(name: str, settings: QpcrSettings) -> str:
    """Map a target name to its canonical name via ``settings.target_aliases``.

    Matching ignores case and surrounding spaces; unknown names are returned as written.
    """
    name = str(name).strip()
    return settings.alias_map.get(name.lower(), name)
