"""Read FCS 2.0 / 3.0 / 3.1 list-mode files safely: flowio decodes, we validate.

flowio (the reader FlowKit is built on) decodes the DATA segment; this module decides what
it is given, so that a file is either read correctly or refused with an :class:`FCSError`
naming the file, where (byte offset or keyword) and what is wrong. Never a silently wrong
matrix. What we check and decide ourselves:

* HEADER and TEXT (our own parser: the delimiter escape rule, whitespace-padded keywords,
  a missing final delimiter; a TEXT whose doubled delimiters only make sense as empty
  values is re-read that way);
* the DATA offsets. The HEADER and ``$BEGINDATA``/``$ENDDATA`` may disagree, and either can
  be the wrong one. Rule (field notes): take the candidate that starts after the TEXT
  segment and holds ``$TOT x sum($PnB)/8`` bytes inside the file; if both do, the one at
  TEXT end + 1; else refuse. An ``$ENDDATA`` one byte too far is tolerated (we read
  ``$TOT`` events). flowio's ``ignore_offset_discrepancy`` is never used;
* several data sets (``$NEXTDATA``, Beckman ``.LMD``): one must be chosen (``dataset=``);
  the error says how many there are;
* encodings: ``$DATATYPE`` I (8/16/32-bit, mixed widths allowed), F (32-bit), D (64-bit);
  ``$BYTEORD`` little or big endian; anything else (24-bit or 10-bit packed integers,
  ASCII, PDP byte orders, histogram modes) is refused;
* zero events, truncated files, files that are not FCS, paths that are not regular files
  (a FIFO would block the read);
* values: ``$PnR`` must be a positive number and ``$PnE`` non-negative; integer DATA whose
  values exceed ``$PnR`` in the declared byte order but in none of the other is a wrong
  ``$BYTEORD``; float DATA holding NaN, infinities, values beyond 10^6 x ``$PnR`` or
  denormal-sized ones (below 1e-30: whole-number floats read in the wrong byte order) are
  refused; scale values must be finite.

flowio is then handed a clean in-memory copy of the data set (our offsets, only the
keywords needed to decode: no names, no identifying text) and returns the integer values;
integer flag bits above ``$PnR`` are masked by flowio (``$PnR`` rounded up to a power of
two, as the standard says). Byte-aligned 24-bit integers, which flowio does not read, are
assembled from their bytes and masked the same way. Float data (``F``, ``D``) are a numpy
view of the DATA bytes in the declared byte order, copied once into float64 (memory: about
twice the DATA size while reading, instead of four times through flowio's copies).

Scale values (what FlowKit calls preprocessed events), per channel:

* integer channel with ``$PnE f1,f2``, f1 > 0 (log amplifier): ``f2 * 10**(f1 * x / $PnR)``
  with f2 = 0 read as 1;
* linear channel: ``x / $PnG`` (when ``$PnG`` is present and not 0 or 1); the Time channel
  is multiplied by ``$TIMESTEP`` instead and never divided by a gain;
* float data are already scale values (``$PnE`` must be ``0,0`` for them; a log ``$PnE``
  on float data is ignored and noted).

This equals flowio's ``preprocess=True`` except that flowio also divides log channels by
``$PnG``, which the standard says does not apply to them (no real file of ours has both).

Compensation: ``$SPILLOVER``, ``SPILLOVER``, ``SPILL`` or ``$SPILL`` (in that order), channel
names by ``$PnN`` (or by parameter number); the old unnamed FCS 3.0 ``$COMP`` is not used. A
malformed matrix (unknown channel, wrong number of values, singular) is refused, never
skipped silently; ``compensation="none"`` reads such a file uncompensated on purpose. Applied
as FlowKit/flowutils do (``solve(S.T, x.T).T`` on the matrix channels, matrix rows in file
order); channels absent from the matrix are null channels and stay as they are. Files
without a matrix (CellQuest: compensated in hardware) are never compensated;
:attr:`FCSData.compensation` says which.

Privacy: :attr:`FCSData.metadata` is a whitelist of technical keywords minus anything
:func:`is_identifying` flags; identifying keywords ($FIL, $SRC, patient names, dates,
operator ...) never leave this module.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import FCSError
from .safe_input import FCS_MAX_BYTES, TABLE_MAX_BYTES, read_user_file

__all__ = [
    "FCSData",
    "IDENTIFYING_KEYWORDS",
    "find_marker",
    "flowio_view",
    "identifying_keywords",
    "is_identifying",
    "parse_spillover",
    "read_fcs",
    "read_text",
    "resolve_markers",
    "safe_metadata",
]

_HEADER_LEN = 58
_VERSIONS = ("2.0", "3.0", "3.1")
_SPILL_KEYS = ("$SPILLOVER", "SPILLOVER", "SPILL", "$SPILL")

#: Keywords that identify a person, a place or a time of acquisition. They are never copied
#: into results (also every keyword whose name contains one of :data:`_IDENTIFYING_PARTS`).
IDENTIFYING_KEYWORDS = frozenset(
    {
        "$FIL",
        "$SRC",
        "$OP",
        "$INST",
        "$COM",
        "$SMNO",
        "$PROJ",
        "$CELLS",
        "$DATE",
        "$BTIM",
        "$ETIM",
        "$EXP",
        "$LAST_MODIFIER",
        "$LAST_MODIFIED",
        "$ORIGINALITY",
        "$INSTADDRESS",
        "$PLATEID",
        "$PLATENAME",
        "$WELLID",
        "$CYTSN",
        "$RUNNUMBER",
        "EXPORT TIME",
        "EXPORT USER NAME",
        "GUID",
        "@Y2KDATE",
        "@LOCATION",
        "@FILEGUID",
        "@BARCODE",
    }
)
_IDENTIFYING_PARTS = (
    "PATIENT",
    "NAME",
    "ID",
    "USER",
    "OPERATOR",
    "COMMENT",
    "SAMPLE",
    "SUBJECT",
    "BIRTH",
    "DOB",
    "DATE",
    "SEX",
    "GENDER",
    "HOSPITAL",
    "DOCTOR",
    "PHYSICIAN",
    "ADDRESS",
    "FILE",
    "PATH",
    "SOURCE",
    "LOCATION",
    "BARCODE",
)
_SAFE_FIXED = frozenset(
    {
        "$BYTEORD",
        "$DATATYPE",
        "$MODE",
        "$PAR",
        "$TOT",
        "$NEXTDATA",
        "$CYT",
        "$SYS",
        "CREATOR",
        "$TIMESTEP",
        "$SPILLOVER",
        "SPILLOVER",
        "SPILL",
        "$SPILL",
        "APPLY COMPENSATION",
        "$VOL",
        "$ABRT",
        "$LOST",
        "FSC ASF",
        "THRESHOLD",
        "WINDOW EXTENSION",
    }
)
_SAFE_CHANNEL = re.compile(r"^\$P\d+[NSBRGEV]$|^\$P\d+(DISPLAY|TYPE|DET|TAG|L|F|O|P|T)$")


def is_identifying(keyword: str) -> bool:
    """True when an FCS keyword may identify a patient, operator, place or date."""
    key = keyword.strip().upper()
    if key in IDENTIFYING_KEYWORDS:
        return True
    if _SAFE_CHANNEL.match(key):  # $PnN etc. are channel descriptions
        return False
    bare = key.lstrip("$@#")
    return any(part in bare for part in _IDENTIFYING_PARTS)


def identifying_keywords(keywords: Iterable[str]) -> list[str]:
    """The keywords (as given) that :func:`is_identifying` flags, sorted."""
    return sorted(k for k in keywords if is_identifying(k))


def safe_metadata(text: Mapping[str, str]) -> dict[str, str]:
    """Technical keywords only (whitelist), never an identifying one; keys upper-case."""
    out: dict[str, str] = {}
    for key, value in text.items():
        k = key.strip().upper()
        if (k in _SAFE_FIXED or _SAFE_CHANNEL.match(k)) and not is_identifying(k):
            out[k] = value.strip()
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class FCSData:
    """One FCS data set, read and validated.

    ``events``: n x p float64 scale values (linear units of the instrument; log channels
    anti-logged), compensated when ``compensation`` is ``"file"`` (the file's matrix) or
    ``"matrix"`` (a matrix the sheet gave); ``"none"``: the file has none; ``"off"``: it has
    one, not applied on request. ``uncompensated``: the same
    before compensation (the same array object when nothing was compensated).
    ``channels``: ``$PnN``; ``stains``: ``$PnS`` ('' when absent); ``ranges``: ``$PnR``;
    ``log_decades``/``log_zero``: f1/f2 of ``$PnE`` (f1 0 = linear; f2 0 is read as 1).
    ``metadata``: the safe keyword subset.
    ``notes``: repairs made while reading (e.g. ``$ENDDATA`` off by one).
    """

    path: str
    version: str
    dataset: int
    n_datasets: int
    n_events: int
    channels: tuple[str, ...]
    stains: tuple[str, ...]
    ranges: tuple[float, ...]
    log_decades: tuple[float, ...]
    log_zero: tuple[float, ...]
    datatype: str
    byteorder: str
    events: np.ndarray = field(repr=False)
    uncompensated: np.ndarray = field(repr=False)
    compensation: str
    spill_keyword: str | None
    spill_channels: tuple[str, ...]
    spill_matrix: np.ndarray | None = field(repr=False)
    data_offsets: tuple[int, int]
    metadata: dict[str, str] = field(repr=False)
    notes: tuple[str, ...] = ()

    def index(self, name: str) -> int:
        """Column of a channel by ``$PnN`` (exact), else by ``$PnS``; ValueError if absent."""
        if name in self.channels:
            return self.channels.index(name)
        if name and name in self.stains:
            return self.stains.index(name)
        raise ValueError(f"{self.path}: no channel named {name!r}")

    def column(self, name: str, compensated: bool = True) -> np.ndarray:
        """One channel's scale values (compensated unless asked otherwise)."""
        data = self.events if compensated else self.uncompensated
        return data[:, self.index(name)]

    @property
    def channel_range(self) -> dict[str, tuple[float, float]]:
        """Per channel (``$PnN``): the (min, max) scale value the instrument can record."""
        out = {}
        for name, r, dec, zero in zip(
            self.channels, self.ranges, self.log_decades, self.log_zero, strict=True
        ):
            z = zero if zero > 0 else 1.0
            log = dec > 0 and self.datatype == "I"
            out[name] = (z, z * 10.0**dec) if log else (0.0, float(r))
        return out


# --------------------------------------------------------------------------- HEADER / TEXT


@dataclass(frozen=True)
class _DataSet:
    """Layout of one data set inside the file (offsets absolute)."""

    start: int
    version: str
    text_start: int
    text_end: int
    header_data: tuple[int, int]
    text: dict[str, str]  # upper-case stripped keyword -> raw value
    original_keys: dict[str, str]  # upper-case -> keyword as written
    nextdata: int
    notes: tuple[str, ...]


def _header_int(raw: bytes, path: str, offset: int, what: str) -> int:
    field_bytes = raw[offset : offset + 8]
    text = field_bytes.decode("ascii", errors="replace").strip()
    if text == "":
        return 0
    if not text.isdigit():
        raise FCSError(path, f"HEADER field {what} is not a number: {text!r}", f"byte {offset}")
    return int(text)


def _split_text(body: str, delimiter: str, escaped: bool) -> list[str]:
    """Split TEXT (without the first delimiter) into tokens.

    ``escaped``: a doubled delimiter is a literal delimiter (the standard); otherwise every
    delimiter separates, so a doubled one means an empty value (seen in real files).
    """
    if not escaped:
        tokens = body.split(delimiter)
    else:
        tokens, current, i, n = [], [], 0, len(body)
        while i < n:
            ch = body[i]
            if ch == delimiter:
                if i + 1 < n and body[i + 1] == delimiter:
                    current.append(delimiter)
                    i += 2
                    continue
                tokens.append("".join(current))
                current = []
            else:
                current.append(ch)
            i += 1
        tokens.append("".join(current))
    if tokens and tokens[-1].strip(" \x00\r\n") == "":
        tokens.pop()  # text ends with the delimiter (normal), maybe padded after it
    return tokens


def _pairs(tokens: list[str]) -> tuple[dict[str, str], dict[str, str]] | None:
    if len(tokens) % 2:
        return None
    text: dict[str, str] = {}
    original: dict[str, str] = {}
    for key, value in zip(tokens[::2], tokens[1::2], strict=True):
        k = key.strip().upper()
        if not k:
            return None
        text[k] = value
        original[k] = key
    return text, original


def _plausible(text: Mapping[str, str]) -> bool:
    needed = ("$PAR", "$TOT", "$DATATYPE", "$BYTEORD")
    if not all(k in text for k in needed):
        return False
    try:
        par = int(text["$PAR"].strip())
    except ValueError:
        return False
    return all(f"$P{i}B" in text for i in range(1, par + 1))


def _parse_text(segment: bytes, path: str, where: str) -> tuple[dict, dict, list[str]]:
    """Parse a TEXT segment into (keywords, original spellings, notes)."""
    if not segment:
        raise FCSError(path, "TEXT segment is empty", where)
    try:
        decoded = segment.decode("utf-8")
    except UnicodeDecodeError:
        decoded = segment.decode("latin-1")
    delimiter, body = decoded[0], decoded[1:]
    notes: list[str] = []
    standard = _pairs(_split_text(body, delimiter, escaped=True))
    if standard is not None and _plausible(standard[0]):
        text, original = standard
    else:
        lenient = _pairs(_split_text(body, delimiter, escaped=False))
        if lenient is None or not _plausible(lenient[0]):
            raise FCSError(
                path,
                "TEXT segment cannot be split into keyword/value pairs with the required "
                "keywords ($PAR, $TOT, $DATATYPE, $BYTEORD, $PnB)",
                where,
            )
        text, original = lenient
        notes.append("TEXT read with empty keyword values (doubled delimiters)")
    padded = [v for v in original.values() if v != v.strip()]
    if padded:
        notes.append(f"{len(padded)} whitespace-padded keyword(s)")
    return text, original, notes


def _read_data_set(raw: bytes, start: int, path: str) -> _DataSet:
    if len(raw) - start < _HEADER_LEN:
        what = "file is too short to hold an FCS HEADER (58 bytes)"
        if start:
            what = f"data set at byte {start} is truncated: no room for its HEADER"
        raise FCSError(path, what, f"byte {start}")
    magic = raw[start : start + 6]
    if magic[:3] != b"FCS":
        raise FCSError(path, "not an FCS file: it does not start with 'FCS'", f"byte {start}")
    version = magic[3:6].decode("ascii", errors="replace")
    if version not in _VERSIONS:
        raise FCSError(
            path, f"unsupported FCS version {version!r} (2.0, 3.0 and 3.1 are read)", "HEADER"
        )
    text_start = _header_int(raw, path, start + 10, "TEXT start")
    text_end = _header_int(raw, path, start + 18, "TEXT end")
    h_data = (
        _header_int(raw, path, start + 26, "DATA start"),
        _header_int(raw, path, start + 34, "DATA end"),
    )
    if text_start < _HEADER_LEN or text_end <= text_start:
        raise FCSError(
            path, f"HEADER gives an impossible TEXT segment {text_start}-{text_end}", "HEADER"
        )
    if start + text_end >= len(raw):
        raise FCSError(
            path,
            f"file is truncated: TEXT segment ends at byte {start + text_end} but the file "
            f"has {len(raw)} bytes",
            "TEXT",
        )
    where = f"TEXT bytes {start + text_start}-{start + text_end}"
    text, original, notes = _parse_text(raw[start + text_start : start + text_end + 1], path, where)
    # Supplemental TEXT (FCS 3.x): keywords there complete the primary TEXT.
    s_begin = _int_kw(text, "$BEGINSTEXT", 0, path)
    s_end = _int_kw(text, "$ENDSTEXT", 0, path)
    if s_begin and s_end > s_begin and start + s_end < len(raw):
        try:
            segment = raw[start + s_begin : start + s_end + 1]
            more, more_orig, _ = _parse_text(segment, path, "supplemental TEXT")
        except FCSError:
            more, more_orig = {}, {}
        for k, v in more.items():
            text.setdefault(k, v)
            original.setdefault(k, more_orig[k])
    nextdata = _int_kw(text, "$NEXTDATA", 0, path)
    return _DataSet(
        start, version, text_start, text_end, h_data, text, original, nextdata, tuple(notes)
    )


def _int_kw(text: Mapping[str, str], key: str, default: int, path: str) -> int:
    """An integer keyword (byte offsets): ``default`` when absent or blank; FCSError when
    the value is not a whole number."""
    value = text.get(key)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value.strip())
    except ValueError:
        what = f"{key} is {value.strip()!r}, not a whole number"
        raise FCSError(path, what, f"keyword {key}") from None


def _data_sets(raw: bytes, path: str) -> list[_DataSet]:
    """All data sets chained by ``$NEXTDATA`` (loop-safe)."""
    sets = [_read_data_set(raw, 0, path)]
    seen = {0}
    while sets[-1].nextdata:
        nxt = sets[-1].start + sets[-1].nextdata
        if nxt in seen or nxt < 0 or nxt >= len(raw):
            raise FCSError(
                path,
                f"$NEXTDATA points to byte {nxt}, outside the file or back to a data set "
                "already read",
                f"data set {len(sets) - 1} keyword $NEXTDATA",
            )
        seen.add(nxt)
        sets.append(_read_data_set(raw, nxt, path))
    return sets


def _load(path: str | Path) -> tuple[str, bytes]:
    """The file's name and bytes (a regular file of at most :data:`FCS_MAX_BYTES`)."""
    return str(path), read_user_file(path, error=FCSError, max_bytes=FCS_MAX_BYTES)


def read_text(path: str | Path, dataset: int = 0) -> dict[str, str]:
    """All TEXT keywords of one data set, as written (keys stripped). For tests and audits:
    the result contains identifying keywords; never write it into results."""
    name, raw = _load(path)
    sets = _data_sets(raw, name)
    ds = sets[_pick(sets, dataset, name)]
    return {ds.original_keys[k].strip(): v for k, v in ds.text.items()}


# --------------------------------------------------------------------------- DATA


@dataclass(frozen=True)
class _Layout:
    par: int
    tot: int
    datatype: str
    order: str
    bits: tuple[int, ...]
    ranges: tuple[float, ...]
    range_ints: tuple[int, ...]
    decades: tuple[float, ...]
    log_zero: tuple[float, ...]
    gains: tuple[float, ...]
    names: tuple[str, ...]
    stains: tuple[str, ...]


def _layout(ds: _DataSet, path: str) -> _Layout:
    t = ds.text

    def need(key: str) -> str:
        if key not in t or t[key].strip() == "":
            raise FCSError(path, "required keyword is missing or empty", f"keyword {key}")
        return t[key].strip()

    def as_int(key: str) -> int:
        value = need(key)
        try:
            return int(value)
        except ValueError:
            try:
                f = float(value)
            except ValueError:
                f = float("nan")
            if f.is_integer():
                return int(f)
            raise FCSError(path, f"value {value!r} is not an integer", f"keyword {key}") from None

    mode = t.get("$MODE", "L").strip().upper()
    if mode != "L":
        raise FCSError(
            path,
            f"$MODE {mode!r} (histogram data) is not supported; list mode (L) is read",
            "keyword $MODE",
        )
    par = as_int("$PAR")
    tot = as_int("$TOT")
    if par < 1:
        raise FCSError(path, f"$PAR is {par}: no parameters", "keyword $PAR")
    if tot < 0:
        raise FCSError(path, f"$TOT is {tot}", "keyword $TOT")
    if tot == 0:
        raise FCSError(path, "the file holds zero events ($TOT 0)", "keyword $TOT")
    datatype = need("$DATATYPE").upper()
    byteord = need("$BYTEORD").replace(" ", "")
    if byteord in ("1,2,3,4", "1,2", "1", "1,2,3,4,5,6,7,8"):
        order = "<"
    elif byteord in ("4,3,2,1", "2,1", "8,7,6,5,4,3,2,1"):
        order = ">"
    else:
        raise FCSError(
            path,
            f"byte order {byteord!r} is not supported (little or big endian only)",
            "keyword $BYTEORD",
        )
    bits, ranges, range_ints, decades, log_zero, gains, names, stains = ([] for _ in range(8))
    for i in range(1, par + 1):
        b_text = need(f"$P{i}B")
        if not b_text.isdigit():
            raise FCSError(
                path,
                f"$P{i}B is {b_text!r}: variable or packed widths are not supported",
                f"keyword $P{i}B",
            )
        b = int(b_text)
        if datatype == "I" and b not in (8, 16, 24, 32):
            what = "are not byte-aligned" if b % 8 else "are not supported"
            raise FCSError(
                path,
                f"{b}-bit integers (channel {i}) {what}: only 8, 16, 24 (byte-aligned) and "
                "32-bit integer data can be read without guessing the bit packing",
                f"keyword $P{i}B",
            )
        if datatype == "F" and b != 32:
            raise FCSError(path, f"float data with $P{i}B {b} (expected 32)", f"keyword $P{i}B")
        if datatype == "D" and b != 64:
            raise FCSError(path, f"double data with $P{i}B {b} (expected 64)", f"keyword $P{i}B")
        bits.append(b)
        r_text = need(f"$P{i}R")
        try:
            r = float(r_text)
        except ValueError:
            raise FCSError(path, f"$P{i}R {r_text!r} is not a number", f"keyword $P{i}R") from None
        if not (np.isfinite(r) and r > 0):
            raise FCSError(path, f"$P{i}R {r_text!r} is not a positive range", f"keyword $P{i}R")
        ranges.append(r)
        range_ints.append(int(np.ceil(r)))
        e_text = t.get(f"$P{i}E", "0,0").strip() or "0,0"
        try:
            f1, f2 = (float(x) for x in e_text.split(","))
        except ValueError:
            raise FCSError(path, f"$P{i}E {e_text!r} is not 'f1,f2'", f"keyword $P{i}E") from None
        if not (np.isfinite(f1) and np.isfinite(f2) and f1 >= 0 and f2 >= 0):
            raise FCSError(
                path, f"$P{i}E {e_text!r}: decades and offset must be >= 0", f"keyword $P{i}E"
            )
        decades.append(f1)
        log_zero.append(f2)
        g_text = t.get(f"$P{i}G", "").strip()
        try:
            gains.append(float(g_text) if g_text else 1.0)
        except ValueError:
            raise FCSError(path, f"$P{i}G {g_text!r} is not a number", f"keyword $P{i}G") from None
        names.append(need(f"$P{i}N"))
        stains.append(t.get(f"$P{i}S", "").strip())
    if datatype not in ("I", "F", "D"):
        what = "ASCII data" if datatype == "A" else f"$DATATYPE {datatype!r}"
        raise FCSError(path, f"{what} is not supported (I, F and D are read)", "keyword $DATATYPE")
    return _Layout(
        par, tot, datatype, order, tuple(bits), tuple(ranges), tuple(range_ints),
        tuple(decades), tuple(log_zero), tuple(gains), tuple(names), tuple(stains),
    )  # fmt: skip


def _alignment_hint(layout: _Layout, length: int) -> str:
    """For 24-bit integer data whose DATA length does not fit 3 bytes per value: say they
    are not byte-aligned (e.g. packed in 32-bit words), which is not read."""
    if layout.datatype != "I" or 24 not in layout.bits:
        return ""
    per_value = length / (layout.tot * layout.par)
    return (
        f"; 24-bit integers are read only byte-aligned (3 bytes each: DATA = $TOT x $PAR x 3 "
        f"= {layout.tot * layout.par * 3} bytes), this segment has {per_value:.3g} bytes per "
        "value: not byte-aligned"
    )


def _data_offsets(ds: _DataSet, layout: _Layout, raw_len: int, end_of_set: int, path: str):
    """Choose the DATA segment by the field-notes rule; return (start, notes) absolute."""
    need = layout.tot * sum(layout.bits) // 8
    text_end = ds.start + ds.text_end
    candidates: dict[str, tuple[int, int]] = {}
    if ds.header_data != (0, 0):
        candidates["HEADER"] = (ds.start + ds.header_data[0], ds.start + ds.header_data[1])
    if "$BEGINDATA" in ds.text and "$ENDDATA" in ds.text:
        b, e = _int_kw(ds.text, "$BEGINDATA", 0, path), _int_kw(ds.text, "$ENDDATA", 0, path)
        if (b, e) != (0, 0):
            candidates["TEXT"] = (ds.start + b, ds.start + e)
    if not candidates:
        raise FCSError(path, "no DATA offsets in HEADER nor in TEXT ($BEGINDATA)", "HEADER")

    def fits(seg: tuple[int, int]) -> bool:
        b, e = seg
        return (
            b >= ds.start + _HEADER_LEN
            and (b > text_end or b + need - 1 < ds.start + ds.text_start)
            and b + need <= min(raw_len, end_of_set)
            and e - b + 1 in (need, need + 1)
        )

    notes: list[str] = []
    unique = set(candidates.values())
    if len(unique) == 1:
        (seg,) = unique
        if not fits(seg):
            b, e = seg
            per_event = sum(layout.bits) // 8
            if b + need > raw_len and e < raw_len:
                # the declared segment is inside the file: the file is whole, the TEXT lies
                held = (e - b + 1) / per_event
                declares = "declares" if len(candidates) == 1 else "declare"
                raise FCSError(
                    path,
                    f"the file is whole, its TEXT lies: DATA needs {need} bytes ($TOT "
                    f"{layout.tot} x {per_event} bytes per event) from byte {b}, but the DATA "
                    f"segment that {' and '.join(candidates)} {declares} ({b}-{e}: "
                    f"{e - b + 1} bytes, {held:g} events) ends inside the file ({raw_len} "
                    "bytes): $TOT, $PAR, a $PnB or the DATA offsets are wrong"
                    + _alignment_hint(layout, e - b + 1),
                    "DATA",
                )
            if b + need > raw_len:
                raise FCSError(
                    path,
                    f"file is truncated: DATA needs {need} bytes ($TOT {layout.tot} x "
                    f"{per_event} bytes per event) from byte {b}, the file has "
                    f"{raw_len} bytes",
                    "DATA",
                )
            raise FCSError(
                path,
                f"DATA segment {b}-{e} ({e - b + 1} bytes) does not hold $TOT x sum($PnB)/8 = "
                f"{need} bytes" + _alignment_hint(layout, e - b + 1),
                f"DATA offsets ({' and '.join(candidates)})",
            )
        chosen = seg
    else:
        good = {name: seg for name, seg in candidates.items() if fits(seg) and seg[0] > text_end}
        if len(good) == 2:
            at_end = {n: s for n, s in good.items() if s[0] == text_end + 1}
            if len(at_end) != 1:
                raise FCSError(
                    path,
                    f"HEADER ({candidates['HEADER'][0]}-{candidates['HEADER'][1]}) and TEXT "
                    f"({candidates['TEXT'][0]}-{candidates['TEXT'][1]}) DATA offsets disagree "
                    "and both fit; neither starts right after TEXT: refused",
                    "DATA offsets",
                )
            good = at_end
        if not good:
            raise FCSError(
                path,
                f"HEADER ({candidates['HEADER'][0]}-{candidates['HEADER'][1]}) and TEXT "
                f"({candidates['TEXT'][0]}-{candidates['TEXT'][1]}) DATA offsets disagree and "
                f"neither holds $TOT x sum($PnB)/8 = {need} bytes after the TEXT segment: refused",
                "DATA offsets",
            )
        (name, chosen), *_ = good.items()
        other = "TEXT" if name == "HEADER" else "HEADER"
        notes.append(
            f"DATA offsets of HEADER and TEXT disagree; {name} {chosen[0]}-{chosen[1]} fits, "
            f"{other} {candidates[other][0]}-{candidates[other][1]} does not"
        )
    if chosen[1] - chosen[0] + 1 == need + 1:
        notes.append("$ENDDATA one byte past the DATA segment (off by one); $TOT events read")
    return chosen[0], need, notes


def _clean_stream(
    raw: bytes, start: int, need: int, layout: _Layout, extra: Sequence[tuple[str, str]] = ()
) -> io.BytesIO:
    """A clean single-data-set FCS 3.0 copy in memory: our DATA offsets in HEADER and TEXT,
    only the keywords needed to decode (plus ``extra``), no identifying keyword."""
    pairs = [
        ("$BYTEORD", "1,2,3,4" if layout.order == "<" else "4,3,2,1"),
        ("$DATATYPE", layout.datatype),
        ("$MODE", "L"),
        ("$NEXTDATA", "0"),
        ("$PAR", str(layout.par)),
        ("$TOT", str(layout.tot)),
    ]
    for i in range(layout.par):
        pairs += [
            (f"$P{i + 1}N", f"c{i + 1}"),
            (f"$P{i + 1}B", str(layout.bits[i])),
            (f"$P{i + 1}R", str(layout.range_ints[i])),
            (f"$P{i + 1}E", "0,0"),
        ]
    if extra:
        replaced = {k for k, _ in extra}
        pairs = [(k, v) for k, v in pairs if k not in replaced] + list(extra)
    used = "".join(k + v for k, v in pairs)
    delim = next(d for d in ("/", "|", "\x1e", "\x1f", "\x1d") if d not in used)

    def text_for(b: int, e: int) -> bytes:
        items = [("$BEGINDATA", str(b)), ("$ENDDATA", str(e)), *pairs]
        body = delim.join(f"{k}{delim}{v}" for k, v in items)
        return f"{delim}{body}{delim}".encode()

    begin = end = 0
    for _ in range(5):
        text = text_for(begin, end)
        new_begin = _HEADER_LEN + len(text)
        new_end = new_begin + need - 1
        if (new_begin, new_end) == (begin, end):
            break
        begin, end = new_begin, new_end
    h_end = end if end <= 99_999_999 else 0
    h_begin = begin if h_end else 0
    header = (
        "FCS3.0    " + "".join(f"{v:>8d}" for v in (_HEADER_LEN, begin - 1, h_begin, h_end, 0, 0))
    ).encode("ascii")
    return io.BytesIO(header + text + raw[start : start + need])


def _integer_columns(raw: bytes, start: int, layout: _Layout, order: str) -> list[np.ndarray]:
    """Unsigned integer DATA as one array per channel, read in byte order ``order``.

    Widths of 8, 16 and 32 bits are numpy fields; 24-bit values (byte-aligned: 3 bytes
    each, no padding) are assembled from their bytes into uint32.
    """
    if 24 not in layout.bits:
        dtype = np.dtype([(f"c{i}", f"{order}u{b // 8}") for i, b in enumerate(layout.bits)])
        events = np.frombuffer(raw, dtype=dtype, count=layout.tot, offset=start)
        return [events[f"c{i}"] for i in range(layout.par)]
    width = sum(layout.bits) // 8
    rows = np.frombuffer(raw, dtype=np.uint8, count=layout.tot * width, offset=start)
    rows = rows.reshape(layout.tot, width)
    columns, offset = [], 0
    for bits in layout.bits:
        n = bits // 8
        cells = rows[:, offset : offset + n].astype(np.uint32)
        if order == ">":
            cells = cells[:, ::-1]  # most significant byte first in the file
        value = np.zeros(layout.tot, dtype=np.uint32)
        for k in range(n):
            value |= cells[:, k] << np.uint32(8 * k)
        columns.append(value)
        offset += n
    return columns


def _decode_byte_aligned(raw: bytes, start: int, layout: _Layout) -> np.ndarray:
    """Integer DATA with 24-bit channels (which flowio does not read) as n x p float64,
    flag bits above ``$PnR`` (rounded up to a power of two) masked, as flowio does."""
    out = np.empty((layout.tot, layout.par), dtype=np.float64)
    columns = _integer_columns(raw, start, layout, layout.order)
    for i, (column, bits, r) in enumerate(
        zip(columns, layout.bits, layout.range_ints, strict=True)
    ):
        shift = min(max(int(r) - 1, 0).bit_length(), bits)
        out[:, i] = column & np.uint32((1 << shift) - 1) if shift < 32 else column
    return out


def _check_int_byte_order(raw: bytes, start: int, layout: _Layout, path: str) -> None:
    """Refuse integer DATA whose values fit ``$PnR`` only in the other byte order.

    flowio masks integer values at ``$PnR`` rounded up to a power of two; bits above it are
    flag bits (field notes). Files read in the right byte order have no value above that
    bound, or flag bits in some events (the Beckman ``.LMD`` data set 2 has them in most);
    read in the wrong order, most values land above it. So: many values above the bound in
    the declared order and none in the other order means ``$BYTEORD`` is wrong. Flag bits
    set in the right order leave values above the bound in both orders, and are kept.
    A lie that leaves values above the bound in both orders (``$DATATYPE`` I for float
    data, random DATA) cannot be told from flag bits and is not detected here.
    """
    if max(layout.bits) <= 8:
        return  # single bytes: no byte order

    def n_over(order: str) -> int:
        count = 0
        columns = _integer_columns(raw, start, layout, order)
        for column, bits, r in zip(columns, layout.bits, layout.range_ints, strict=True):
            shift = min(max(int(r) - 1, 0).bit_length(), bits)  # bound = 2**shift
            count += int(np.count_nonzero(column >> np.uint64(shift)))
        return count

    declared = n_over(layout.order)
    total = layout.tot * layout.par
    if declared < max(1, total // 100):
        return
    other = ">" if layout.order == "<" else "<"
    if n_over(other) == 0:
        said = "little" if layout.order == "<" else "big"
        fits = "big" if said == "little" else "little"
        raise FCSError(
            path,
            f"{declared} of {total} integer values exceed $PnR when read {said}-endian as "
            f"$BYTEORD says, none when read {fits}-endian: $BYTEORD is wrong",
            "keyword $BYTEORD",
        )


def _flowio_decode(raw: bytes, start: int, need: int, layout: _Layout, path: str) -> np.ndarray:
    """Decode DATA; return n x p float64. Integer data (bit masks of ``$PnR``) through
    flowio from a clean in-memory data set; float data as a numpy view of the segment,
    copied once (flowio's copies would hold four times the DATA size at the peak: 1 GB for
    a 5 M-event, 8-channel file instead of 0.5)."""
    import warnings

    import flowio

    if layout.datatype == "I":
        _check_int_byte_order(raw, start, layout, path)
        if 24 in layout.bits:
            return _decode_byte_aligned(raw, start, layout)
    if layout.datatype in ("F", "D"):
        dtype = np.dtype(f"{layout.order}f{4 if layout.datatype == 'F' else 8}")
        view = np.frombuffer(raw, dtype=dtype, count=layout.tot * layout.par, offset=start)
        with np.errstate(invalid="ignore"):  # NaN patterns of a wrong byte order: refused below
            out = view.reshape(layout.tot, layout.par).astype(np.float64)
    else:
        stream = _clean_stream(raw, start, need, layout)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                flow = flowio.FlowData(stream)
                if flow.events is None:
                    raise FCSError(path, "flowio could not decode the DATA segment", "DATA")
                out = flow.as_array(preprocess=False)
        except FCSError:
            raise
        except Exception as err:  # flowio raises plain exceptions; name the file
            raise FCSError(path, f"flowio could not decode DATA: {err}", "DATA") from None
        del stream, flow
    if layout.datatype in ("F", "D"):
        # A float segment read with the wrong byte order (or corrupt) gives NaN/inf, absurd
        # magnitudes, or (for integer-valued floats) denormal-sized ones like 1e-39; real
        # instruments stay within a few hundred times $PnR and never write |x| < 1e-30.
        limit = 1e6 * max(max(layout.ranges), 1.0)
        # fast screen (two reductions, and the tiny-value test on a strided sample: a wrong
        # byte order makes most values tiny); the exact count only when something is off
        low, high = float(out.min()), float(out.max())
        sample = np.abs(out.ravel()[::61])
        suspicious = not (math.isfinite(low) and math.isfinite(high))
        suspicious = suspicious or max(-low, high) > limit
        suspicious = suspicious or bool(((sample > 0) & (sample < 1e-30)).any())
        bad = 0
        if suspicious:
            finite = np.isfinite(out)
            size = np.abs(np.where(finite, out, 0))
            bad = int((~finite).sum() + (size > limit).sum() + ((size > 0) & (size < 1e-30)).sum())
        if bad:
            raise FCSError(
                path,
                f"{bad} float value(s) are NaN, infinite, beyond 10^6 x $PnR or below 1e-30: "
                "wrong $BYTEORD or corrupt DATA",
                "DATA",
            )
    if out.shape != (layout.tot, layout.par):
        raise FCSError(
            path,
            f"decoded {out.shape[0]} x {out.shape[1]} values, expected {layout.tot} x {layout.par}",
            "DATA",
        )
    return out


def _check_finite(values: np.ndarray, layout: _Layout, path: str) -> None:
    """Scale values must be finite numbers (a log amplification of absurd decades, a gain
    of NaN ... would otherwise pass as inf/NaN events)."""
    bad = ~np.isfinite(values)
    if bad.any():
        column = int(np.flatnonzero(bad.any(axis=0))[0])
        n = column + 1
        raise FCSError(
            path,
            f"{int(bad.sum())} scale value(s) are NaN or infinite (first in channel "
            f"{layout.names[column]!r}): check $P{n}E, $P{n}G and $P{n}R",
            f"keyword $P{n}E/$P{n}G",
        )


def _scale(values: np.ndarray, layout: _Layout, text: Mapping[str, str]) -> tuple[np.ndarray, list]:
    """Channel values -> scale values (see module docstring); in place, returns notes."""
    notes = []
    timestep = 1.0
    ts_text = text.get("$TIMESTEP", "").strip()
    if ts_text:
        try:
            timestep = float(ts_text)
        except ValueError:
            timestep = float("nan")
        if not (np.isfinite(timestep) and timestep > 0):
            notes.append(f"$TIMESTEP {ts_text!r} is not a positive number; time left unscaled")
            timestep = 1.0
    for i in range(layout.par):
        col = values[:, i]
        is_time = layout.names[i].strip().lower() == "time"
        if layout.decades[i] > 0:
            if layout.datatype != "I":
                notes.append(f"$P{i + 1}E log on float data ignored (the standard says 0,0)")
            else:
                zero = layout.log_zero[i] if layout.log_zero[i] > 0 else 1.0
                with np.errstate(over="ignore"):  # inf is refused by _check_finite
                    values[:, i] = zero * 10.0 ** (layout.decades[i] * col / layout.ranges[i])
                continue
        if is_time:
            if timestep != 1.0:
                values[:, i] = col * timestep
        elif layout.gains[i] not in (0.0, 1.0):
            values[:, i] = col / layout.gains[i]
    return values, notes


# --------------------------------------------------------------------------- compensation


def parse_spillover(value: str, channels: Sequence[str], path: str = "", keyword: str = "SPILL"):
    """Parse a spillover keyword value: ``n, name_1..name_n, s_11 .. s_nn`` (row-major).

    Names are matched to ``channels`` (``$PnN``, exact then case-insensitive) or read as
    1-based parameter numbers. Returns (channel indices, n x n matrix) with rows/columns in
    the order the matrix lists them.
    """
    parts = [p.strip() for p in value.replace("\n", "").split(",")]
    try:
        n = int(float(parts[0]))
    except (ValueError, IndexError, OverflowError):
        raise FCSError(path, f"{keyword} does not start with a channel count", keyword) from None
    if n < 1 or len(parts) != 1 + n + n * n:
        raise FCSError(
            path,
            f"{keyword} declares {n} channels but holds {len(parts) - 1} items after the count "
            f"(expected {n} names + {n * n} values)",
            keyword,
        )
    names = parts[1 : n + 1]
    lower = [c.strip().lower() for c in channels]
    indices = []
    for name in names:
        if name in channels:
            indices.append(list(channels).index(name))
        elif name.lower() in lower:
            indices.append(lower.index(name.lower()))
        elif name.isdigit() and 1 <= int(name) <= len(channels):
            indices.append(int(name) - 1)
        else:
            raise FCSError(path, f"{keyword} names channel {name!r}, which is not a $PnN", keyword)
    if len(set(indices)) != n:
        raise FCSError(path, f"{keyword} names a channel twice", keyword)
    try:
        matrix = np.array([float(v) for v in parts[n + 1 :]], dtype=float).reshape(n, n)
    except ValueError:
        raise FCSError(path, f"{keyword} holds a value that is not a number", keyword) from None
    if not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix)) < 1e-12:
        raise FCSError(path, f"{keyword} is singular or not finite: cannot compensate", keyword)
    return indices, matrix


#: what a sheet can say instead of a matrix file: the file's own matrix, or no compensation
COMPENSATION_CHOICES = ("", "file", "none")

#: the way out named in every refusal of a file's matrix
_WAY_OUT = (
    "; to read this file, set its patient's `compensation` in samples.tsv to `none` (no "
    "compensation) or to a spillover matrix file"
)


def read_spillover_table(path: str | Path) -> tuple[list[str], np.ndarray]:
    """A spillover matrix given by a person, as (channel names, n x n values).

    Either the FCS keyword form on one line (``n,name_1..name_n,s_11..s_nn``) or a table
    (tab, comma or semicolon separated): a header of the n channel names (``$PnN``), then
    n rows of n numbers, each optionally led by its channel name (as FlowJo writes it).
    Rows are the spilling channels, as in ``$SPILLOVER``. Raises :class:`FCSError` naming
    the matrix file, the line and what is wrong.
    """
    name = str(path)
    data = read_user_file(
        path, error=FCSError, max_bytes=TABLE_MAX_BYTES, kind="spillover matrix file"
    )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FCSError(name, f"spillover matrix cannot be read ({err})") from None
    lines = [(i, ln.strip()) for i, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    if not lines:
        raise FCSError(name, "spillover matrix file is empty")
    if len(lines) == 1:  # the keyword form
        parts = [x.strip() for x in lines[0][1].split(",")]
        try:
            n = int(parts[0])
        except ValueError:
            raise FCSError(name, "one line, but not 'n,names...,values...'", "line 1") from None
        if n < 1 or len(parts) != 1 + n + n * n:
            raise FCSError(
                name, f"declares {n} channels but holds {len(parts) - 1} items", "line 1"
            )
        names, cells = parts[1 : n + 1], parts[n + 1 :]
        rows = [(1, cells[k * n : (k + 1) * n]) for k in range(n)]
    else:
        first = lines[0][1]
        sep = max(("\t", ",", ";"), key=first.count)
        names = [x.strip().strip('"') for x in first.split(sep)]
        names = names[1:] if names and names[0] == "" else names
        n = len(names)
        rows = []
        for number, line in lines[1:]:
            fields = [x.strip().strip('"') for x in line.split(sep)]
            if len(fields) == n + 1:
                fields = fields[1:]  # a leading row name
            if len(fields) != n:
                raise FCSError(
                    name, f"{len(fields)} values where the header names {n} channels",
                    f"line {number}",
                )  # fmt: skip
            rows.append((number, fields))
        if len(rows) != n:
            raise FCSError(name, f"{len(rows)} rows for {n} channels: not a square matrix")
    values = np.empty((n, n))
    for k, (number, fields) in enumerate(rows):
        try:
            values[k] = [float(x) for x in fields]
        except ValueError:
            raise FCSError(name, "a value is not a number", f"line {number}") from None
    if len(set(names)) != n or not all(names):
        raise FCSError(name, "the channel names are empty or repeated", "line 1")
    if not np.all(np.isfinite(values)) or abs(np.linalg.det(values)) < 1e-12:
        raise FCSError(name, "the matrix is singular or not finite: cannot compensate")
    return names, values


def _sheet_matrix(path: str | Path, channels: Sequence[str], fcs_path: str):
    """A matrix file's (indices, matrix) for one FCS file's channels."""
    names, values = read_spillover_table(path)
    indices = []
    for name in names:
        if name not in channels:
            raise FCSError(
                str(path),
                f"names channel {name!r}, which {fcs_path} does not have (its channels: "
                f"{', '.join(channels)})",
                "line 1",
            )
        indices.append(list(channels).index(name))
    return indices, values


def _compensate(events: np.ndarray, indices: list[int], matrix: np.ndarray) -> np.ndarray:
    """flowutils' compensation on the matrix channels, matrix reordered to file order
    (exactly what FlowKit does for ``compensation-ref="FCS"``)."""
    from flowutils.compensate import compensate

    order = np.argsort(indices, kind="stable")
    ordered = matrix[np.ix_(order, order)]
    return compensate(events, ordered, [indices[i] for i in order])


# --------------------------------------------------------------------------- public reader


@dataclass(frozen=True)
class _Selection:
    """One data set chosen from a file: its layout and DATA segment (absolute offsets)."""

    name: str
    index: int
    n_sets: int
    ds: _DataSet
    layout: _Layout
    start: int
    need: int
    notes: tuple[str, ...]


def _pick(sets: Sequence[_DataSet], dataset: int | None, name: str) -> int:
    """The index of the data set asked for (``None``: the only one; several -> refused)."""
    if dataset is None:
        if len(sets) > 1:
            raise FCSError(
                name,
                f"the file holds {len(sets)} data sets ($NEXTDATA); choose one explicitly "
                f"(dataset=0..{len(sets) - 1})",
                "keyword $NEXTDATA",
            )
        dataset = 0
    if not 0 <= dataset < len(sets):
        raise FCSError(name, f"data set {dataset} requested but the file holds {len(sets)}")
    return dataset


def _select(path: str | Path, dataset: int | None) -> tuple[bytes, _Selection]:
    """The file's bytes and data set ``dataset`` of it (``None``: the only one, refusing a
    file with several)."""
    name, raw = _load(path)
    sets = _data_sets(raw, name)
    dataset = _pick(sets, dataset, name)
    ds = sets[dataset]
    end_of_set = sets[dataset + 1].start if dataset + 1 < len(sets) else len(raw)
    layout = _layout(ds, name)
    start, need, notes = _data_offsets(ds, layout, len(raw), end_of_set, name)
    return raw, _Selection(name, dataset, len(sets), ds, layout, start, need, tuple(notes))


def read_fcs(
    path: str | Path,
    *,
    dataset: int | None = None,
    compensation: str | Path | None = None,
) -> FCSData:
    """Read one data set of an FCS file into scale values, compensated where a matrix exists.

    ``dataset``: index of the data set (0-based) for files with several (``$NEXTDATA``);
    ``None`` accepts only single-data-set files.
    ``compensation`` is the sheet's choice: ``None``/``""``/``"file"`` the file's own matrix,
    ``"none"`` no compensation, anything else the path of a matrix file
    (:func:`read_spillover_table`) applied instead of the file's. :attr:`FCSData.compensation`
    records it: ``file``, ``none`` (the file has no matrix), ``off`` (turned off although the
    file has one) or ``matrix`` (the sheet's matrix).
    Raises :class:`FCSError` for anything that cannot be read exactly.
    """
    raw, sel = _select(path, dataset)
    name, ds, layout, start, need = sel.name, sel.ds, sel.layout, sel.start, sel.need
    values = _flowio_decode(raw, start, need, layout, name)
    del raw  # the file's bytes are not needed any more: free them before compensating
    values, scale_notes = _scale(values, layout, ds.text)
    _check_finite(values, layout, name)

    spill_key = next((k for k in _SPILL_KEYS if ds.text.get(k, "").strip()), None)
    spill_idx: list[int] = []
    spill_matrix = None
    events = values
    choice = str(compensation or "").strip()
    if choice and choice.lower() not in COMPENSATION_CHOICES:
        spill_idx, spill_matrix = _sheet_matrix(choice, layout.names, name)
        events = _compensate(values, spill_idx, spill_matrix)
        compensation = "matrix"
    elif spill_key is not None and choice.lower() != "none":
        try:
            spill_idx, spill_matrix = parse_spillover(
                ds.text[spill_key], layout.names, name, spill_key
            )
        except FCSError as err:
            raise FCSError(name, err.what + _WAY_OUT, err.where) from None
        events = _compensate(values, spill_idx, spill_matrix)
        compensation = "file"
    else:
        compensation = "off" if spill_key is not None else "none"
    text_for_meta = {ds.original_keys[k]: v for k, v in ds.text.items()}
    return FCSData(
        path=name,
        version=ds.version,
        dataset=sel.index,
        n_datasets=sel.n_sets,
        n_events=layout.tot,
        channels=layout.names,
        stains=layout.stains,
        ranges=layout.ranges,
        log_decades=layout.decades,
        log_zero=layout.log_zero,
        datatype=layout.datatype,
        byteorder="little" if layout.order == "<" else "big",
        events=events,
        uncompensated=values,
        compensation=compensation,
        spill_keyword=spill_key if compensation == "file" else None,
        spill_channels=tuple(layout.names[i] for i in spill_idx),
        spill_matrix=spill_matrix,
        data_offsets=(start, start + need - 1),
        metadata=safe_metadata(text_for_meta),
        notes=tuple(ds.notes) + tuple(sel.notes) + tuple(scale_notes),
    )


def flowio_view(path: str | Path, *, dataset: int | None = None, spillover: str | None = None):
    """A ``flowio.FlowData`` of one data set, built from our validated clean copy.

    It carries the channel keywords (``$PnN``, ``$PnS``, ``$PnR``, ``$PnE``, ``$PnG``), the
    ``$TIMESTEP`` and the spillover matrix, nothing identifying; FlowKit accepts it as
    ``flowkit.Sample(view)``. For files flowio reads by itself the values are the same.
    ``spillover``: None keeps the file's own matrix; otherwise the ``$SPILLOVER`` text to
    carry instead (``""`` = none), so FlowKit compensates as the sheet chose.
    """
    import flowio

    raw, sel = _select(path, dataset)
    ds, layout, start, need = sel.ds, sel.layout, sel.start, sel.need
    extra: list[tuple[str, str]] = []
    for i in range(layout.par):
        n = i + 1
        extra.append((f"$P{n}N", layout.names[i]))
        if layout.stains[i]:
            extra.append((f"$P{n}S", layout.stains[i]))
        e_text = ds.text.get(f"$P{n}E", "0,0").strip() or "0,0"
        extra.append((f"$P{n}E", e_text))
        if ds.text.get(f"$P{n}G", "").strip():
            extra.append((f"$P{n}G", ds.text[f"$P{n}G"].strip()))
    if ds.text.get("$TIMESTEP", "").strip():
        extra.append(("$TIMESTEP", ds.text["$TIMESTEP"].strip()))
    spill_key = next((k for k in _SPILL_KEYS if ds.text.get(k, "").strip()), None)
    if spillover is None and spill_key:
        spillover = ds.text[spill_key].strip()
    if spillover:
        extra.append(("$SPILLOVER", spillover))
    try:
        return flowio.FlowData(_clean_stream(raw, start, need, layout, extra))
    except Exception as err:  # flowio has no error type of its own
        raise FCSError(
            str(path), f"FlowKit's reader (flowio) cannot take this file: {err}"
        ) from None


def spillover_text(fcs: FCSData) -> str | None:
    """The ``$SPILLOVER`` keyword text of the matrix ``fcs`` was compensated with: None for
    the file's own (``file``), ``""`` when none was applied (``none``, ``off``), the sheet's
    matrix written out (``matrix``)."""
    if fcs.compensation == "file":
        return None
    if fcs.compensation != "matrix" or fcs.spill_matrix is None:
        return ""
    values = [repr(float(v)) for v in np.asarray(fcs.spill_matrix).ravel()]
    return ",".join([str(len(fcs.spill_channels)), *fcs.spill_channels, *values])


# --------------------------------------------------------------------------- markers

_TOKEN = re.compile(r"[\s_/:;,()\[\]-]+")


def find_marker(fcs: FCSData, marker: str, aliases: Sequence[str] = ()) -> str | None:
    """The ``$PnN`` of the channel carrying ``marker``, or None.

    Looked up through ``$PnS`` first (the stain as typed: equal to the marker or holding it
    as a word, e.g. "CD34 PE"), then ``$PnN`` equal to the marker, then the aliases in order
    (``$PnN`` or ``$PnS`` equal to the alias, case-insensitive).
    """
    want = marker.strip().lower()
    for name, stain in zip(fcs.channels, fcs.stains, strict=True):
        s = stain.strip().lower()
        if s and (s == want or want in _TOKEN.split(s)):
            return name
    for name in fcs.channels:
        if name.strip().lower() == want:
            return name
    for alias in aliases:
        a = alias.strip().lower()
        for name, stain in zip(fcs.channels, fcs.stains, strict=True):
            if name.strip().lower() == a or (stain and stain.strip().lower() == a):
                return name
    return None


def resolve_markers(fcs: FCSData, markers: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Marker -> ``$PnN`` for every configured marker; FCSError naming the missing ones."""
    found = {m: find_marker(fcs, m, aliases) for m, aliases in markers.items()}
    missing = sorted(m for m, ch in found.items() if ch is None)
    if missing:
        raise FCSError(
            fcs.path,
            f"no channel for marker(s) {', '.join(missing)} (looked in $PnS, $PnN and the "
            f"aliases of gating.markers); channels are {', '.join(fcs.channels)}",
            "$PnS/$PnN",
        )
    return {m: ch for m, ch in found.items() if ch is not None}
