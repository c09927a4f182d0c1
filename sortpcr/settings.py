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


@dataclass(frozen=True)
class FlowQCSettings:
    """Settings of the flow QC step (config sections ``gating`` and ``qc``).

    ``blast_gate``: gate ID of the leukemic blasts; ``fraction_gates``: fraction (CD34pos,
    CD34neg) -> gate ID; ``markers``: marker -> channel aliases, searched in order;
    ``min_blast_events``: fewer gated blasts in a file -> not_evaluable (events);
    ``purity_min``: a sorted tube passes at purity >= this (fraction 0-1);
    ``purity_denominator``: all_events, cells or blasts; ``cd34_range``: (low, high) share of
    CD34+ among pre-sort blasts for inclusion (fractions 0-1).
    """

    blast_gate: str
    fraction_gates: dict[str, str]
    markers: dict[str, tuple[str, ...]]
    min_blast_events: int
    purity_min: float
    purity_denominator: str
    cd34_range: tuple[float, float]

    @classmethod
    def from_config(cls, gating: Mapping[str, Any], qc: Mapping[str, Any]) -> FlowQCSettings:
        """Build from the schema-validated ``gating`` and ``qc`` sections. The one check
        the schema cannot state: ``qc.cd34_range`` low <= high."""
        low, high = (float(x) for x in qc["cd34_range"])
        if low > high:
            raise ValueError(f"config qc.cd34_range [{low:g}, {high:g}]: low is above high")
        return cls(
            blast_gate=str(gating["blast_gate"]),
            fraction_gates={str(k): str(v) for k, v in gating["fraction_gates"].items()},
            markers={str(k): tuple(str(a) for a in v) for k, v in gating["markers"].items()},
            min_blast_events=int(gating["min_blast_events"]),
            purity_min=float(qc["purity_min"]),
            purity_denominator=str(qc["purity_denominator"]),
            cd34_range=(low, high),
        )
