"""The ``sortpcr`` command: one look at files without a workflow.

``sortpcr gate --strategy S FILE...`` gates each FCS file with strategy ``S`` (Gating-ML 2.0,
a FlowJo 10 workspace or a BD FACSDiva experiment XML, whose tube is chosen by the file's
name) and prints a tab-separated table to standard output: ``file`` (as given), ``gate``,
``gate_path`` (``/P1/P2``: the gate under its ancestors), ``count`` and ``parent_count``
(events; the parent of a top-level gate is all events). The code is the workflow's:
:func:`sortpcr.fcs.read_fcs` then :func:`sortpcr.gating.evaluate` with the file's name as
the sample name, as :mod:`sortpcr.flowqc` does.

Errors are for people: a bad strategy or a bad option stops with exit status 2 and one
message on standard error; a file that cannot be read or gated is reported on standard error
and the other files are still gated, the exit status then being 2. An unexpected failure (a
bug of ours) gives one line and exit status 1. Never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .errors import InputError

__all__ = ["COLUMNS", "gate_rows", "main"]

COLUMNS = ("file", "gate", "gate_path", "count", "parent_count")


def gate_rows(strategy, path: str, *, compensation: str | None = None, dataset: int | None = None):
    """Rows (dicts of :data:`COLUMNS`) for one file gated with a loaded strategy.

    ``compensation``: as the sheet's choice for :func:`sortpcr.fcs.read_fcs` - None or
    ``file`` (the file's own matrix), ``none`` (no compensation) or a matrix file applied
    instead of the file's; a strategy that names its own matrix (a Diva experiment's)
    still applies that one. Raises :class:`sortpcr.errors.InputError` for a file that cannot
    be read or gated.
    """
    from .fcs import read_fcs
    from .gating import evaluate

    data = read_fcs(path, dataset=dataset, compensation=compensation)
    result = evaluate(strategy, data, sample=Path(path).name)
    rows = []
    for gate, count in result.counts.items():
        ancestors = [p for p in result.gate_paths.get(gate, ()) if p != "root"]
        parent = result.parents.get(gate)
        parent_count = result.n_events if parent is None else result.counts.get(parent)
        rows.append(
            {
                "file": path,
                "gate": gate,
                "gate_path": "/" + "/".join([*ancestors, gate]),
                "count": count,
                "parent_count": "" if parent_count is None else parent_count,
            }
        )
    return rows


def _clean(value) -> str:
    """One TSV field: tabs and line breaks in a name would break the table."""
    return str(value).replace("\t", " ").replace("\n", " ").replace("\r", " ")


def _gate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .gating import load_strategy

    try:
        strategy = load_strategy(args.strategy)
    except InputError as error:
        print(f"sortpcr gate: {error}", file=err)
        return 2
    choice = "none" if args.no_compensation else args.compensation
    if args.no_compensation and args.compensation not in (None, "none"):
        print("sortpcr gate: --no-compensation and --compensation contradict", file=err)
        return 2
    status = 0
    out.write("\t".join(COLUMNS) + "\n")
    for path in args.files:
        try:
            rows = gate_rows(strategy, path, compensation=choice, dataset=args.dataset)
        except InputError as error:
            print(f"sortpcr gate: {error}", file=err)
            status = 2
            continue
        for row in rows:
            out.write("\t".join(_clean(row[c]) for c in COLUMNS) + "\n")
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sortpcr", description="sortpcr: flow sorting and qPCR of CD34+/CD34- blasts"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    gate = commands.add_parser(
        "gate",
        help="gate FCS files with a strategy and print the counts (TSV)",
        description="Gate each FCS file with the strategy and print a TSV of file, gate, "
        "gate path, count and parent count (events).",
    )
    gate.add_argument(
        "--strategy",
        required=True,
        metavar="S",
        help="Gating-ML 2.0 file, FlowJo 10 workspace or BD FACSDiva experiment XML (the "
        "Diva tube is the one whose data file name is the FCS file's name)",
    )
    gate.add_argument(
        "--compensation",
        default=None,
        metavar="C",
        help="'file' (default: the file's $SPILLOVER/SPILL), 'none', or a spillover matrix "
        "file applied instead (keyword form or a table, as samples.tsv's choice)",
    )
    gate.add_argument(
        "--no-compensation",
        action="store_true",
        help="the same as --compensation none",
    )
    gate.add_argument(
        "--dataset",
        type=int,
        default=None,
        metavar="N",
        help="data set (0-based) of a file that holds several ($NEXTDATA)",
    )
    gate.add_argument("files", nargs="+", metavar="FILE", help="FCS files")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sortpcr`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)  # usage errors: message and exit status 2
    try:
        if args.command == "gate":
            return _gate(args, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        print("sortpcr: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `sortpcr gate ... | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # a bug of ours: one line, never a traceback
        print(f"sortpcr: internal error ({type(error).__name__}: {error}); please report it",
              file=sys.stderr)  # fmt: skip
        return 1
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
