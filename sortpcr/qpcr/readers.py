"""Read qPCR instrument exports into one tidy table of wells.

Supported formats (``fmt``):

``icycler``
    Bio-Rad iCycler iQ / MyiQ / iQ5 "PCR Quant" export: ``Well, Fluor, Type, Identifier,
    Replicate #, Threshold Cycle (Ct), Ct Mean, ..., Starting Quantity (SQ), ...``. Target and
    sample come from ``Identifier`` split by ``settings["identifier_regex"]`` (named groups
    ``target`` and ``sample``); ``Type`` is ``Std``, ``Unkn``, ``NTC`` or ``Custom1``/blank.
``cfx``
    Bio-Rad CFX Manager (early tab export with ``Threshold Cycle ( C(t) )``) and CFX Manager
    3.x / Maestro "Quantification Cq Results" (csv, txt or xlsx): ``Target``, ``Sample``,
    ``Content`` (``Std``, ``Unkn-01``, ``NTC-1``, ...), ``Cq``.
``rdml``
    RDML 1.0-1.4: a zip holding one XML document (any member name) or plain XML. A reaction
    without ``<cq>`` is undetermined; one marked ``<excl>`` becomes role ``other``. Sample
    types ``std``/``unkn``/``ntc`` (``nac``, ``ntp`` count as NTC; ``pos``, ``nrt``, ``opt`` are
    ``other``); wells from ``react`` ids (``A1`` or a number on the run's ``pcrFormat``).
    Parsed with defusedxml; DTDs and entities are refused.
``generic``
    CSV/TSV with the tidy columns ``well, target, sample, role, ct`` (+ ``quantity`` for
    standards; ``replicate_group``, ``fluor``, ``plate``, ``unit`` optional).

Every text dialect seen in real exports is accepted: a leading empty column or not; ``,``
``;`` or TAB separators; decimal comma; CRLF; quoting; ``N/A``, ``NaN``, blank and
``Undetermined`` for no Ct; Excel debris (``#####``, ``-1#,INF``) in columns we do not use.
The export's own means (``Ct Mean``, ``SQ Mean``) and computed quantities of unknowns are
ignored: every number downstream is recomputed from single wells.

Output columns (one row per well and target):

- ``plate``: the plate ID from the sheet
- ``well``: ``A01`` style (row letter + two-digit column)
- ``target``: canonical target name (aliases resolved); ``""`` for an NTC or blank well whose
  target is not stated (such an NTC covers every target of the plate read in its fluor)
- ``sample``: sample name as written on the plate (``""`` when not stated)
- ``role``: ``standard``, ``unknown``, ``ntc`` or ``other``
- ``replicate_group``: ``target|sample`` for unknowns, ``target|std|quantity`` for
  standards, ``target|ntc`` for NTCs, ``""`` for other wells
- ``ct``: threshold cycle (cycles); NaN = undetermined (no amplification, or Ct >=
  ``settings["ct_max"]``)
- ``quantity``: input quantity of a standard in ``unit`` (NaN for all other wells)
- ``unit``: ``copies`` when the plate carries a target of ``settings["copy_targets"]``,
  else ``relative`` (IM-9 relative units); ``settings["unit"]`` overrides
- ``fluor``: the dye/channel where the export names it (``""`` otherwise)
"""

from __future__ import annotations

import csv
import math
import re
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sortpcr.errors import QPCRFormatError, XMLSecurityError

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("icycler", "cfx", "rdml", "generic")
ROLES = ("standard", "unknown", "ntc", "other")
COLUMNS = [
    "plate",
    "well",
    "target",
    "sample",
    "role",
    "replicate_group",
    "ct",
    "quantity",
    "unit",
    "fluor",
]
DEFAULT_IDENTIFIER_REGEX = r"^(?P<target>[^_]+)_(?P<sample>.+)$"
DEFAULT_CT_MAX = 40.0

# Texts meaning "no value" in exports (compared case-insensitively after stripping).
_MISSING = {"", "n/a", "na", "nan", "undetermined", "none", "-", "no ct", "no cq", "null"}
# Excel debris: overflow (#####), infinities/indeterminates from re-saved files.
_DEBRIS = re.compile(r"^(#+|[-+]?1[.,]?#[.,]?(inf|ind|qnan|snan)\w*|[-+]?inf(inity)?)$", re.I)
_WELL = re.compile(r"^\s*([A-Za-z]{1,2})\s*0*(\d{1,3})\s*$")

# Column names we need, by normalised header text (lower case, no spaces/punctuation).
_CT_NAMES = ("thresholdcyclect", "cq", "ct", "thresholdcycle", "crt")
_SQ_NAMES = ("startingquantitysq", "startingquantity", "sq", "quantity")


# --------------------------------------------------------------------------- helpers


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


def _settings_aliases(settings: Mapping[str, Any]) -> dict[str, str]:
    """alias (lower case) -> canonical name."""
    out: dict[str, str] = {}
    for canonical, aliases in (settings.get("target_aliases") or {}).items():
        out[str(canonical).strip().lower()] = str(canonical)
        for alias in aliases or []:
            out[str(alias).strip().lower()] = str(canonical)
    return out


def canonical_target(name: str, settings: Mapping[str, Any]) -> str:
    """Map a target name to its canonical name via ``settings["target_aliases"]``.

    Matching ignores case and surrounding spaces; unknown names are returned as written.
    """
    name = str(name).strip()
    return _settings_aliases(settings).get(name.lower(), name)


# ------------------------------------------------------------------- delimited tables


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


def _read_xlsx_table(path: Path) -> _Table:
    """Read the first worksheet of an xlsx export holding a 'Well' header."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
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
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx_table(path)
    return _read_text_table(path, _decode(path.read_bytes()))


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


# ------------------------------------------------------------------------ detection


def detect_format(path: str | Path) -> str:
    """Guess the export format of ``path``: ``icycler``, ``cfx``, ``rdml`` or ``generic``.

    Raises :class:`QPCRFormatError` when the file matches none of them.
    """
    path = Path(path)
    try:
        head = path.read_bytes()[:65536]
    except OSError as exc:
        raise QPCRFormatError(path, f"cannot read the file ({exc.strerror})") from exc
    if head[:4] == b"PK\x03\x04" and not zipfile.is_zipfile(path):
        raise QPCRFormatError(
            path, "starts like a zip archive (xlsx or RDML) but is not a readable one (truncated?)"
        )
    if head[:2] == b"PK" and zipfile.is_zipfile(path):
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            table = _read_xlsx_table(path)
            return _format_from_header(path, table.header)
        return "rdml"
    text = _decode(head)
    if re.search(r"<\s*rdml\b", text[:4096]):
        return "rdml"
    table = _read_text_table(path, text)
    return _format_from_header(path, table.header)


def _format_from_header(path: Path, header: Sequence[str]) -> str:
    names = {_norm_header(h) for h in header}
    if "identifier" in names and "type" in names:
        return "icycler"
    if "content" in names and ({"target", "sample"} & names):  # Target may be a plate map's
        return "cfx"
    if {"well", "target", "sample", "role"} <= names and ({"ct", "cq"} & names):
        return "generic"
    raise QPCRFormatError(
        path,
        "unknown qPCR export format: the header has neither iCycler/MyiQ columns "
        "(Well, Type, Identifier, Threshold Cycle (Ct)), CFX columns (Well, Target, Content, "
        "Sample, Cq) nor the generic columns (well, target, sample, role, ct); header was "
        + ", ".join(repr(h) for h in header if h),
    )


# ------------------------------------------------------------------------ readers


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
    settings: Mapping[str, Any] | None = None,
    supplies: Mapping[str, tuple[str, ...]] | None = None,
) -> dict[str, int | None]:
    """Column index of each needed column (label -> header names it may have).

    A column the export lacks is an error unless the plate map supplies it: ``supplies``
    maps a label to the plate-map columns that replace it, and ``settings["_layout_columns"]``
    holds the plate map's columns; such a label gets ``None`` (empty cells, filled by the
    plate map)."""
    given = set((settings or {}).get("_layout_columns") or ())
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


def _mark_absent(records: list[dict[str, Any]], cols: Mapping[str, int | None]) -> None:
    """Note on each record the export's columns that the plate map has to fill."""
    absent = tuple(label for label, c in cols.items() if c is None)
    for rec in records:
        rec["_absent"] = absent


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


def _read_icycler(path: Path, settings: Mapping[str, Any]) -> list[dict[str, Any]]:
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
                "_line": line,
                "_identifier": ident,
                "_matched": matched,
                "_replicate": _replicate_id(("Replicate #", _cell(f, c_rep))),
            }
        )
    _mark_absent(out, cols)
    return out


def _read_cfx(path: Path, settings: Mapping[str, Any]) -> list[dict[str, Any]]:
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
) -> dict[str, Any]:
    """One well of a table-shaped export (CFX, generic), before aliases and checks."""
    return {
        "well": well,
        "target": str(target).strip(),
        "sample": str(sample).strip(),
        "role": role,
        "ct": ct,
        "quantity": quantity,
        "fluor": str(fluor).strip(),
        "_line": line,
        "_matched": True,
    }


def _read_generic(path: Path, settings: Mapping[str, Any]) -> list[dict[str, Any]]:
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


# ------------------------------------------------------------------------------ RDML

_RDML_ROLES = {
    "std": "standard",
    "unkn": "unknown",
    "ntc": "ntc",
    "nac": "ntc",
    "ntp": "ntc",
}


def _rdml_xml(path: Path) -> tuple[bytes, str]:
    raw = path.read_bytes()
    if raw[:2] != b"PK":
        return raw, path.name
    try:
        with zipfile.ZipFile(path) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
            xmls = [i for i in members if i.filename.lower().endswith((".xml", ".rdml"))]
            chosen = [i for i in xmls if Path(i.filename).name == "rdml_data.xml"] or xmls
            chosen = chosen or members
            if not chosen:
                raise QPCRFormatError(path, "the RDML zip archive is empty")
            info = chosen[0]
            if info.file_size > 500 * 1024 * 1024:
                raise QPCRFormatError(path, f"zip member {info.filename!r} is implausibly large")
            return zf.read(info), info.filename
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        # corrupt directory or member data, unsupported compression, encrypted member
        raise QPCRFormatError(path, f"not a readable zip archive ({exc})") from exc


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(el: Any, name: str) -> Any:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _children(el: Any, name: str) -> list[Any]:
    return [c for c in el if _local(c.tag) == name]


def _text(el: Any) -> str:
    return (el.text or "").strip() if el is not None else ""


def _read_rdml(path: Path, settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    import defusedxml
    from defusedxml import ElementTree as DET

    data, member = _rdml_xml(path)
    where = f"zip member {member!r}" if member != path.name else None
    try:
        root = DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise XMLSecurityError(
            path,
            f"the XML declares a DTD or entities ({type(exc).__name__}); RDML never needs them, "
            "so the file is refused rather than expanded",
            where,
        ) from exc
    except Exception as exc:  # ParseError
        raise QPCRFormatError(path, f"not well-formed XML ({exc})", where) from exc
    if _local(root.tag) != "rdml":
        raise QPCRFormatError(path, f"root element is <{_local(root.tag)}>, not <rdml>", where)

    # Samples: type (optionally per target, RDML >= 1.3) and quantity.
    samples: dict[str, dict[str, Any]] = {}
    for s in _children(root, "sample"):
        sid = s.get("id", "")
        types: dict[str | None, str] = {}
        for t in _children(s, "type"):
            types[t.get("targetId")] = _text(t).lower()
        qty: dict[str | None, float] = {}
        units: dict[str | None, str] = {}
        for q in _children(s, "quantity"):
            try:
                value = parse_number(_text(_child(q, "value")))
            except ValueError:  # not a number or infinite: no quantity
                continue
            if not math.isnan(value):
                qty[q.get("targetId")] = value
                units[q.get("targetId")] = _text(_child(q, "unit")).lower()
        samples[sid] = {"types": types, "quantity": qty, "unit": units}
    targets_dye: dict[str, str] = {}
    for t in _children(root, "target"):
        dye = _child(t, "dyeId")
        targets_dye[t.get("id", "")] = (dye.get("id") or _text(dye)) if dye is not None else ""

    ct_max = float(settings.get("ct_max", DEFAULT_CT_MAX))
    out = []
    for exp in _children(root, "experiment"):
        for run in _children(exp, "run"):
            fmt = _child(run, "pcrFormat")
            ncols = 12
            if fmt is not None and _child(fmt, "columns") is not None:
                try:
                    ncols = int(_text(_child(fmt, "columns")))
                except ValueError:
                    ncols = 12
            run_where = f"experiment {exp.get('id')!r}, run {run.get('id')!r}"
            if ncols < 1:
                raise QPCRFormatError(
                    path, f"<pcrFormat><columns> is {ncols}; a plate has at least one", run_where
                )
            for react in _children(run, "react"):
                rid = react.get("id", "")
                if rid.isdigit():
                    n = int(rid) - 1
                    if not 0 <= n < 26 * ncols:  # rows A-Z
                        raise QPCRFormatError(
                            path,
                            f"react id {rid} is outside a plate of {ncols} columns and rows A-Z",
                            run_where,
                        )
                    well = f"{chr(65 + n // ncols)}{n % ncols + 1:02d}"
                else:
                    well = normalise_well(rid, path, f"{run_where}, react id {rid!r}")
                sample_el = _child(react, "sample")
                sid = sample_el.get("id", "") if sample_el is not None else ""
                info = samples.get(sid, {"types": {}, "quantity": {}, "unit": {}})
                for d in _children(react, "data"):
                    tar = _child(d, "tar")
                    tid = tar.get("id", "") if tar is not None else ""
                    rtype = info["types"].get(tid, info["types"].get(None, ""))
                    role = _RDML_ROLES.get(rtype, "other")
                    cq_el = _child(d, "cq")
                    if cq_el is None or not _text(cq_el):
                        ct = math.nan
                    else:
                        try:
                            ct = parse_number(_text(cq_el))
                        except ValueError:
                            raise QPCRFormatError(
                                path,
                                f"<cq> {_text(cq_el)!r} is not a number",
                                f"{run_where}, well {well}, target {tid!r}",
                            ) from None
                        if ct < 0:  # RDML uses -1 for "no Cq" in some writers
                            ct = math.nan
                    key = tid if tid in info["quantity"] else None
                    q = info["quantity"].get(key, math.nan)
                    unit = info["unit"].get(key, "")
                    dq = _child(d, "quantity")
                    if (q is None or math.isnan(q)) and dq is not None:
                        try:
                            q = parse_number(_text(_child(dq, "value")))
                        except ValueError:
                            q = math.nan
                        unit = _text(_child(dq, "unit")).lower()
                    excl = _child(d, "excl")
                    if excl is not None:  # excluded by the lab in the instrument software
                        role = "other"
                    out.append(
                        {
                            "well": well,
                            "target": tid,
                            "sample": sid,
                            "role": role,
                            "ct": ct if (math.isnan(ct) or ct < ct_max) else math.nan,
                            "quantity": q if role == "standard" else math.nan,
                            "fluor": targets_dye.get(tid, ""),
                            "_line": f"{run_where}, react {rid}",
                            "_matched": True,
                            "_sample": sid,
                            "_unit": unit,
                        }
                    )
    if not out:
        raise QPCRFormatError(path, "the RDML document holds no <react> with <data>", where)
    return out


# ------------------------------------------------------------------------ plate map


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


def _apply_layout(
    records: list[dict[str, Any]], layout: list[dict[str, Any]], settings: Mapping[str, Any]
) -> None:
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


# ------------------------------------------------------------------------ entry point

_READERS = {
    "icycler": _read_icycler,
    "cfx": _read_cfx,
    "rdml": _read_rdml,
    "generic": _read_generic,
}


def read_plate(
    path: str | Path,
    plate: str,
    fmt: str | None,
    settings: Mapping[str, Any],
    layout: str | Path | None = None,
) -> pd.DataFrame:
    """:func:`read_plate_records` as a DataFrame (``ct`` and ``quantity`` float)."""
    import pandas as pd

    frame = pd.DataFrame(read_plate_records(path, plate, fmt, settings, layout), columns=COLUMNS)
    frame["ct"] = frame["ct"].astype(float)
    frame["quantity"] = frame["quantity"].astype(float)
    return frame


def read_plate_records(
    path: str | Path,
    plate: str,
    fmt: str | None,
    settings: Mapping[str, Any],
    layout: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Read one plate export into the tidy well table: dict rows over :data:`COLUMNS`, in
    plate order (well, then fluor, then target). No pandas: the read_plate job writes them.

    ``fmt`` is one of :data:`FORMATS` or ``None``/``""`` to detect it. ``settings`` is the
    ``qpcr`` section of the config (``identifier_regex``, ``target_aliases``,
    ``copy_targets``, ``ct_max``, optional ``unit``). ``layout`` is an optional plate map
    whose non-empty cells override the export per well.

    Raises :class:`QPCRFormatError` (file, line/well and column named) for missing columns,
    non-numeric Ct, duplicate wells, standards without a quantity, unknowns without a
    target or sample, and unknown formats; :class:`XMLSecurityError` for RDML with DTDs.
    """
    path = Path(path)
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "does not exist"
        raise QPCRFormatError(path, f"the qPCR export {what}")
    fmt = (fmt or "").strip().lower() or detect_format(path)
    if fmt not in _READERS:
        raise QPCRFormatError(
            path, f"unknown format {fmt!r}; use one of {', '.join(FORMATS)} or leave it empty"
        )
    plate_map = read_layout(layout) if layout is not None and str(layout).strip() else None
    if plate_map is not None:  # the columns it fills need not be in the export
        given = {k for row in plate_map for k in ("target", "sample", "role") if row[k]}
        settings = {**settings, "_layout_columns": frozenset(given)}
    records = _READERS[fmt](path, settings)
    if not records:
        raise QPCRFormatError(path, "the export holds no wells")

    if plate_map is not None:
        _apply_layout(records, plate_map, settings)

    ct_max = float(settings.get("ct_max", DEFAULT_CT_MAX))
    aliases = _settings_aliases(settings)
    for rec in records:
        rec["target"] = aliases.get(rec["target"].lower(), rec["target"])
        if rec["ct"] < 0:  # RDML's -1 "no Cq" is already NaN; elsewhere it is corrupt
            where = f"line {rec['_line']}, well {rec['well']}" if fmt != "rdml" else rec["_line"]
            raise QPCRFormatError(path, f"Ct {rec['ct']:g} is negative", where)
        if not math.isnan(rec["ct"]) and rec["ct"] >= ct_max:
            rec["ct"] = math.nan
    known_targets = {r["target"] for r in records if r["role"] in ("standard", "unknown")}

    for rec in records:
        where = f"line {rec['_line']}, well {rec['well']}" if fmt != "rdml" else rec["_line"]
        role = rec["role"]
        if role in ("ntc", "other") and not rec["_matched"] and rec["target"] not in known_targets:
            # an NTC named "NTC" or left blank covers every target of its fluor
            rec["sample"] = rec["target"]
            rec["target"] = ""
        absent = rec.get("_absent") or ()
        if role == "unknown" and (not rec["_matched"] or not rec["target"] or not rec["sample"]):
            ident = None if absent else rec.get("_identifier")
            hint = (
                f"Identifier {ident!r} does not match identifier_regex "
                f"{settings.get('identifier_regex') or DEFAULT_IDENTIFIER_REGEX!r}"
                if ident is not None
                else "the unknown well has no target or no sample"
            )
            if absent:
                hint += (
                    f" (the export has no {', '.join(repr(a) for a in absent)} column and the "
                    "plate map gives none for this well)"
                )
            raise QPCRFormatError(
                path,
                f"{hint}; set qpcr.identifier_regex (named groups target and sample) or give "
                "the plate a layout",
                where + ", column 'Identifier'" if ident is not None else where,
            )
        if role == "standard":
            if not rec["target"]:
                what = "a standard well names no target"
                if absent:
                    what += (
                        f" (the export has no {', '.join(repr(a) for a in absent)} column and "
                        "the plate map gives none for this well)"
                    )
                raise QPCRFormatError(path, what, where)
            q = rec["quantity"]
            if (q is None or math.isnan(q) or q <= 0) and fmt == "rdml":
                raise QPCRFormatError(
                    path,
                    f"standard <sample id={rec['_sample']!r}> has no positive <quantity><value> "
                    f"for target {rec['target']!r} (nor does the react's <data><quantity>); "
                    "give it in the RDML file or in the plate layout's 'quantity' column",
                    where,
                )
            if q is None or math.isnan(q) or q <= 0:
                raise QPCRFormatError(
                    path,
                    "standard well has no positive Starting Quantity; give it in the export "
                    "or in the plate layout's 'quantity' column",
                    where + ", column 'Starting Quantity (SQ)'",
                )
        else:
            rec["quantity"] = math.nan

    # Duplicates: one row per (well, fluor) in Bio-Rad text exports; per (well, target) else.
    seen: dict[tuple[str, str], Any] = {}
    for rec in records:
        key = (rec["well"], rec["fluor"] if fmt in ("icycler", "cfx") else rec["target"])
        if key in seen:
            raise QPCRFormatError(
                path,
                f"duplicate well {rec['well']}"
                + (f" ({key[1]})" if key[1] else "")
                + f": also at {seen[key]}",
                f"line {rec['_line']}" if fmt != "rdml" else str(rec["_line"]),
            )
        seen[key] = f"line {rec['_line']}" if fmt != "rdml" else rec["_line"]

    unit = settings.get("unit")
    stated = _stated_unit(path, records)
    if unit and stated and unit != stated[0]:
        raise QPCRFormatError(
            path,
            f"plates.tsv gives this plate the unit {unit!r}, but its standards' "
            f"<quantity><unit> is {stated[1]!r} ({stated[0]}); correct one of them",
            stated[2],
        )
    unit = unit or (stated[0] if stated else "")
    if not unit:
        copy_targets = {canonical_target(t, settings) for t in settings.get("copy_targets") or []}
        unit = "copies" if any(r["target"] in copy_targets for r in records) else "relative"

    for rec in records:
        role, t, s = rec["role"], rec["target"], rec["sample"]
        if role == "unknown":
            rec["replicate_group"] = f"{t}|{s}"
        elif role == "standard":
            rec["replicate_group"] = f"{t}|std|{rec['quantity']:.6g}"
        elif role == "ntc":
            rec["replicate_group"] = f"{t}|ntc"
        else:
            rec["replicate_group"] = ""
        rec["plate"] = plate
        rec["unit"] = unit

    check_sample_collisions(path, records)
    records.sort(key=lambda r: (_well_order(r["well"]), r["fluor"], r["target"]))
    return [{c: rec[c] for c in COLUMNS} for rec in records]


#: RDML ``<quantity><unit>`` -> the plate unit it states (``cop`` = copies; a dilution or a
#: fold is relative; ng, nMol and other state none of ours)
_RDML_UNITS = {"cop": "copies", "dil": "relative", "fold": "relative"}


def _stated_unit(path: Path, records: Sequence[Mapping[str, Any]]) -> tuple[str, str, str] | None:
    """The unit the standards' quantities state (RDML ``<unit>``): (our unit, the RDML
    text, where), or None; standards stating two of our units are an error."""
    found: dict[str, tuple[str, str]] = {}
    for rec in records:
        text = rec.get("_unit") or ""
        if rec["role"] == "standard" and text in _RDML_UNITS:
            found.setdefault(_RDML_UNITS[text], (text, str(rec["_line"])))
    if len(found) > 1:
        shown = " and ".join(f"{t!r} ({w})" for t, w in found.values())
        raise QPCRFormatError(
            path, f"the standards' <quantity><unit> are {shown}: one plate has one unit"
        )
    for ours, (text, where) in found.items():
        return ours, text, where
    return None


def _wells_text(records: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(sorted({r["well"] for r in records}, key=_well_order))


def check_sample_collisions(path: str | Path, records: Sequence[Mapping[str, Any]]) -> None:
    """Stop a plate on which one sample name stands for two samples.

    Two checks on the unknown wells of each target (after the plate map is applied):

    * the export's own replicate groups (iCycler/MyiQ ``Replicate #``; CFX ``Content``
      number ``Unkn-01``, ``Biological Set Name``, ``Replicate``): one sample name in two
      groups is two samples typed under one name;
    * the plate's replicate count for the target (the most common number of wells per
      sample, the larger one on a tie): a sample with more wells than that holds wells of
      another sample (RDML and generic tables, which state no groups, are caught here).

    Raises :class:`QPCRFormatError` naming the sample, the target, the groups and the wells.
    """
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for rec in records:
        if rec["role"] == "unknown":
            groups.setdefault((rec["target"], rec["sample"]), []).append(rec)
    fix = (
        ": two samples under one name? Correct the sample names in the instrument software "
        "and re-export, or give the plate a layout naming each well's sample"
    )
    for (target, sample), wells in groups.items():
        by_label: dict[str, list[Mapping[str, Any]]] = {}
        for rec in wells:
            if rec.get("_replicate"):
                by_label.setdefault(rec["_replicate"], []).append(rec)
        if len(by_label) > 1:
            shown = " and ".join(
                f"{label} (wells {_wells_text(recs)})" for label, recs in by_label.items()
            )
            raise QPCRFormatError(
                path,
                f"sample {sample!r} (target {target}) is in {len(by_label)} replicate groups "
                f"of the export: {shown}{fix}",
                f"wells {_wells_text(wells)}",
            )
    sizes: dict[str, dict[int, int]] = {}
    for (target, _), wells in groups.items():
        n = len({r["well"] for r in wells})
        sizes.setdefault(target, {})
        sizes[target][n] = sizes[target].get(n, 0) + 1
    for (target, sample), wells in groups.items():
        counts = sizes[target]
        usual = max(counts, key=lambda n: (counts[n], n))
        n = len({r["well"] for r in wells})
        if n > usual:
            raise QPCRFormatError(
                path,
                f"sample {sample!r} has {n} wells for target {target} (wells "
                f"{_wells_text(wells)}) where the plate's samples have {usual} "
                f"(its replicate count for {target}){fix}",
                f"wells {_wells_text(wells)}",
            )
