"""Typed settings of the pipeline's steps, one frozen dataclass per step.

One calling convention for the whole module: each class is built by ``from_config(section)``
from its config section *after* the Snakefile's ``validate`` against
``config/schemas/config.schema.yaml`` has filled in the defaults and checked ranges and
enums. So the classes hold no defaults and repeat none of the schema's checks: the schema is
the one place a default or a limit is written. The Snakemake adapters in ``scripts/`` build
the object; the library functions take only that object. What the schema cannot state (a
range whose low end is above its high end, an identifier regex without its groups)
``from_config`` refuses with a ValueError naming the key; :func:`settings_problems` runs
every step's ``from_config`` once, so the Snakefile stops at start-up with all of them
rather than in every job.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


def _frozen(mapping: dict[str, Any]) -> Mapping[str, Any]:
    """A read-only view, so that a frozen settings object is immutable all through."""
    return MappingProxyType(mapping)


def _ordered(key: str, low: float, high: float, names: tuple[str, str] = ("low", "high")) -> None:
    """Refuse a range whose low end is above its high end, naming the config key."""
    if low > high:
        raise ValueError(f"config {key} [{low:g}, {high:g}]: {names[0]} is above {names[1]}")


def identifier_pattern(text: str) -> re.Pattern[str]:
    """``qpcr.identifier_regex`` compiled; ValueError saying what is wrong when it is no
    regular expression or lacks the named groups ``target`` and ``sample``."""
    try:
        regex = re.compile(text)
    except re.error as exc:
        raise ValueError(f"{text!r} is not a regular expression ({exc})") from None
    missing = [g for g in ("target", "sample") if g not in regex.groupindex]
    if missing:
        raise ValueError(
            f"{text!r} lacks the named group(s) {', '.join(missing)} (write (?P<target>...))"
        )
    return regex


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
    fraction_gates: Mapping[str, str]
    markers: Mapping[str, tuple[str, ...]]
    min_blast_events: int
    purity_min: float
    purity_denominator: str
    cd34_range: tuple[float, float]

    @classmethod
    def from_config(cls, gating: Mapping[str, Any], qc: Mapping[str, Any]) -> FlowQCSettings:
        """Build from the schema-validated ``gating`` and ``qc`` sections. The one check
        the schema cannot state: ``qc.cd34_range`` low <= high."""
        low, high = (float(x) for x in qc["cd34_range"])
        _ordered("qc.cd34_range", low, high)
        return cls(
            blast_gate=str(gating["blast_gate"]),
            fraction_gates=_frozen({str(k): str(v) for k, v in gating["fraction_gates"].items()}),
            markers=_frozen(
                {str(k): tuple(str(a) for a in v) for k, v in gating["markers"].items()}
            ),
            min_blast_events=int(gating["min_blast_events"]),
            purity_min=float(qc["purity_min"]),
            purity_denominator=str(qc["purity_denominator"]),
            cd34_range=(low, high),
        )


@dataclass(frozen=True)
class NormaliseSettings:
    """Settings of the normalisation step (config sections ``qpcr``, ``normalisation`` and
    ``classification``).

    ``reference_genes``: reference gene(s), two or more combined by their geometric mean;
    ``fusion_targets``: targets quantified in copies (``qpcr.copy_targets``);
    ``gus_copies_min``: reference copies below which a copies-plate sample is inevaluable
    (copies, EAC); ``reference_min``: floor of each reference on an expression plate (plate
    unit; 0 = none); ``fusion_scale``: NCN per this many reference copies (EAC x100);
    ``use_out_of_range``: use extrapolated quantities above the top standard (flagged);
    ``rt_sd_log2``: SD (log2) of a gene's level between cDNA preparations of one RNA;
    ``reference_max_disagreement``: fold by which a reference's share may differ between
    fractions. Not from the config: ``rt_df`` (degrees of freedom of ``rt_sd_log2``, set by
    :func:`sortpcr.normalise.normalise_patient` when it estimates it).
    """

    reference_genes: tuple[str, ...]
    fusion_targets: tuple[str, ...]
    gus_copies_min: float
    reference_min: float
    fusion_scale: float
    use_out_of_range: bool
    rt_sd_log2: float
    reference_max_disagreement: float
    rt_df: float = math.inf

    @property
    def reference_gene(self) -> str:
        """The first reference gene (the study's GUS)."""
        return self.reference_genes[0]

    @property
    def reference_label(self) -> str:
        return "+".join(self.reference_genes)

    @classmethod
    def from_config(
        cls,
        qpcr: Mapping[str, Any],
        normalisation: Mapping[str, Any],
        classification: Mapping[str, Any],
    ) -> NormaliseSettings:
        """Build from the schema-validated sections. ``qpcr.reference_genes`` wins over the
        older ``qpcr.reference_gene`` (the schema requires one of them)."""
        genes = qpcr["reference_genes"] if "reference_genes" in qpcr else [qpcr["reference_gene"]]
        return cls(
            reference_genes=tuple(str(g) for g in genes),
            fusion_targets=tuple(str(t) for t in qpcr["copy_targets"]),
            gus_copies_min=float(normalisation["gus_copies_min"]),
            reference_min=float(normalisation["reference_min"]),
            fusion_scale=float(normalisation["fusion_scale"]),
            use_out_of_range=bool(classification["use_out_of_range"]),
            rt_sd_log2=float(qpcr["rt_sd_log2"]),
            reference_max_disagreement=float(qpcr["reference_max_disagreement"]),
        )


@dataclass(frozen=True)
class CurveRules:
    """Acceptance of one kind of standard curve (``qpcr.curves.relative`` or ``.copies``).

    ``min_points``: used standard wells; ``min_levels``: dilution levels with a used well;
    ``r2_min``: coefficient of determination (0-1). ``relative`` (IM-9 dilutions) is judged
    on ``efficiency_min`` / ``efficiency_max`` (fraction, 1.0 = 100 %), ``copies`` (plasmid
    standards) on ``slope_min`` / ``slope_max`` (cycles per log10 copies). A limit set to
    null in the config is None: not checked.
    """

    min_points: int
    min_levels: int
    r2_min: float | None
    efficiency_min: float | None = None
    efficiency_max: float | None = None
    slope_min: float | None = None
    slope_max: float | None = None

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any], unit: str, limits: tuple[str, str]
    ) -> CurveRules:
        """Build from the schema-validated ``qpcr.curves.<unit>`` section; ``limits``: the
        names of its two bounds (``efficiency_min``/``_max`` or ``slope_min``/``_max``),
        which must not cross when both are set."""

        def bound(key: str) -> float | None:
            value = section[key]
            return None if value is None else float(value)

        low, high = (bound(key) for key in limits)
        if low is not None and high is not None:
            _ordered(f"qpcr.curves.{unit}", low, high, limits)
        return cls(
            min_points=int(section["min_points"]),
            min_levels=int(section["min_levels"]),
            r2_min=bound("r2_min"),
            **dict(zip(limits, (low, high), strict=True)),
        )


@dataclass(frozen=True)
class QpcrSettings:
    """Settings of the qPCR steps: read a plate, fit its curves, quantify (config section
    ``qpcr``).

    Reading: ``target_aliases`` (canonical target -> names it may have on a plate, matched
    without case); ``identifier_regex`` (iCycler/MyiQ ``Identifier`` -> named groups
    ``target`` and ``sample``); ``copy_targets`` (a plate carrying one is in copies);
    ``ct_max`` (a Ct at or above it is undetermined, cycles).
    Curves: ``curve_ci_level`` (level of the efficiency interval, 0-1); ``curves``: unit
    (``relative``, ``copies``) -> :class:`CurveRules`.
    Replicates and quantities: ``ct_min`` (a Ct below it is implausible, cycles);
    ``outlier_ct`` (replicate tolerance, cycles); ``discordant`` (``keep_earlier`` or
    ``not_evaluable``); ``poisson_copies_max`` (copy standards below it get a Poisson-widened
    tolerance, copies); ``ntc_policy`` (``flag`` or ``invalidate``); ``range_ct_tolerance``
    (cycles beyond the standards' Ct span before a sample is out of range).
    """

    target_aliases: Mapping[str, tuple[str, ...]]
    identifier_regex: str
    copy_targets: tuple[str, ...]
    ct_max: float
    ct_min: float
    curve_ci_level: float
    curves: Mapping[str, CurveRules]
    outlier_ct: float
    discordant: str
    poisson_copies_max: float
    ntc_policy: str
    range_ct_tolerance: float

    @property
    def alias_map(self) -> dict[str, str]:
        """Any name of a target (lower case, stripped) -> its canonical name."""
        out: dict[str, str] = {}
        for canonical, aliases in self.target_aliases.items():
            out[canonical.strip().lower()] = canonical
            for alias in aliases:
                out[alias.strip().lower()] = canonical
        return out

    @classmethod
    def from_config(cls, qpcr: Mapping[str, Any]) -> QpcrSettings:
        """Build from the schema-validated ``qpcr`` section; an ``identifier_regex`` that
        cannot split an Identifier is refused here, naming the key."""
        curves, replicates = qpcr["curves"], qpcr["replicates"]
        try:
            identifier_pattern(str(qpcr["identifier_regex"]))
        except ValueError as error:
            raise ValueError(f"config qpcr.identifier_regex: {error}") from None
        return cls(
            target_aliases=_frozen(
                {str(k): tuple(str(a) for a in v or ()) for k, v in qpcr["target_aliases"].items()}
            ),
            identifier_regex=str(qpcr["identifier_regex"]),
            copy_targets=tuple(str(t) for t in qpcr["copy_targets"]),
            ct_max=float(qpcr["ct_max"]),
            ct_min=float(qpcr["ct_min"]),
            curve_ci_level=float(curves["ci_level"]),
            curves=_frozen(
                {
                    unit: CurveRules.from_config(curves[unit], unit, limits)
                    for unit, limits in (
                        ("relative", ("efficiency_min", "efficiency_max")),
                        ("copies", ("slope_min", "slope_max")),
                    )
                }
            ),
            outlier_ct=float(replicates["outlier_ct"]),
            discordant=str(replicates["discordant"]),
            poisson_copies_max=float(replicates["poisson_copies_max"]),
            ntc_policy=str(qpcr["ntc_policy"]),
            range_ct_tolerance=float(qpcr["range_ct_tolerance"]),
        )


@dataclass(frozen=True)
class FigureSettings:
    """Settings of the cohort figures (config sections ``classification`` and ``figures``).

    ``fold_threshold``: the call boundary drawn (+-log2 of it on the heat map's colour bar)
    and named in the keys; ``genes``: the genes drawn, in panel order; ``png_dpi``: raster
    resolution of the PNG copies (dots per inch; the SVGs are vector).
    """

    fold_threshold: float
    genes: tuple[str, ...]
    png_dpi: int

    @classmethod
    def from_config(
        cls, classification: Mapping[str, Any], figures: Mapping[str, Any]
    ) -> FigureSettings:
        """Build from the schema-validated ``classification`` and ``figures`` sections."""
        calls = ClassifySettings.from_config(classification)
        return cls(
            fold_threshold=calls.fold_threshold,
            genes=calls.genes,
            png_dpi=int(figures["png_dpi"]),
        )


def settings_problems(config: Mapping[str, Any]) -> list[str]:
    """Every step's settings built once from the schema-validated ``config``: one line per
    refusal (a crossed range, an unusable identifier regex; each names its key); empty when
    all build."""
    steps = (
        lambda: FlowQCSettings.from_config(config["gating"], config["qc"]),
        lambda: QpcrSettings.from_config(config["qpcr"]),
        lambda: NormaliseSettings.from_config(
            config["qpcr"], config["normalisation"], config["classification"]
        ),
        lambda: FigureSettings.from_config(config["classification"], config["figures"]),
    )
    problems = []
    for build in steps:
        try:
            build()
        except ValueError as error:
            problems.append(str(error))
    return problems
