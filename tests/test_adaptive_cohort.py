"""The generated cohort of issue 12 (tests/adaptive_sim.py): 30 patients, 30,000 pre-sort
events each, FACSDiva and CellQuest styles, with the blast cluster, CD34 modes and the
day's gains moving from patient to patient.

With the default (adaptive) strategies every patient's % CD34+ is within 3 points of the
truth and every purity verdict is right. The same cohort with the old fixed strategies
(``*_fixed.xml``) gets 11 of the 30 patients wrong (seed 12) - the test asserts that the
cohort really is hard for fixed gates (at least 5 wrong), so passing it means something.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sortpcr.flowqc import analyse_patient
from tests.adaptive_sim import write_cohort
from tests.test_flowqc import SETTINGS

STRATEGIES = Path(__file__).resolve().parents[1] / "resources" / "gating"
FRACTIONS = ("CD34pos", "CD34neg")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return write_cohort(tmp_path_factory.mktemp("adaptive_cohort"), n_patients=30, seed=12)


def _errors(truth, strategy: Path) -> list[str]:
    """What one strategy got wrong for one patient (empty: all right)."""
    sorted_paths = {f: truth.paths[f] for f in FRACTIONS}
    result = analyse_patient(
        truth.patient, truth.paths["presort"], sorted_paths, {}, strategy, SETTINGS
    )
    wrong = []
    pct = result["heterogeneity"]["pct_cd34pos"]
    if pct is None or abs(pct - truth.pct_cd34pos) > 3.0:
        wrong.append(f"% CD34+ {pct} vs truth {truth.pct_cd34pos:.1f}")
    for fraction in FRACTIONS:
        verdict = result["purity"][fraction]
        should = "pass" if truth.purity[fraction] >= 0.98 else "fail"
        if verdict["status"] != should:
            wrong.append(
                f"{fraction} {verdict['status']} (purity {verdict.get('purity')}, "
                f"truth {truth.purity[fraction]:.3f})"
            )
    return wrong


def _strategy(style: str, fixed: bool) -> Path:
    name = "facsdiva" if style == "diva" else "cellquest"
    return STRATEGIES / f"{name}{'_fixed' if fixed else ''}.xml"


def test_cohort_covers_the_variation(cohort) -> None:
    assert len(cohort) == 30 and {t.style for t in cohort} == {"diva", "cellquest"}
    gaps = [t.cd34_pos_mode - t.cd34_neg_mode for t in cohort]
    assert min(gaps) >= 1.1 - 1e-9 and min(gaps) < 1.2
    assert max(abs(t.gain_cd34) for t in cohort) > 0.15
    assert max(t.blast_cd45 for t in cohort) - min(t.blast_cd45 for t in cohort) > 0.5
    verdicts = [p >= 0.98 for t in cohort for p in t.purity.values()]
    assert 0 < sum(verdicts) < len(verdicts)  # both verdicts occur
    assert all(abs(p - 0.98) >= 0.008 for t in cohort for p in t.purity.values())


def test_adaptive_strategy_gets_every_patient_right(cohort) -> None:
    wrong = {t.patient: _errors(t, _strategy(t.style, fixed=False)) for t in cohort}
    assert {p: w for p, w in wrong.items() if w} == {}


def test_fixed_strategy_gets_many_wrong(cohort) -> None:
    wrong = [t.patient for t in cohort if _errors(t, _strategy(t.style, fixed=True))]
    assert len(wrong) >= 5, wrong
