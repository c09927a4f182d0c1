"""Typed settings of the pipeline's steps, one frozen dataclass per step.

One calling convention for the whole module: each class is built by ``from_config(section)``
from its config section *after* the Snakefile's ``validate`` against
``config/schemas/config.schema.yaml`` has filled in the defaults and checked ranges and
enums. So the classes hold no defaults and repeat none of the schema's checks: the schema is
the one place a default or a limit is written. The Snakemake adapters in ``scripts/`` build
the object; the library functions take only that object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ClassifySettings:
    """Settings of the classification step (config section ``classification``).

    ``fold_threshold``: a call needs a fold CD34+/CD34− of at least this, either way (> 1);
    ``genes``: the genes called, in table order; ``ci_level``: confidence level of the fold
    intervals (0-1); ``use_out_of_range``: use quantities extrapolated above the top
    standard (flagged) rather than making them not_evaluable.
    """

    fold_threshold: float
    genes: tuple[str, ...]
    ci_level: float
    use_out_of_range: bool

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> ClassifySettings:
        """Build from the schema-validated ``classification`` section."""
        return cls(
            fold_threshold=float(section["fold_threshold"]),
            genes=tuple(str(g) for g in section["genes"]),
            ci_level=float(section["ci_level"]),
            use_out_of_range=bool(section["use_out_of_range"]),
        )
