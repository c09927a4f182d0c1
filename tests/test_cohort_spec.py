"""The demo cohort's truth reproduces the study, computed from the spec alone.

This proves the spec (resources/demo/cohort_spec.py); the end-to-end test proves that the
pipeline recovers it from the simulated raw files. The expected table below is typed in from
issue 2 / the study, independently of the spec module's own EXPECTED_* constants.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest

from tests.conftest import load_cohort_spec

ROOT = Path(__file__).resolve().parents[1]


spec = load_cohort_spec()

# issue 2, section 4 (columns BCL2, MDR1, BCRP, LRP; "+" pos, "-" neg, "." no difference)
ISSUE_TABLE = """
P01 BCP + . + . CD34pos_only
P02 BCP . - - . CD34neg_only
P03 BCP . + - . both
P04 BCP . + . . CD34pos_only
P05 BCP . . . . none
P06 BCP . + . . CD34pos_only
P07 BCP - . . . CD34neg_only
P08 BCP - . . . CD34neg_only
P09 BCP . - . . CD34neg_only
P10 BCP . - . . CD34neg_only
P11 BCP . - . . CD34neg_only
P12 T   . + - . both
P13 T   . + . - both
P14 T   . - - - CD34neg_only
P15 T   . + . . CD34pos_only
P16 T   . - . - CD34neg_only
P17 T   - . - . CD34neg_only
"""
SYMBOL = {"+": "CD34pos_higher", "-": "CD34neg_higher", ".": "no_difference"}


def _issue_rows():
    for line in ISSUE_TABLE.strip().splitlines():
        patient, lineage, bcl2, mdr1, bcrp, lrp, group = line.split()
        calls = {"BCL2": bcl2, "MDR1": mdr1, "BCRP": bcrp, "LRP": lrp}
        yield patient, lineage, {g: SYMBOL[s] for g, s in calls.items()}, group


def _measured_fold(patient: str, gene: str) -> float:
    """Fold CD34pos/CD34neg the way the pipeline computes it: (target/GUS)+ / (target/GUS)-."""
    truth = spec.true_quantities()[patient]
    pos = truth["CD34pos"]["relative"]
    neg = truth["CD34neg"]["relative"]
    return (pos[gene] / pos["GUS"]) / (neg[gene] / neg["GUS"])


def _call(fold: float) -> str:
    if fold >= 2.0:
        return "CD34pos_higher"
    if fold <= 0.5:
        return "CD34neg_higher"
    return "no_difference"


def _group(calls: dict[str, str]) -> str:
    pos = any(c == "CD34pos_higher" for c in calls.values())
    neg = any(c == "CD34neg_higher" for c in calls.values())
    return {(True, True): "both", (True, False): "CD34pos_only"}.get(
        (pos, neg), "CD34neg_only" if neg else "none"
    )


def _lineage(patient: str) -> str:
    return next(str(r["lineage"]) for r in spec.PATIENTS if r["patient"] == patient)


def test_table1_is_the_studys():
    rows = spec.PATIENTS
    assert [r["patient"] for r in rows] == [f"P{i:02d}" for i in range(1, 18)]
    assert sum(r["lineage"] == "BCP" for r in rows) == 11
    assert sum(r["lineage"] == "T" for r in rows) == 6
    assert [r["patient"] for r in rows if r["status"] == "relapse"] == ["P09", "P12"]
    assert [r["patient"] for r in rows if r["fusion"] == "TEL-AML1"] == ["P06", "P07", "P08", "P10"]
    assert rows[1]["age"] == "<1"
    # study: median CD34 50 % (14-80 %), median age 10 years
    cd34 = [float(r["cd34_pct"]) for r in rows]
    assert statistics.median(cd34) == 50.0 and min(cd34) == 14.0 and max(cd34) == 80.0
    assert all(10.0 <= v <= 90.0 for v in cd34)
    ages = [0.5 if r["age"] == "<1" else float(r["age"]) for r in rows]
    assert statistics.median(ages) == 10.0
    assert rows[15]["markers"] == "CD8, CD3, CD13, CD10, CD117, CD1a, TdT"


@pytest.mark.parametrize("patient,lineage,calls,group", list(_issue_rows()))
def test_calls_and_group_recovered(patient, lineage, calls, group):
    assert _lineage(patient) == lineage
    got = {gene: _call(_measured_fold(patient, gene)) for gene in calls}
    assert got == calls
    assert _group(got) == group
    # the spec's own constants agree with the issue table
    assert spec.EXPECTED_GROUPS[patient] == group
    own = {"pos": "CD34pos_higher", "neg": "CD34neg_higher", "-": "no_difference"}
    assert {g: own[c] for g, c in spec.EXPECTED_CALLS[patient].items()} == calls


def test_table2_counts_and_percentages():
    groups = [g for _, _, _, g in _issue_rows()]
    computed = [
        _group({gene: _call(_measured_fold(p, gene)) for gene in spec.GENES})
        for p in spec.patient_ids()
    ]
    assert computed == groups
    # study: 9/17 (52.9 %) CD34neg only, 4/17 (23.5 %) CD34pos only, 3/17 both, 1/17 none
    assert computed.count("CD34neg_only") == 9
    assert computed.count("CD34pos_only") == 4
    assert computed.count("both") == 3
    assert computed.count("none") == 1


@pytest.mark.parametrize(
    "lineage,gene,pos,neg",
    [
        ("BCP", "BCL2", 1, 2),
        ("BCP", "MDR1", 3, 4),
        ("BCP", "BCRP", 1, 2),
        ("BCP", "LRP", 0, 0),
        ("T", "BCL2", 0, 1),
        ("T", "MDR1", 3, 2),
        ("T", "BCRP", 0, 3),
        ("T", "LRP", 0, 3),
    ],
)
def test_per_gene_counts_of_the_results_section(lineage, gene, pos, neg):
    patients = [p for p in spec.patient_ids() if _lineage(p) == lineage]
    calls = [_call(_measured_fold(p, gene)) for p in patients]
    assert calls.count("CD34pos_higher") == pos
    assert calls.count("CD34neg_higher") == neg


def test_calls_clear_of_the_threshold():
    """Different: >= 2.6x; no difference: <= 1.5x; except folds the study gives (LRP P16 2.3)."""
    given = {("P13", "LRP"), ("P14", "LRP"), ("P16", "LRP"), ("P14", "BCRP")}
    for patient in spec.patient_ids():
        for gene in spec.GENES:
            fold = _measured_fold(patient, gene)
            magnitude = max(fold, 1.0 / fold)
            if (patient, gene) in given:
                continue
            assert magnitude >= 2.6 - 1e-9 or magnitude <= 1.5 + 1e-9, (patient, gene, fold)


def test_t_all_lrp_and_bcrp_as_the_study():
    t_patients = [p for p in spec.patient_ids() if _lineage(p) == "T"]
    lrp = {p: 1.0 / _measured_fold(p, "LRP") for p in t_patients}  # CD34-/CD34+
    assert all(v > 1.0 for v in lrp.values())
    assert min(lrp.values()) == pytest.approx(1.2)
    assert round(max(lrp.values()), 1) == 3.9
    # the study's numbers to its one decimal
    assert round(lrp["P13"], 1) == 2.7
    assert round(lrp["P14"], 1) == 3.9
    assert round(lrp["P16"], 1) == 2.3
    bcrp = {p: 1.0 / _measured_fold(p, "BCRP") for p in t_patients}
    higher = [v for v in bcrp.values() if v > 1.0]
    assert len(higher) == 5
    assert min(higher) == pytest.approx(1.2)
    assert max(higher) == pytest.approx(8.1)
    assert bcrp["P14"] == pytest.approx(8.1)
    assert sum(v >= 2.0 for v in bcrp.values()) == 3


@pytest.mark.parametrize(
    "lineage,fraction,median,low,high",
    [
        ("T", "CD34pos", 60.4, 13.2, 2384.0),
        ("T", "CD34neg", 117.2, 6.3, 967.2),
        ("BCP", "CD34pos", 2.7, 0.16, 15.3),
        ("BCP", "CD34neg", 3.6, 0.06, 26.4),
    ],
)
def test_mdr1_medians_and_ranges(lineage, fraction, median, low, high):
    truth = spec.true_quantities()
    values = [
        truth[p][fraction]["relative"]["MDR1"] / truth[p][fraction]["relative"]["GUS"]
        for p in spec.patient_ids()
        if _lineage(p) == lineage
    ]
    assert statistics.median(values) == pytest.approx(median)
    assert min(values) == pytest.approx(low)
    assert max(values) == pytest.approx(high)
    assert spec.EXPECTED_MDR1_SUMMARY[(lineage, fraction)] == (median, low, high)


def test_raw_quantities_inside_the_standards_except_the_declared_two():
    outside = set()
    for patient, fractions in spec.true_quantities().items():
        for fraction, units in fractions.items():
            relative = units["relative"]
            assert 0.003 <= relative["GUS"] <= 0.8, (patient, fraction)
            for target, quantity in relative.items():
                if not 0.0015 <= quantity <= 0.95:
                    outside.add((patient, fraction, target))
    assert outside == set(spec.OUT_OF_RANGE)
    assert outside == {("P12", "CD34pos", "MDR1"), ("P14", "CD34neg", "MDR1")}


def test_fusion_truth():
    truth = spec.true_quantities()
    with_copies = sorted(p for p in truth if "copies" in truth[p]["CD34pos"])
    assert with_copies == ["P06", "P07", "P08", "P10"]
    for patient, fractions in truth.items():
        for index in range(len(spec.FRACTIONS)):
            assert 2e4 <= spec.GUS_COPIES[patient][index] <= 9e4
        if patient not in with_copies:
            continue
        ncn = {
            f: fractions[f]["copies"]["TEL-AML1"] / fractions[f]["copies"]["GUS"] * 100
            for f in spec.FRACTIONS
        }
        # higher in CD34+ in all four, clear of replicate noise
        assert ncn["CD34pos"] / ncn["CD34neg"] >= 1.5
        for f in spec.FRACTIONS:
            copies = fractions[f]["copies"]
            assert 10 <= copies["TEL-AML1"] <= 1e6  # inside the plasmid standards
            assert 1e3 <= copies["GUS"] <= 1e5
            assert ncn[f] == pytest.approx(spec.TEL_AML1_NCN[patient][spec.FRACTIONS.index(f)])


def test_rows_match_nested():
    rows = spec.true_quantity_rows()
    nested = spec.true_quantities()
    assert len(rows) == 17 * 2 * 5 + 4 * 2 * 2
    for row in rows:
        value = nested[row["patient"]][row["fraction"]][row["unit"]][row["target"]]
        assert row["quantity"] == value
        assert math.isfinite(value) and value > 0
