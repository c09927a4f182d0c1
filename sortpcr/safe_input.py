"""Reading a file a person supplied, safely: the one policy every reader uses.

* :func:`read_user_file` returns the bytes of a *regular* file no larger than a limit
  (bytes). A FIFO or device is refused without waiting on it (it is opened non-blocking and
  checked before any read), a directory, a missing path or an unreadable one are refused,
  and so is a file over the limit, before it is read into memory.
* :func:`parse_xml` parses XML bytes with DTDs, entity declarations and external references
  forbidden (defusedxml): nothing is resolved or expanded, the file is refused instead.

Every refusal is an :class:`~sortpcr.errors.InputError` of the caller's own type (FCS,
gating, qPCR), naming the file; a refused DTD is always :class:`XMLSecurityError`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from .errors import InputError, XMLSecurityError

__all__ = [
    "FCS_MAX_BYTES",
    "TABLE_MAX_BYTES",
    "XML_MAX_BYTES",
    "parse_xml",
    "read_user_file",
    "read_xml_file",
]

#: largest FCS file read (bytes): 4 GiB, some 50 million events of 20 float channels
FCS_MAX_BYTES = 4 * 1024**3
#: largest XML file read (bytes): 256 MiB, far above any Gating-ML, Diva or RDML export
XML_MAX_BYTES = 256 * 1024**2
#: largest table read (bytes): 64 MiB, far above a plate export, plate map or matrix file
TABLE_MAX_BYTES = 64 * 1024**2


def read_user_file(
    path: str | Path,
    *,
    error: type[InputError],
    max_bytes: int,
    kind: str = "file",
) -> bytes:
    """The bytes of the regular file ``path`` (at most ``max_bytes`` bytes).

    Refusals raise ``error(path, what)`` with ``what`` one of: "is not a regular file (a
    pipe or a device?)", "is a directory, not a file", "<kind> not found", "cannot be read:
    <reason>", "is N bytes, over the limit of M bytes ...". ``kind`` names the file in the
    not-found message (e.g. "gating strategy file").
    """
    name = str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise error(name, f"{kind} not found") from None
    except IsADirectoryError:
        raise error(name, "is a directory, not a file") from None
    except OSError as err:
        raise error(name, f"cannot be read: {err.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise error(name, "is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):  # reading a FIFO would block, a device never end
            raise error(name, "is not a regular file (a pipe or a device?)")
        if info.st_size > max_bytes:
            raise error(name, _too_large(info.st_size, max_bytes))
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as err:
        raise error(name, f"cannot be read: {err.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # grew while we read it
        raise error(name, _too_large(len(data), max_bytes))
    return data


def _too_large(size: int, max_bytes: int) -> str:
    return (
        f"is {size} bytes, over the limit of {max_bytes} bytes for this kind of file; "
        "refused unread (is it the right file?)"
    )


def parse_xml(
    data: bytes,
    path: str | Path,
    *,
    error: type[InputError],
    where: str | None = None,
) -> Any:
    """The ElementTree root of ``data`` (the XML of ``path``), DTDs and entities forbidden.

    A DOCTYPE, ENTITY or external reference -> :class:`XMLSecurityError` (nothing resolved
    or expanded); malformed XML -> ``error`` ("not well-formed XML: ..."). ``where`` (e.g. a
    zip member) goes into both messages; without it they say "DOCTYPE" and "XML".
    """
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as err:
        raise XMLSecurityError(
            str(path),
            f"XML declares a DTD or entities ({type(err).__name__}); refused without "
            "resolving them. Remove the <!DOCTYPE ...> / <!ENTITY ...> declarations",
            where or "DOCTYPE",
        ) from None
    except SafeET.ParseError as err:
        raise error(str(path), f"not well-formed XML: {err}", where or "XML") from None


def read_xml_file(
    path: str | Path,
    *,
    error: type[InputError],
    kind: str = "XML file",
    max_bytes: int = XML_MAX_BYTES,
) -> Any:
    """:func:`read_user_file` then :func:`parse_xml`: the root of a person's XML file."""
    data = read_user_file(path, error=error, max_bytes=max_bytes, kind=kind)
    return parse_xml(data, path, error=error)
