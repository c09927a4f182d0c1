"""Exceptions for people: one type per kind of input problem.

Every message names the file, where in it (row, column, well, byte offset, keyword)
and what is wrong, and where possible what to do about it. Scripts catch
:class:`InputError` and print ``str(error)`` instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Base class: a problem with an input a person provided."""

    def __init__(self, path: str | Path | None, what: str, where: str | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.where = where
        self.what = what
        parts = [p for p in (self.path, where) if p]
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {what}" if prefix else what)


class SheetError(InputError):
    """A sample sheet or the config is wrong (collects many problems)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        text = f"{len(problems)} problem(s) in the configuration or sample sheets:\n" + "\n".join(
            f"  - {p}" for p in problems
        )
        Exception.__init__(self, text)
        self.path, self.where, self.what = None, None, text


class FCSError(InputError):
    """An FCS file cannot be read correctly (corrupt, truncated, unsupported encoding)."""


class GatingError(InputError):
    """A gating strategy (Gating-ML, FlowJo workspace) is unusable for a file or the config."""


class QPCRFormatError(InputError):
    """A qPCR export or plate map cannot be read (missing columns, bad values, unknown dialect)."""


class XMLSecurityError(InputError):
    """An XML input declares entities (external or expanding); it is refused, never resolved."""


class OutputError(InputError):
    """A result file could not be written (disk full, quota, read-only or missing folder).

    Not a problem of the inputs, but reported the same way: the file and the reason."""
