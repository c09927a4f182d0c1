"""The registry of export dialects, and format detection by asking each of them.

To add an instrument: write its module (a reader returning :class:`~.contract.RawWell`
rows and a :class:`~.contract.Dialect` record), import the record here and list it in
:data:`DIALECTS`, and add its name to the ``format`` enum of
``config/schemas/plates.schema.yaml``. Detection tries the dialects in this order.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

from sortpcr.errors import QPCRFormatError

from .biorad import CFX, ICYCLER
from .cells import _decode, _norm_header
from .contract import Dialect
from .generic import GENERIC
from .rdml import RDML
from .tables import _load_table, _read_text_table

#: name -> dialect record, in detection order
DIALECTS: dict[str, Dialect] = {d.name: d for d in (ICYCLER, CFX, RDML, GENERIC)}
FORMATS = tuple(DIALECTS)


def dialect(path: Path, fmt: str) -> Dialect:
    """The dialect named ``fmt``; QPCRFormatError naming the known ones otherwise."""
    if fmt not in DIALECTS:
        raise QPCRFormatError(
            path, f"unknown format {fmt!r}; use one of {', '.join(FORMATS)} or leave it empty"
        )
    return DIALECTS[fmt]


def detect_format(path: str | Path) -> str:
    """Guess the export format of ``path``: one of :data:`FORMATS`.

    Raises :class:`QPCRFormatError` when the file matches none of them.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:  # the start only; the file was checked as regular
            head = handle.read(65536)
    except OSError as exc:
        raise QPCRFormatError(path, f"cannot read the file ({exc.strerror})") from exc
    if head[:4] == b"PK\x03\x04" and not zipfile.is_zipfile(path):
        raise QPCRFormatError(
            path, "starts like a zip archive (xlsx or RDML) but is not a readable one (truncated?)"
        )
    zipped = head[:2] == b"PK" and zipfile.is_zipfile(path)
    if zipped and path.suffix.lower() in (".xlsx", ".xlsm"):
        return _format_from_header(path, _load_table(path).header)
    text = "" if zipped else _decode(head)
    for d in DIALECTS.values():
        if d.sniff_file is not None and d.sniff_file(zipped, text):
            return d.name
    if zipped:
        raise QPCRFormatError(path, "a zip archive that is neither a workbook nor RDML")
    return _format_from_header(path, _read_text_table(path, text).header)


def _format_from_header(path: Path, header: Sequence[str]) -> str:
    names = {_norm_header(h) for h in header}
    table_dialects = [d for d in DIALECTS.values() if d.sniff_header is not None]
    for d in table_dialects:
        if d.sniff_header(names):
            return d.name
    shown = [d.columns for d in table_dialects]
    raise QPCRFormatError(
        path,
        f"unknown qPCR export format: the header has neither {', '.join(shown[:-1])} nor "
        f"{shown[-1]}; header was " + ", ".join(repr(h) for h in header if h),
    )
