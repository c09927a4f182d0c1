"""Helpers of the bad-input suite (tests/test_fuzz.py): a hang guard, byte surgery on FCS
files, and small qPCR / XML documents that are wrong in one known way."""

from __future__ import annotations

import io
import re
import signal
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO_FCS = ROOT / "resources" / "demo" / "fcs"
DEMO_QPCR = ROOT / "resources" / "demo" / "qpcr"

#: One demo file per instrument style: FACSDiva FCS 3.0 float32 little-endian ('|'), and
#: CellQuest FCS 2.0 16-bit big-endian integers with log channels ('\\').
STYLE_FILE = {"diva": DEMO_FCS / "P01_CD34pos.fcs", "cellquest": DEMO_FCS / "P09_CD34pos.fcs"}
#: Each style's own gating strategy (as samples.tsv assigns them).
STYLE_STRATEGY = {
    "diva": ROOT / "resources" / "gating" / "facsdiva.xml",
    "cellquest": ROOT / "resources" / "gating" / "cellquest.xml",
}

#: Generous bound for "never a hang": every case here ends in well under a second.
HANG_SECONDS = 60


class Hang(Exception):
    """Raised by :func:`no_hang` when the guarded block outlives its bound."""


@contextmanager
def no_hang(seconds: float = HANG_SECONDS) -> Iterator[None]:
    """Fail (not wait forever) when the block runs longer than ``seconds``.

    A hang guard, not a timing assertion: the bound is orders of magnitude above the normal
    run time. Uses SIGALRM, so it only works in the main thread (where pytest runs tests).
    """

    def alarm(signum, frame):  # noqa: ARG001 - signal handler signature
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def raises_named(kind: type[Exception], path: Path | str | None, *fragments: str, call):
    """Run ``call()`` under the hang guard; it must raise exactly ``kind`` (or a subclass)
    whose message names ``path`` (when given) and holds every fragment. Returns the error.

    Any other exception type fails the test: that is the bare traceback a user would see.
    """
    with no_hang():
        try:
            call()
        except kind as error:
            message = str(error)
            if path is not None:
                assert str(path) in message, f"message does not name the file: {message}"
            for fragment in fragments:
                assert fragment in message, f"{fragment!r} not in: {message}"
            return error
        except Exception as error:  # the bug this suite exists to find
            pytest.fail(f"expected {kind.__name__}, got {type(error).__name__}: {error}")
    pytest.fail(f"expected {kind.__name__}, nothing was raised")


# --------------------------------------------------------------------------- FCS bytes


def header_offsets(raw: bytes) -> dict[str, int]:
    """TEXT and DATA offsets written in an FCS HEADER (bytes 10-41)."""
    names = ("text_start", "text_end", "data_start", "data_end")
    return {n: int(raw[10 + 8 * i : 18 + 8 * i]) for i, n in enumerate(names)}


def delimiter(raw: bytes) -> bytes:
    """The TEXT delimiter (first byte of TEXT)."""
    start = header_offsets(raw)["text_start"]
    return raw[start : start + 1]


def set_keyword(raw: bytes, key: str, value: str) -> bytes:
    """Replace one keyword's value in TEXT with a value of the *same length* (so no offset
    moves: only the keyword lies)."""
    d = delimiter(raw)
    pattern = re.compile(re.escape(d + key.encode() + d) + rb"([^" + re.escape(d) + rb"]*)")
    matches = list(pattern.finditer(raw[: header_offsets(raw)["text_end"] + 1]))
    assert len(matches) == 1, f"{key} found {len(matches)} times"
    old = matches[0].group(1)
    new = value.encode("latin-1")
    assert len(new) == len(old), f"{key}: {new!r} must be as long as {old!r}"
    a, b = matches[0].span(1)
    return raw[:a] + new + raw[b:]


def set_header(raw: bytes, field: str, value: int | str) -> bytes:
    """Replace one HEADER offset field (8 characters, right-justified)."""
    index = ("text_start", "text_end", "data_start", "data_end").index(field)
    text = f"{value:>8}".encode("ascii")
    assert len(text) == 8
    a = 10 + 8 * index
    return raw[:a] + text + raw[a + 8 :]


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# --------------------------------------------------------------------------- qPCR text


def demo_export(plate: str = "EXPR01") -> str:
    """A demo iCycler/MyiQ export as text (CSV, leading empty column)."""
    return (DEMO_QPCR / f"{plate}.csv").read_text()


def export_column(text: str, column: str) -> int:
    """Index of a header column of an iCycler export."""
    return text.splitlines()[0].split(",").index(column)


def edit_cells(text: str, column: str, edit, rows=None) -> str:
    """Apply ``edit(fields) -> new value`` to ``column`` of the data lines (``rows``: a
    predicate on the split line, default all)."""
    lines = text.splitlines()
    c = export_column(text, column)
    out = [lines[0]]
    for line in lines[1:]:
        fields = line.split(",")
        if rows is None or rows(fields):
            fields[c] = edit(fields)
        out.append(",".join(fields))
    return "\n".join(out) + "\n"


def type_is(*types: str):
    """Row predicate for :func:`edit_cells`: the export's ``Type`` column is one of these."""

    def predicate(fields: list[str]) -> bool:
        return fields[3] in types

    return predicate


def rdml_zip(members: dict[str, bytes | str], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive (RDML style) holding ``members``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


RDML_NS = "http://www.rdml.org"


def rdml_document(reacts: str, samples: str = "", version: str = "1.1") -> str:
    """A minimal RDML document with the given ``<sample>`` and ``<react>`` elements."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rdml xmlns="{RDML_NS}" version="{version}">'
        f'{samples}<experiment id="exp"><run id="run">{reacts}</run></experiment></rdml>'
    )


# --------------------------------------------------------------------------- hostile XML


def external_entity(secret_file: Path, root: str, namespace_decl: str = "") -> str:
    """An XML document whose root text is an external entity pointing at ``secret_file``."""
    return (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE {root} [<!ENTITY secret SYSTEM "file://{secret_file}">]>\n'
        f"<{root}{namespace_decl}>&secret;</{root}>\n"
    )


def billion_laughs(root: str, namespace_decl: str = "") -> str:
    """The classic entity bomb: 10 nested entities of 10 references each (10^9 "lol")."""
    entities = ['<!ENTITY lol0 "lol">']
    for level in range(1, 10):
        entities.append(f'<!ENTITY lol{level} "' + f"&lol{level - 1};" * 10 + '">')
    return (
        '<?xml version="1.0"?>\n'
        f"<!DOCTYPE {root} [{''.join(entities)}]>\n"
        f"<{root}{namespace_decl}>&lol9;</{root}>\n"
    )
