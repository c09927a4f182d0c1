"""Run one workflow step: log to the rule's log file, turn input problems into a clear
message instead of a traceback.

Scripts in ``scripts/`` call :func:`run_step` with a function taking a logger; this module
does not import Snakemake (the ``snakemake`` object is only passed through by the script).
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable
from pathlib import Path

from sortpcr.errors import InputError


class _LogFile(logging.FileHandler):
    """The rule's log file; a failed write (a full disk) is said once, in one line, instead
    of logging's traceback per record."""

    said = False

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        if not self.said:
            self.said = True
            error = sys.exc_info()[1]
            reason = getattr(error, "strerror", None) or error
            sys.stderr.write(f"sortpcr: log {self.baseFilename} could not be written: {reason}\n")


def step_logger(log_path: str | Path | None, name: str) -> logging.Logger:
    """A logger writing to the rule's ``log:`` file (and to stderr for warnings)."""
    logger = logging.getLogger(f"sortpcr.{name}")
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    logger.propagate = False
    fmt = logging.Formatter("%(levelname)s %(message)s")
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handler = _LogFile(log_path, mode="w", encoding="utf-8")
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.WARNING)
    stderr.setFormatter(fmt)
    logger.addHandler(stderr)
    return logger


def run_step(
    name: str, log_path: str | Path | None, body: Callable[[logging.Logger], None]
) -> None:
    """Run ``body(logger)``; an :class:`InputError` ends the job with its message and exit
    code 1 (Snakemake then removes the job's incomplete outputs)."""
    try:
        logger = step_logger(log_path, name)
        body(logger)
    except InputError as error:
        _fail(name, str(error))
    except OSError as error:  # e.g. a full disk outside the io helpers: which file, why
        where = f"{error.filename}: " if error.filename else ""
        _fail(name, f"{where}{error.strerror or error}")


def _fail(name: str, message: str) -> None:
    """End the job with ``message`` on stderr and in the log (if it can still be written),
    exit code 1 (Snakemake then removes the job's incomplete outputs)."""
    sys.stderr.write(f"sortpcr {name}: {message}\n")
    try:
        logging.getLogger(f"sortpcr.{name}").error(message)
    except OSError:
        pass
    raise SystemExit(1) from None


#: Memory of a gating job (MB) per MB of its input files (MB as Snakemake's ``size_mb``:
#: 2^20 bytes): measured peaks 91 MB (a demo patient, 0.5 MB of FCS), 374 MB (a 1 M-event
#: pre-sort file and two 250,000-event sorted files, 46 MB) and 1,557-1,595 MB (5 M and
#: 2 x 1.25 M events, 229 MB), i.e. 6.6 MB per MB; declared with a margin (1,803 MB there).
GATING_MB_PER_INPUT_MB = 7.0
#: what a gating job holds besides its events (Python, numpy, matplotlib, the figure)
GATING_BASE_MB = 200
#: never declared below this (what the rule declared before sizes were considered)
GATING_MIN_MB = 1000


def gating_memory_mb(input_mb: float) -> int:
    """``mem_mb`` to declare for a gating job whose input files total ``input_mb`` MB:
    ``GATING_BASE_MB + GATING_MB_PER_INPUT_MB x input_mb``, at least ``GATING_MIN_MB``.

    A float FCS file of p channels holds 4 p bytes per event; reading keeps the events
    compensated and uncompensated as float64 (16 p bytes), the gates and the figure the
    rest: for 8 channels about 200 MB of memory per million events.
    """
    return max(GATING_MIN_MB, GATING_BASE_MB + math.ceil(GATING_MB_PER_INPUT_MB * input_mb))
