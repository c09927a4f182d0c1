"""Calibration simulation of the CD34+/CD34- fold intervals and calls (issue 11).

Simulates qPCR expression plates at the level of single wells, with a noise model that is
deliberately *not* the pipeline's own, runs the pipeline's functions in process as the
workflow's scripts call them (``fit_curves`` -> ``quantify`` -> ``pair_patient`` ->
``normalise_patient`` -> ``classify_patient``, every table written to TSV and read back as
between two Snakemake jobs) and scores the calls against the true folds.

The simulated chemistry (all Ct in cycles, quantities in IM-9 relative units, AU):

* each plate carries the four genes and the reference gene(s) (GUS; optionally a second
  one, e.g. ABL1, whose level per cell is the same in both fractions) with their own IM-9
  standard series ``STANDARDS`` (1 to 0.001 AU) in ``std_replicates`` wells per level and one
  NTC per target; two patients per plate in duplicate, or one patient per plate in
  triplicate (as a 96-well plate allows beside five standard curves);
* per gene and plate: efficiency ``E`` uniform in ``efficiency`` (0.90-1.02), slope
  ``-1 / log10(1 + E)``, Ct at 1 AU uniform in ``intercept`` (21-25 cycles);
* the standards of each gene and plate are a serial 1:10 dilution with a relative pipetting
  error of ``pipetting_cv`` (3 %) at every step, compounding along the series; the lab
  still types the nominal quantities;
* each sorted fraction gets a cDNA input (GUS level) log-uniform in ``cdna_range``; each of
  its genes (GUS included) an independent reverse-transcription factor
  ``2 ** Normal(0, rt_sd_log2)``, which replicate wells cannot see;
* optionally (``one_copy_ct``, off by default: a stress beyond issue 11's noise list),
  template molecules in a well are Poisson-distributed around the expected number (one
  molecule gives a Ct of about ``one_copy_ct``): a well may get none (undetermined);
* each well adds Student-t noise (``well_df`` = 4 degrees of freedom, scaled to SD
  ``well_sd`` = 0.2 cycles); ``outlier_rate`` (2 %) of all wells, standards included, come
  ``outlier_shift`` (1.5-4) cycles late; a Ct at or beyond ``ct_max`` (40) is undetermined;
  Ct values are written with two decimals, as exports do.

True expression (target / GUS) of the CD34- fraction per gene: log10-normal around 0.1 AU
with a few barely expressed genes, so that some quantities fall below the lowest standard
and some are undetermined. The true fold (CD34+ / CD34-) is drawn from a mixture that is
dense near the 2-fold threshold: half log-uniform in 1.6-2.5x or 0.4-0.625x, 15 % clearly
different (|log2 fold| 2-3), 15 % clearly equal (|log2 fold| <= 0.3), 20 % log2-uniform in
[-2, 2].
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

GENES: tuple[str, ...] = ("BCL2", "MDR1", "BCRP", "LRP")
REFERENCE = "GUS"
STANDARDS: tuple[float, ...] = (1.0, 0.1, 0.01, 0.001)
FRACTIONS = {"CD34pos": "pos", "CD34neg": "neg"}
THRESHOLD = 2.0
#: true |log2 fold| at or beyond this, or at or below CLEAR_EQUAL, is a "clear" pair
CLEAR_DIFFERENT = 2.0
CLEAR_EQUAL = 0.3
#: a true fold in one of these bands is a "near-threshold" pair
NEAR_BANDS = ((1.6, 2.5), (0.4, 0.625))
#: substrings of a call's flags that mark the discordant-replicate rule
DISCORDANT_MARKS = ("disagree", "discordant")


@dataclass(frozen=True)
class SimSettings:
    """The simulated truth (units in the module docstring)."""

    well_sd: float = 0.2
    well_df: float = 4.0
    outlier_rate: float = 0.02
    outlier_shift: tuple[float, float] = (1.5, 4.0)
    rt_sd_log2: float = 0.25
    pipetting_cv: float = 0.03
    efficiency: tuple[float, float] = (0.90, 1.02)
    intercept: tuple[float, float] = (21.0, 25.0)
    one_copy_ct: float | None = None
    ct_max: float = 40.0
    std_replicates: int = 2
    triplicate_share: float = 0.5
    replate_share: float = 0.0
    cdna_range: tuple[float, float] = (0.03, 0.6)
    expression_log10_mean: float = -1.0
    expression_log10_sd: float = 0.7
    barely_expressed_share: float = 0.06
    barely_expressed_log10: tuple[float, float] = (-4.5, -3.0)
    genes: tuple[str, ...] = GENES
    references: tuple[str, ...] = (REFERENCE,)


def draw_log2_fold(rng: np.random.Generator) -> float:
    """One true log2 fold (CD34+ / CD34-) from the mixture of the module docstring."""
    u = rng.random()
    if u < 0.25:
        return float(rng.uniform(math.log2(1.6), math.log2(2.5)))
    if u < 0.50:
        return float(rng.uniform(math.log2(0.4), math.log2(0.625)))
    if u < 0.65:
        return float(rng.choice([-1.0, 1.0]) * rng.uniform(CLEAR_DIFFERENT, 3.0))
    if u < 0.80:
        return float(rng.uniform(-CLEAR_EQUAL, CLEAR_EQUAL))
    return float(rng.uniform(-2.0, 2.0))


@dataclass
class Plate:
    """One simulated plate: its reader rows and the truth behind them."""

    plate: str
    patients: list[str]
    replicates: int
    #: a second measurement of its patients (they have a first plate too)
    repeat: bool = False
    wells: list[dict[str, Any]] = field(default_factory=list)
    #: (sample, target) -> wells of that group that carry an outlier shift
    outliers: dict[tuple[str, str], int] = field(default_factory=dict)
    #: the wells that carry an outlier shift
    late_wells: set[str] = field(default_factory=set)


def _well_names(n: int) -> list[str]:
    rows = "ABCDEFGHIJKLMNOP"  # beyond 96 wells only if a layout ever asks for it
    return [f"{rows[i // 12]}{i % 12 + 1:02d}" for i in range(n)]


def _curves_and_standards(
    rng: np.random.Generator, sim: SimSettings, targets: tuple[str, ...]
) -> tuple[dict[str, tuple[float, float]], list[tuple[str, str, str, float, float]]]:
    """True curves ``target -> (slope, intercept)`` of one plate and its standard wells
    ``(role, target, sample, typed quantity, true quantity)``."""
    curve = {}
    for t in targets:
        eff = rng.uniform(*sim.efficiency)
        curve[t] = (-1.0 / math.log10(1.0 + eff), rng.uniform(*sim.intercept))
    layout: list[tuple[str, str, str, float, float]] = []
    for t in targets:
        levels = sorted(STANDARDS, reverse=True)
        actual = levels[0]  # the undiluted IM-9 cDNA defines the unit
        for level, q in enumerate(levels):
            if level:
                step = q / levels[level - 1]
                actual *= step * (1.0 + rng.normal(0.0, sim.pipetting_cv))
            layout += [("standard", t, f"STD-{q:g}", q, actual)] * sim.std_replicates
    return curve, layout


def _fill_wells(
    plate: Plate,
    rng: np.random.Generator,
    sim: SimSettings,
    curve: Mapping[str, tuple[float, float]],
    layout: list[tuple[str, str, str, float, float]],
) -> None:
    """Draw the Ct of every well of ``layout`` (NTCs appended) into ``plate.wells``."""
    scale = sim.well_sd / math.sqrt(sim.well_df / (sim.well_df - 2.0))
    layout = layout + [("ntc", t, "NTC", math.nan, 0.0) for t in curve]
    for well, (role, t, sample, typed, q) in zip(_well_names(len(layout)), layout, strict=True):
        slope, intercept = curve[t]
        ct = math.nan
        if q > 0:
            expected = intercept + slope * math.log10(q)
            molecules = 1.0
            if sim.one_copy_ct is not None:
                copies = 10.0 ** ((expected - sim.one_copy_ct) / slope)
                if copies < 1e5:
                    molecules = float(rng.poisson(copies)) / copies
            if molecules > 0:
                ct = expected + slope * math.log10(molecules)
                ct += scale * float(rng.standard_t(sim.well_df))
                if rng.random() < sim.outlier_rate:
                    ct += float(rng.uniform(*sim.outlier_shift))
                    key = (sample, t)
                    plate.outliers[key] = plate.outliers.get(key, 0) + 1
                    plate.late_wells.add(well)
                ct = round(ct, 2) if ct < sim.ct_max else math.nan
        group = f"{t}|std|{typed:.6g}" if role == "standard" else f"{t}|{sample}"
        plate.wells.append(
            {
                "plate": plate.plate,
                "well": well,
                "target": t,
                "sample": sample,
                "role": role,
                "replicate_group": f"{t}|ntc" if role == "ntc" else group,
                "ct": ct,
                "quantity": typed,
                "unit": "relative",
                "fluor": "FAM",
            }
        )


def simulate_cohort(
    n_patients: int, seed: int, sim: SimSettings | None = None
) -> tuple[list[Plate], dict[tuple[str, str], dict[str, Any]]]:
    """Simulate ``n_patients`` patients on their plates.

    Returns ``(plates, truth)``: the plates with their well rows (the reader's columns,
    ``sortpcr.qpcr.readers.COLUMNS``) and, per (patient, gene), the true fold, the
    replicates, and whether every true quantity of the pair lies within the standards.
    A share ``replate_share`` of the patients is measured a second time, on a plate of its
    own (same cDNA, so the same RT factors; new curves, standards and wells), drawn from a
    second random stream so that the first plates do not change.
    """
    sim = sim or SimSettings()
    rng = np.random.default_rng(seed)
    targets = (*sim.genes, *sim.references)
    patients = [f"S{i + 1:04d}" for i in range(n_patients)]
    triplicate = rng.random(n_patients) < sim.triplicate_share
    plan: list[tuple[list[str], int]] = [
        ([p], 3) for p, t in zip(patients, triplicate, strict=True) if t
    ]
    duplicates = [p for p, t in zip(patients, triplicate, strict=True) if not t]
    plan += [(duplicates[i : i + 2], 2) for i in range(0, len(duplicates), 2)]
    plan.sort(key=lambda item: item[0][0])

    truth: dict[tuple[str, str], dict[str, Any]] = {}
    plates: list[Plate] = []
    unknowns: dict[str, list[tuple[str, str, str, float, float]]] = {}
    lo_std, hi_std = min(STANDARDS), max(STANDARDS)
    for number, (members, reps) in enumerate(plan, start=1):
        plate = Plate(f"CAL{number:04d}", members, reps)
        curve, layout = _curves_and_standards(rng, sim, targets)
        for patient in members:
            cdna = {
                f: 10 ** rng.uniform(*np.log10(sim.cdna_range)) for f in FRACTIONS
            }  # GUS level per fraction
            level: dict[str, dict[str, float]] = {
                f: dict.fromkeys(sim.references, 1.0) for f in FRACTIONS
            }
            for gene in sim.genes:
                if rng.random() < sim.barely_expressed_share:
                    base = rng.uniform(*sim.barely_expressed_log10)
                else:
                    base = rng.normal(sim.expression_log10_mean, sim.expression_log10_sd)
                log2_fold = draw_log2_fold(rng)
                level["CD34neg"][gene] = 10.0**base
                level["CD34pos"][gene] = 10.0**base * 2.0**log2_fold
                in_range = all(
                    lo_std <= level[f][g] * cdna[f] <= hi_std
                    for f in FRACTIONS
                    for g in (gene, *sim.references)
                )
                truth[(patient, gene)] = {
                    "patient": patient,
                    "gene": gene,
                    "plate": plate.plate,
                    "plates": 1,
                    "replicates": reps,
                    "true_fold": 2.0**log2_fold,
                    "true_log2_fold": log2_fold,
                    "in_range": in_range,
                }
            rt = {
                (f, t): float(rng.normal(0.0, sim.rt_sd_log2)) if sim.rt_sd_log2 > 0 else 0.0
                for f in FRACTIONS
                for t in targets
            }  # log2 RT factor per fraction and gene
            unknowns[patient] = []
            for fraction, suffix in FRACTIONS.items():
                sample = f"{patient}{suffix}"
                for t in targets:
                    q = level[fraction][t] * cdna[fraction] * 2.0 ** rt[(fraction, t)]
                    unknowns[patient] += [("unknown", t, sample, math.nan, q)] * reps
            layout += unknowns[patient]
            for gene in sim.genes:
                ref_shift = sum(
                    rt[("CD34pos", r)] - rt[("CD34neg", r)] for r in sim.references
                ) / len(sim.references)  # geometric mean of the references
                truth[(patient, gene)]["cdna_log2_fold"] = (
                    truth[(patient, gene)]["true_log2_fold"]
                    + rt[("CD34pos", gene)]
                    - rt[("CD34neg", gene)]
                    - ref_shift
                )
        _fill_wells(plate, rng, sim, curve, layout)
        plates.append(plate)

    if sim.replate_share > 0:
        again = np.random.default_rng([seed, 1])
        chosen = [p for p in patients if again.random() < sim.replate_share]
        for number, patient in enumerate(chosen, start=1):
            reps = truth[(patient, sim.genes[0])]["replicates"]
            plate = Plate(f"REP{number:04d}", [patient], reps, repeat=True)
            curve, layout = _curves_and_standards(again, sim, targets)
            _fill_wells(plate, again, sim, curve, layout + unknowns[patient])
            plates.append(plate)
            for gene in sim.genes:
                truth[(patient, gene)]["plates"] = 2

    for gene_truth in truth.values():
        gene_truth["outlier_wells"] = 0
    for plate in plates:
        for patient in plate.patients:
            for gene in sim.genes:
                truth[(patient, gene)]["outlier_wells"] += sum(
                    plate.outliers.get((f"{patient}{s}", t), 0)
                    for s in FRACTIONS.values()
                    for t in (gene, *sim.references)
                )
    return plates, truth


def tree_root() -> Path:
    """The tree whose ``sortpcr`` is imported (its ``config/config.yaml`` is used)."""
    import sortpcr

    return Path(sortpcr.__file__).resolve().parents[1]


def load_config(
    rt_sd_log2: float,
    references: tuple[str, ...] = (REFERENCE,),
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The imported tree's ``config/config.yaml`` with ``qpcr.rt_sd_log2`` and
    ``qpcr.reference_genes`` set, and ``overrides`` (dotted keys, e.g.
    ``qpcr.replicates.discordant``) applied, then validated by the tree's schema (defaults
    filled in), as the Snakefile does."""
    import yaml
    from snakemake.utils import validate

    with open(tree_root() / "config" / "config.yaml", encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    config["qpcr"]["rt_sd_log2"] = float(rt_sd_log2)
    config["qpcr"]["reference_genes"] = list(references)
    config["qpcr"]["reference_gene"] = references[0]
    for dotted, value in (overrides or {}).items():
        *parents, last = dotted.split(".")
        section = config
        for key in parents:
            section = section.setdefault(key, {})
        section[last] = value
    validate(config, str(tree_root() / "config" / "schemas" / "config.schema.yaml"))
    return config


class _Hop:
    """Writes a table to TSV and reads it back, as between two workflow jobs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def __call__(self, rows: list[dict[str, Any]], columns: list[str]) -> list[dict[str, Any]]:
        from sortpcr.io import read_records, write_records

        self.count += 1
        path = self.folder / f"t{self.count % 8}.tsv"
        write_records(path, rows, columns)
        return read_records(path)


def run_pipeline(plates: Iterable[Plate], config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run the pipeline's per-plate and per-patient steps on simulated plates (a patient on
    two plates is paired with both, as two rows of units.tsv per fraction).

    Settings as the jobs build them: ``QpcrSettings.from_config(qpcr section)`` to
    fit_curves / quantify, the whole
    ``qpcr``, ``normalisation`` and ``classification`` sections to normalise
    (``NormaliseSettings.from_config``), the ``classification`` section
    to classify (``ClassifySettings.from_config``). Returns the call rows of every patient.
    """
    from sortpcr.classify import CALL_COLUMNS, classify_patient
    from sortpcr.normalise import (
        EXPRESSION_COLUMNS,
        EXTRA_COLUMNS,
        normalise_patient,
    )
    from sortpcr.pairing import PAIR_COLUMNS, pair_patient
    from sortpcr.qpcr.curves import CURVE_COLUMNS, fit_curves
    from sortpcr.qpcr.quantify import QUANTITY_COLUMNS, quantify
    from sortpcr.qpcr.readers import COLUMNS
    from sortpcr.settings import ClassifySettings, NormaliseSettings, QpcrSettings

    qpcr = QpcrSettings.from_config(config["qpcr"])
    norm_settings = NormaliseSettings.from_config(
        config["qpcr"], config["normalisation"], config["classification"]
    )
    class_settings = ClassifySettings.from_config(config["classification"])
    calls: list[dict[str, Any]] = []
    tables: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    on_plates: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="calsim-") as tmp:
        hop = _Hop(Path(tmp))
        for plate in plates:
            wells = hop(plate.wells, COLUMNS)
            curves, _ = fit_curves(wells, qpcr)
            curves = hop(curves, CURVE_COLUMNS)
            quantities, _, _ = quantify(wells, curves, qpcr)
            tables[plate.plate] = (hop(quantities, QUANTITY_COLUMNS), curves)
            for patient in plate.patients:
                on_plates.setdefault(patient, []).append(plate.plate)
        for patient, names in on_plates.items():
            units = [
                {
                    "patient": patient,
                    "fraction": fraction,
                    "sorted_fcs": "",
                    "plate": name,
                    "qpcr_sample": f"{patient}{suffix}",
                }
                for fraction, suffix in FRACTIONS.items()
                for name in names
            ]
            flow = [
                {
                    "patient": patient,
                    "fraction": fraction,
                    "status": "pass",
                    "reason": "",
                    "purity": 0.99,
                    "pct_cd34pos": 50.0,
                }
                for fraction in ("presort", *FRACTIONS)
            ]
            pairs = pair_patient(
                patient,
                units,
                {name: tables[name][0] for name in names},
                flow,
                {name: tables[name][1] for name in names},
            )
            pairs = hop(pairs, PAIR_COLUMNS)
            expression = normalise_patient(pairs, norm_settings)
            expression = hop(expression, EXPRESSION_COLUMNS + EXTRA_COLUMNS)
            result = classify_patient(expression, "BCP", class_settings, patient=patient)
            calls += hop(result.calls, CALL_COLUMNS)
    return calls


# --- scoring ---------------------------------------------------------------------------


def true_call(fold: float, threshold: float = THRESHOLD) -> str:
    """The call the true fold deserves (same tie rule as the pipeline)."""
    from sortpcr.classify import call_fold

    return call_fold(fold, threshold)


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _flag_list(row: Mapping[str, Any]) -> list[str]:
    text = row.get("flags")
    return [] if text in (None, "") else [f.strip() for f in str(text).split(";") if f.strip()]


def judge(row: Mapping[str, Any], truth: Mapping[str, Any]) -> dict[str, Any]:
    """One call row against its truth: what kind of answer it is and whether it is right.

    ``bound``: the call rests on a bound (``fold_censor`` ``<``/``>``, a ``bound`` flag, or,
    before censoring columns existed, a call with no fold but one interval end);
    ``interval``: a numeric fold with both interval ends; ``flagged``: the interval crosses
    the threshold or the call rests on a bound.
    """
    call = str(row.get("call") or "")
    fold, low, high = _num(row.get("fold")), _num(row.get("fold_low")), _num(row.get("fold_high"))
    censor = str(row.get("fold_censor") or "").strip()
    flags = _flag_list(row)
    evaluable = call in ("CD34pos_higher", "CD34neg_higher", "no_difference")
    bound = evaluable and (
        censor in ("<", ">", "<=", ">=")
        or "bound" in flags
        or (not math.isfinite(fold) and (math.isfinite(low) or math.isfinite(high)))
    )
    interval = (
        evaluable and not bound and all(math.isfinite(v) and v > 0 for v in (fold, low, high))
    )
    crosses = str(row.get("ci_crosses_threshold")) == "True"
    t = float(truth["true_fold"])
    if interval:
        covered = low <= t <= high
    elif bound:
        covered = None
    else:
        covered = None
    bound_ok = None
    if bound:
        if censor.startswith("<") or (
            not censor and math.isfinite(high) and not math.isfinite(low)
        ):
            limit = fold if censor else high
            bound_ok = t <= limit * (1 + 1e-9) if math.isfinite(limit) else None
        else:
            limit = fold if censor else low
            bound_ok = t >= limit * (1 - 1e-9) if math.isfinite(limit) else None
    right = evaluable and call == true_call(t)
    perfect = true_call(2.0 ** float(truth["cdna_log2_fold"])) == true_call(t)
    return {
        **truth,
        "call": call,
        "fold": fold,
        "fold_low": low,
        "fold_high": high,
        "evaluable": evaluable,
        "interval": interval,
        "bound": bound,
        "bound_ok": bound_ok,
        "covered": covered,
        "flagged": bool(crosses or bound),
        "right": right,
        "perfect_right": perfect,
        "discordant": any(m in f for f in flags for m in DISCORDANT_MARKS),
        "width_log2": math.log2(high / low) if interval else math.nan,
    }


def _share(num: int, den: int) -> float | None:
    return num / den if den else None


def metrics(judged: list[dict[str, Any]]) -> dict[str, Any]:
    """The calibration figures of a set of judged pairs (shares are of the named subset)."""
    ev = [j for j in judged if j["evaluable"]]
    iv = [j for j in ev if j["interval"]]
    bd = [j for j in ev if j["bound"]]
    clear = [
        j
        for j in ev
        if abs(j["true_log2_fold"]) >= CLEAR_DIFFERENT or abs(j["true_log2_fold"]) <= CLEAR_EQUAL
    ]
    near = [j for j in ev if any(lo <= j["true_fold"] <= hi for lo, hi in NEAR_BANDS)]
    wrong = [j for j in ev if not j["right"]]
    wrong_unflagged = [j for j in wrong if not j["flagged"]]
    widths = sorted(j["width_log2"] for j in iv)
    return {
        "pairs": len(judged),
        "evaluable": len(ev),
        "not_evaluable": len(judged) - len(ev),
        "with_interval": len(iv),
        "coverage": _share(sum(bool(j["covered"]) for j in iv), len(iv)),
        "median_interval_width_log2": widths[len(widths) // 2] if widths else None,
        "bound_calls": len(bd),
        "bound_calls_true": sum(bool(j["bound_ok"]) for j in bd),
        "clear_pairs": len(clear),
        "clear_right": _share(sum(j["right"] for j in clear), len(clear)),
        "clear_wrong_unflagged": sum(not j["right"] and not j["flagged"] for j in clear),
        "clear_right_or_flagged": _share(
            sum(j["right"] or j["flagged"] for j in clear), len(clear)
        ),
        "clear_right_perfect_qpcr": _share(sum(j["perfect_right"] for j in clear), len(clear)),
        "near_pairs": len(near),
        "near_right_or_flagged": _share(sum(j["right"] or j["flagged"] for j in near), len(near)),
        "near_right": _share(sum(j["right"] for j in near), len(near)),
        "flagged": len([j for j in ev if j["flagged"]]),
        "wrong": len(wrong),
        "wrong_unflagged": len(wrong_unflagged),
        "wrong_unflagged_share": _share(len(wrong_unflagged), len(ev)),
        "unflagged_share_of_wrong": _share(len(wrong_unflagged), len(wrong)),
    }


def subsets(judged: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Figures for all pairs, duplicates, triplicates, pairs whose true quantities all lie
    within the standards (and the others), pairs with an outlier well, and the pairs the
    discordant-replicate rule touched (and those it did not)."""
    groups = {
        "all": judged,
        "duplicates": [j for j in judged if j["replicates"] == 2],
        "triplicates": [j for j in judged if j["replicates"] == 3],
        "in_range": [j for j in judged if j["in_range"]],
        "out_of_range": [j for j in judged if not j["in_range"]],
        "outlier_well": [j for j in judged if j["outlier_wells"]],
        "two_plates": [j for j in judged if j["plates"] == 2],
        "discordant_rule": [j for j in judged if j["discordant"]],
        "not_discordant": [j for j in judged if not j["discordant"]],
    }
    return {name: metrics(rows) for name, rows in groups.items()}


def evaluate(
    plates: list[Plate],
    truth: Mapping[tuple[str, str], Mapping[str, Any]],
    rt_sd_log2: float,
    references: tuple[str, ...] = (REFERENCE,),
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the pipeline with ``qpcr.rt_sd_log2 = rt_sd_log2`` (and config ``overrides``)
    and score it (:func:`subsets`)."""
    calls = run_pipeline(plates, load_config(rt_sd_log2, references, overrides))
    judged = [judge(row, truth[(str(row["patient"]), str(row["gene"]))]) for row in calls]
    label = "sortpcr" + "".join(f" [{k}={v}]" for k, v in (overrides or {}).items())
    return {"rt_sd_log2": rt_sd_log2, "analysis": label, **subsets(judged)}


def run(
    n_patients: int,
    seed: int,
    sim: SimSettings | None = None,
    rt_settings: Iterable[float] = (),
    reference: bool = True,
    variants: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Simulate once, evaluate once per ``qpcr.rt_sd_log2`` in ``rt_settings`` (default: 0
    and the simulated truth), once more per config override in ``variants`` (at the
    simulated RT SD), and the same for the reference analysis of ``calsim_ref`` when
    ``reference``. Returns a JSON-able dict."""
    sim = sim or SimSettings()
    plates, truth = simulate_cohort(n_patients, seed, sim)
    settings = list(rt_settings) or [0.0, sim.rt_sd_log2]
    runs = [evaluate(plates, truth, rt, sim.references) for rt in settings]
    runs += [
        evaluate(plates, truth, sim.rt_sd_log2, sim.references, variant) for variant in variants
    ]
    if reference:
        from calsim_ref import evaluate_reference

        runs += [
            evaluate_reference(plates, truth, sim.genes, sim.references, rt) for rt in settings
        ]
    return {
        "patients": n_patients,
        "seed": seed,
        "simulation": asdict(sim),
        "plates": len(plates),
        "runs": runs,
    }
