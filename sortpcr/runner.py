"""Run one workflow step: log to the rule's log file, turn input problems into a clear
message instead of a traceback.

Scripts in ``scripts/`` call :func:`run_step` with a function taking a logger; this module
does not import Snakemake (the ``snakemake`` object is only passed through by the script).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

from sortpcr.errors import InputError


def step_logger(log_path: str | Path | None, name: str) -> logging.Logger:
    """A logger writing to the rule's ``log:`` file (and to stderr for warnings)."""
    logger = logging.getLogger(f"sortpcr.{name}")
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    logger.propagate = False
    fmt = logging.Formatter("%(levelname)s %(message)s")
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
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
    logger = step_logger(log_path, name)
    try:
        body(logger)
    except InputError as error:
        logger.error(str(error))
        sys.stderr.write(f"sortpcr {name}: {error}\n")
        raise SystemExit(1) from None
