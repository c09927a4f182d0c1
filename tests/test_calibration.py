"""Calibration of the fold intervals and calls on simulated plates (issue 11).

A small fixed-seed run of ``tests/benchmarks/calsim.py``: plates simulated well by well with
a noise model that is not the pipeline's own (Student-t well noise, 2 % late outlier wells,
RT variation of 0.25 log2 units per sample and gene, compounding pipetting error in the
standards, efficiencies 0.90-1.02, duplicates and triplicates, values below the lowest
standard and undetermined), run through fit_curves -> quantify -> pair_patient ->
normalise_patient -> classify_patient with the shipped config and ``qpcr.rt_sd_log2`` set to
the simulated RT SD.

Targets of issue 11: coverage of the 95 % fold intervals 0.93-0.97; clear pairs (true
|log2 fold| >= 2 or <= 0.3) get a wrong call without a flag at most once in 200; wrong calls
without a flag at most 1 in 160 evaluable pairs. A call counts as flagged when its interval crosses
the threshold or it rests on a bound. "Clear calls 100 %" cannot mean that every clear pair
is called right: RT variation of 0.25 log2 units alone gives the log2 fold an SD of 0.5,
so even a perfect qPCR of these cDNAs misses some clear pairs (the benchmark prints that
ceiling as ``clear_right_perfect_qpcr``); what an analysis can promise is that such a miss is
flagged, save for rare tail events. The reference analysis of ``calsim_ref`` (pooled
replicate variance, shared-curve delta method, t quantiles, RT variance, earliest-well rule)
meets these targets on the same simulation (tested here), so they are reachable.
"""

from __future__ import annotations

import math
import statistics
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))

import calsim  # noqa: E402

N_PATIENTS = 600
SEED = 20261206
TRUE_RT_SD = calsim.SimSettings().rt_sd_log2


@pytest.fixture(scope="module")
def cohort():
    return calsim.simulate_cohort(N_PATIENTS, SEED)


@pytest.fixture(scope="module")
def figures(cohort):
    plates, truth = cohort
    return calsim.evaluate(plates, truth, TRUE_RT_SD)


def test_simulation_is_deterministic_and_has_the_stated_noise(cohort):
    plates, truth = cohort
    again, _ = calsim.simulate_cohort(3, SEED)
    first, _ = calsim.simulate_cohort(3, SEED)
    assert [p.wells for p in again] == [p.wells for p in first]
    wells = [w for p in plates for w in p.wells if w["role"] != "ntc"]
    outliers = sum(sum(p.outliers.values()) for p in plates)
    # outlier wells: about 2 % of all wells (unknowns and standards), binomial spread
    assert 0.015 < outliers / len(wells) < 0.025
    # folds dense near the threshold: half drawn in 1.6-2.5x or 0.4-0.625x, plus the share of
    # the log2-uniform 20 % that lands there (0.2 * 1.29 / 4): 56 % expected
    near = [
        t for t in truth.values() if any(lo <= t["true_fold"] <= hi for lo, hi in calsim.NEAR_BANDS)
    ]
    assert 0.52 < len(near) / len(truth) < 0.60
    # both replicate designs present
    assert {p.replicates for p in plates} == {2, 3}
    # heavy-tailed well noise: the duplicate differences of mid-range unknowns (no outlier)
    # have an SD near sqrt(2) * 0.2 cycles
    diffs = []
    for plate in plates:
        groups: dict[str, list[float]] = {}
        for w in plate.wells:
            if w["role"] == "unknown" and not math.isnan(w["ct"]) and w["ct"] < 30:
                groups.setdefault(w["replicate_group"], []).append(w["ct"])
        for key, cts in groups.items():
            sample = key.split("|")[1]
            target = key.split("|")[0]
            if len(cts) >= 2 and not plate.outliers.get((sample, target)):
                diffs.append(cts[0] - cts[1])
    assert 0.25 < statistics.stdev(diffs) < 0.32
    # RT variation is there: the cDNA-level folds scatter around the true ones by ~0.5 log2
    scatter = [t["cdna_log2_fold"] - t["true_log2_fold"] for t in truth.values()]
    assert 0.45 < statistics.stdev(scatter) < 0.55


def test_enough_pairs_are_evaluable(figures):
    everything = figures["all"]
    assert everything["evaluable"] >= 0.4 * everything["pairs"]
    assert figures["duplicates"]["with_interval"] >= 200
    assert figures["triplicates"]["with_interval"] >= 200


def test_fold_intervals_cover_the_true_fold_95_percent(figures):
    coverage = figures["all"]["coverage"]
    assert 0.93 <= coverage <= 0.97, f"coverage {coverage:.3f}"


def test_duplicates_and_triplicates_are_both_calibrated(figures):
    for design in ("duplicates", "triplicates"):
        coverage = figures[design]["coverage"]
        assert 0.91 <= coverage <= 0.98, f"{design}: coverage {coverage:.3f}"


def test_clear_pairs_are_called_right_or_flagged(figures):
    everything = figures["all"]
    assert everything["clear_pairs"] >= 300
    # at most 1 in 200 clear pairs wrong without a flag: a few tail events (an RT deviation
    # of 3-4 SD, two late wells in one group) defeat any analysis of the wells
    assert everything["clear_wrong_unflagged"] <= everything["clear_pairs"] / 200


def test_wrong_calls_without_a_flag_at_most_one_in_160(figures):
    everything = figures["all"]
    assert everything["wrong_unflagged"] <= everything["evaluable"] / 160, (
        f"{everything['wrong_unflagged']} wrong and unflagged of {everything['evaluable']}"
    )


def test_bounds_hold_the_true_fold(figures):
    # a call on a bound (a fraction below its limit) gives the fold's bound at the end of the
    # 95 % interval: it may miss the true fold now and then (2.5 % one-sided), not more
    everything = figures["all"]
    misses = everything["bound_calls"] - everything["bound_calls_true"]
    assert misses <= 1 + 0.05 * everything["bound_calls"]


def test_a_reference_analysis_meets_the_targets_on_this_simulation(cohort):
    """The yardstick: the simulation is not harder than an analysis of the wells can handle."""
    import calsim_ref

    plates, truth = cohort
    sim = calsim.SimSettings()
    rows = calsim_ref.reference_calls(plates, sim.genes, sim.references, TRUE_RT_SD)
    judged = [calsim.judge(row, truth[(row["patient"], row["gene"])]) for row in rows]
    everything = calsim.metrics(judged)
    assert 0.93 <= everything["coverage"] <= 0.97
    assert everything["wrong_unflagged"] <= everything["evaluable"] / 160
    assert everything["clear_wrong_unflagged"] <= everything["clear_pairs"] / 200
