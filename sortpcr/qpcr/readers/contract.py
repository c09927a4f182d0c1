"""The contract between an instrument dialect and the shared post-read steps.

A dialect module reads one export into :class:`RawWell` rows and describes itself in one
:class:`Dialect` record; :mod:`.registry` lists the records. The shared steps
(:mod:`.plate`: plate map, aliases, checks, final rows) ask the record, never a format name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from sortpcr.settings import QpcrSettings

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


class RawWell(TypedDict, total=False):
    """One well (and target) as a dialect read it, before the plate map and the checks.

    ``ct`` in cycles (NaN = no Ct), ``quantity`` in the export's unit (NaN = none). The
    source location (the file is the one being read): ``_at`` is where the row stands
    (``line 12``, or ``experiment 'e1', run 'r1', react 5`` in XML) and ``_where`` names
    the well too (``line 12, well A01``); messages about the well quote them.
    """

    well: str
    target: str
    sample: str
    role: str
    ct: float
    quantity: float
    fluor: str
    _at: str
    _where: str
    #: target and sample were read (an Identifier that matched, a named column)
    _matched: bool
    #: the export's own replicate-group label ("" = states none)
    _replicate: str
    #: iCycler ``Identifier`` text, quoted when it does not split
    _identifier: str
    #: export columns the plate map has to fill
    _absent: tuple[str, ...]
    #: the document's sample id (XML dialects)
    _sample: str
    #: the plate unit the standard's quantity states (``copies``/``relative``/"") and the
    #: export's own text for it
    _unit: str
    _unit_text: str


def at_line(line: int, well: str) -> dict[str, str]:
    """The source location of a row of a table-shaped export."""
    return {"_at": f"line {line}", "_where": f"line {line}, well {well}"}


def table_missing_quantity(rec: RawWell) -> tuple[str, str]:
    """Message and location for a standard of a table export without a positive quantity."""
    return (
        "standard well has no positive Starting Quantity; give it in the export "
        "or in the plate layout's 'quantity' column",
        rec["_where"] + ", column 'Starting Quantity (SQ)'",
    )


@dataclass(frozen=True)
class Dialect:
    """One export format: how to recognise it, read it, and check its rows.

    ``read(path, settings, supplied)`` returns :class:`RawWell` rows (``settings``: the
    :class:`~sortpcr.settings.QpcrSettings`; ``supplied``: the columns the plate map fills,
    ``target``/``sample``/``role``, which the export may then lack). ``duplicate_key`` is
    the field that, with the well, identifies a row (``fluor``: one row per well and
    channel; ``target``: per well and target).
    Recognition: ``sniff_header(names)`` on the normalised header names of a table export
    (lower case, no spaces or punctuation), with ``columns`` describing them for the
    "unknown format" message; or ``sniff_file(zipped, text)`` on the file's start (a zip
    archive that is no workbook, or the decoded first 64 KiB).
    ``missing_quantity(rec)`` gives the message and location for a standard without one.
    """

    name: str
    read: Callable[[Path, QpcrSettings, frozenset[str]], list[RawWell]]
    duplicate_key: str
    sniff_header: Callable[[set[str]], bool] | None = None
    columns: str = ""
    sniff_file: Callable[[bool, str], bool] | None = None
    missing_quantity: Callable[[RawWell], tuple[str, str]] = table_missing_quantity
