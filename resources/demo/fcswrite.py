"""A small FCS writer of our own, for the demo cohort and for tests that craft odd files.

It writes list-mode FCS 2.0 / 3.0 / 3.1 data sets:

* float32/float64 (``$DATATYPE F``/``D``) or unsigned integers of 8, 16 or 32 bits
  (``$DATATYPE I``), little- or big-endian;
* ``$PnE`` (log amplification) and ``$PnG`` (gain) per channel, ``$PnS`` stains, any extra
  keywords (``$SPILLOVER``, identifying keywords such as ``$FIL`` for privacy tests).

For fuzz tests the same function can lie on purpose: HEADER and TEXT data offsets that
disagree, an ``$ENDDATA`` off by one, a declared byte order different from the one written,
blank HEADER offsets, raw DATA bytes supplied by the caller (24-bit integers, flag bits above
``$PnR``), several data sets chained through ``$NEXTDATA``. Truncating a file is left to
the caller (``data[:n]``).

The output is a pure function of the arguments: no clock, no host name, so the same
arguments give byte-identical files.

Integer data are written as given (channel numbers, 0 .. ``$PnR`` - 1); float data as
scale values. Events are an ``n x p`` array in channel order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Channel", "build_fcs", "chain_data_sets", "write_fcs"]

_HEADER_LEN = 58
_BIG_OFFSET = 99_999_999


@dataclass(frozen=True)
class Channel:
    """One parameter of an FCS data set.

    ``name`` is ``$PnN``; ``stain`` is ``$PnS`` (omitted when empty); ``bits`` is ``$PnB``;
    ``range`` is ``$PnR``; ``log_decades``/``log_zero`` are ``$PnE f1,f2`` (``0,0`` =
    linear); ``gain`` is ``$PnG`` (omitted when ``None``).
    """

    name: str
    stain: str = ""
    bits: int = 32
    range: float = 262144
    log_decades: float = 0.0
    log_zero: float = 0.0
    gain: float | None = None


def _fmt_number(value: float) -> str:
    """Keyword text for a number: integers without a decimal point, floats with repr."""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _escape(text: str, delimiter: str) -> str:
    """Double every delimiter inside a keyword or value (the FCS escape rule)."""
    return text.replace(delimiter, delimiter * 2)


def _dtype(datatype: str, bits: Sequence[int], order: str) -> np.dtype:
    """numpy structured dtype for one event (one field per channel)."""
    endian = "<" if order == "little" else ">"
    if datatype == "F":
        base = [f"{endian}f4"] * len(bits)
    elif datatype == "D":
        base = [f"{endian}f8"] * len(bits)
    elif datatype == "I":
        widths = {8: "u1", 16: "u2", 32: "u4"}
        try:
            base = [f"{endian}{widths[b]}" for b in bits]
        except KeyError as err:
            raise ValueError(
                f"integer width {err.args[0]} cannot be packed by numpy; pass data_bytes"
            ) from None
    else:
        raise ValueError(f"unsupported $DATATYPE {datatype!r}")
    return np.dtype([(f"c{i}", t) for i, t in enumerate(base)])


def _data_bytes(events: np.ndarray, datatype: str, bits: Sequence[int], order: str) -> bytes:
    """Pack events (n x p) into the DATA segment."""
    events = np.asarray(events)
    if events.ndim != 2 or events.shape[1] != len(bits):
        raise ValueError(f"events must be n x {len(bits)}, got shape {events.shape}")
    dtype = _dtype(datatype, bits, order)
    out = np.empty(events.shape[0], dtype=dtype)
    for i in range(events.shape[1]):
        column = events[:, i]
        if datatype == "I":
            limit = 2 ** bits[i] - 1
            column = np.clip(np.rint(column), 0, limit)
        out[f"c{i}"] = column
    return out.tobytes()


def _text_segment(pairs: Sequence[tuple[str, str]], delimiter: str) -> bytes:
    """Serialise keyword/value pairs: delimiter first and last, escapes doubled."""
    body = delimiter.join(
        f"{_escape(k, delimiter)}{delimiter}{_escape(v, delimiter)}" for k, v in pairs
    )
    return f"{delimiter}{body}{delimiter}".encode("latin-1")


def _header(version: str, offsets: Sequence[int]) -> bytes:
    """The fixed 58-byte HEADER: version, 4 spaces, six right-justified 8-digit offsets."""
    fields = []
    for value in offsets:
        if value > _BIG_OFFSET:
            value = 0
        fields.append(f"{value:>8d}")
    text = f"FCS{version}    " + "".join(fields)
    assert len(text) == _HEADER_LEN
    return text.encode("ascii")


def build_fcs(
    events: np.ndarray | None,
    channels: Sequence[Channel],
    keywords: Mapping[str, str] | None = None,
    *,
    version: str = "3.0",
    datatype: str = "F",
    byteorder: str = "little",
    declared_byteorder: str | None = None,
    delimiter: str = "/",
    text_start: int = _HEADER_LEN,
    data_align: int = 1,
    data_bytes: bytes | None = None,
    n_events: int | None = None,
    header_data_offsets: tuple[int, int] | None = None,
    text_data_offsets: tuple[int, int] | None = None,
    enddata_off_by_one: bool = False,
    blank_header_data: bool = False,
    nextdata: int = 0,
    text_offsets_in_fcs2: bool = False,
    byteord_text: str | None = None,
) -> bytes:
    """Return the bytes of one FCS data set.

    ``events`` (n x p) are packed with ``datatype``/``byteorder`` unless ``data_bytes`` is
    given (then ``n_events`` gives ``$TOT``). ``keywords`` are appended after the required
    ones in the given order (a key starting with ``$`` keeps it; others are written as is).

    Lies for fuzz tests: ``declared_byteorder`` (``$BYTEORD`` written differently from the
    data), ``header_data_offsets``/``text_data_offsets`` (replace the true DATA offsets in
    HEADER / TEXT), ``enddata_off_by_one`` (``$ENDDATA`` and the HEADER end one byte too far,
    the common off-by-one), ``blank_header_data`` (HEADER data offsets written as 0, as for
    files over 100 MB). ``nextdata`` is written as ``$NEXTDATA``; ``byteord_text`` replaces
    the ``$BYTEORD`` value (e.g. ``1,2`` as Beckman writes it for 16-bit data).
    """
    keywords = dict(keywords or {})
    bits = [c.bits for c in channels]
    if data_bytes is None:
        if events is None:
            raise ValueError("either events or data_bytes is required")
        payload = _data_bytes(events, datatype, bits, byteorder)
        total = int(np.asarray(events).shape[0])
    else:
        payload = bytes(data_bytes)
        if n_events is None:
            raise ValueError("n_events is required with data_bytes")
        total = int(n_events)
    if n_events is not None:
        total = int(n_events)

    order_word = declared_byteorder or byteorder
    byteord = byteord_text or ("1,2,3,4" if order_word == "little" else "4,3,2,1")

    def pairs_for(begin: int, end: int) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        if version != "2.0" or text_offsets_in_fcs2:
            if text_data_offsets is not None:
                tb, te = text_data_offsets
            else:
                tb, te = begin, end
            pairs += [
                ("$BEGINANALYSIS", "0"),
                ("$ENDANALYSIS", "0"),
                ("$BEGINSTEXT", "0"),
                ("$ENDSTEXT", "0"),
                ("$BEGINDATA", str(tb)),
                ("$ENDDATA", str(te)),
            ]
        pairs += [
            ("$BYTEORD", byteord),
            ("$DATATYPE", datatype),
            ("$MODE", "L"),
            ("$NEXTDATA", str(nextdata)),
            ("$PAR", str(len(channels))),
            ("$TOT", str(total)),
        ]
        for i, ch in enumerate(channels, start=1):
            pairs.append((f"$P{i}N", ch.name))
            if ch.stain:
                pairs.append((f"$P{i}S", ch.stain))
            pairs.append((f"$P{i}B", str(ch.bits)))
            pairs.append((f"$P{i}R", _fmt_number(ch.range)))
            pairs.append((f"$P{i}E", f"{_fmt_number(ch.log_decades)},{_fmt_number(ch.log_zero)}"))
            if ch.gain is not None:
                pairs.append((f"$P{i}G", _fmt_number(ch.gain)))
        pairs += list(keywords.items())
        return pairs

    # The TEXT segment holds its own DATA offsets, whose digits change its length:
    # iterate until the layout is stable (two or three rounds).
    begin = end = 0
    for _ in range(10):
        text = _text_segment(pairs_for(begin, end), delimiter)
        text_end = text_start + len(text) - 1
        new_begin = text_end + 1
        if data_align > 1:
            new_begin = -(-new_begin // data_align) * data_align
        new_end = new_begin + len(payload) - 1
        if enddata_off_by_one:
            new_end += 1
        if (new_begin, new_end) == (begin, end):
            break
        begin, end = new_begin, new_end
    else:  # pragma: no cover - the layout always converges
        raise RuntimeError("FCS TEXT layout did not converge")

    if header_data_offsets is not None:
        h_begin, h_end = header_data_offsets
    elif blank_header_data:
        h_begin, h_end = 0, 0
    else:
        h_begin, h_end = begin, end
    header = _header(version, [text_start, text_end, h_begin, h_end, 0, 0])
    gap1 = b" " * (text_start - _HEADER_LEN)
    gap2 = b" " * (begin - text_end - 1)
    return header + gap1 + text + gap2 + payload


def chain_data_sets(arguments: Sequence[Mapping]) -> bytes:
    """Build several data sets (each a dict of ``build_fcs`` keyword arguments) and chain them.

    ``$NEXTDATA`` of each data set but the last is the byte length of that data set (the
    offset of the next one relative to its own first byte, as FCS 2.0 defines it); the last
    one has ``$NEXTDATA 0``.
    """
    parts: list[bytes] = []
    for index, kwargs in enumerate(arguments):
        last = index == len(arguments) - 1
        nextdata = 0
        for _ in range(10):
            blob = build_fcs(**{**kwargs, "nextdata": nextdata})
            if last or nextdata == len(blob):
                break
            nextdata = len(blob)
        parts.append(blob)
    return b"".join(parts)


def write_fcs(path: str | Path, data: bytes) -> Path:
    """Write FCS bytes to ``path`` (parents created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
