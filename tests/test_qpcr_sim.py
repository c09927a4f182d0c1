"""The demo's iCycler plate simulator: determinism, the export's shape, and round trips
through our own reader, curves and quantification."""

from __future__ import annotations

import csv
import math
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from sortpcr.qpcr.curves import fit_curves
from sortpcr.qpcr.quantify import quantify
from sortpcr.qpcr.readers import read_plate
from tests.conftest import normalise_settings, qpcr_settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "resources" / "demo"))

import qpcr_sim  # noqa: E402

SHARED = ROOT.parent / "shared"
SETTINGS = qpcr_settings()  # the shipped defaults of config/config.yaml
TARGETS = ["BCL2", "MDR1", "LRP", "BCRP", "GUS"]
IM9 = [1.0, 0.1, 0.01, 0.001]
SAMPLES = {
    "P01pos": {"BCL2": 0.21, "MDR1": 0.0042, "LRP": 0.05, "BCRP": 0.33, "GUS": 0.5},
    "P01neg": {"BCL2": 0.02, "MDR1": 0.0, "LRP": 0.061, "BCRP": 0.0031, "GUS": 0.42},
    "P02pos": {"BCL2": 0.9, "MDR1": 0.11, "LRP": 0.0015, "BCRP": 0.012, "GUS": 0.0035},
    "P02neg": {"BCL2": 0.0123, "MDR1": 0.75, "LRP": 0.3, "BCRP": 0.08, "GUS": 0.2},
}


def expression_plate(path: Path, seed: int = 11, replicates: int = 2) -> None:
    qpcr_sim.write_icycler_plate(
        path,
        plate="EXPR01",
        targets=TARGETS,
        standards={t: IM9 for t in TARGETS},
        samples=SAMPLES,
        unit="relative",
        replicates=replicates,
        seed=seed,
    )


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    expression_plate(tmp_path / "a.csv", seed=5)
    expression_plate(tmp_path / "b.csv", seed=5)
    expression_plate(tmp_path / "c.csv", seed=6)
    a = (tmp_path / "a.csv").read_bytes()
    assert a == (tmp_path / "b.csv").read_bytes()
    assert a != (tmp_path / "c.csv").read_bytes()


def test_export_looks_like_the_icycler_family(tmp_path):
    path = tmp_path / "p.csv"
    expression_plate(path)
    raw = path.read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n")  # CRLF throughout
    rows = list(csv.reader(raw.decode("ascii").splitlines()))
    real = SHARED / "qpcr" / "biorad_myiq_pcrquant_unkn_overflow.csv"
    if real.is_file():  # the same column set as a real MyiQ export, leading empty column
        with real.open(newline="") as handle:
            assert rows[0] == next(csv.reader(handle))
    assert rows[0][0] == "" and rows[0][1] == "Well" and all(r[0] == "" for r in rows)
    wells = [r[1] for r in rows[1:]]
    assert wells[:13] == qpcr_sim.plate_wells()[:13] and wells[12] == "B01"
    # 5 targets x 4 levels x 2 + 4 samples x 5 targets x 2 + 5 NTC
    assert len(wells) == 85
    by_well = {r[1]: r for r in rows[1:]}
    ntc = [r for r in rows[1:] if r[3] == "NTC"]
    assert len(ntc) == 5 and all(r[6] == "N/A" and r[7] == "00.00" for r in ntc)
    assert by_well["A01"][4] == "BCL2_STD-1" and by_well["A01"][9] == "1.000E+00"
    # the true MDR1 of P01neg is 0: no amplification in either well
    undetected = [r for r in rows[1:] if r[4] == "MDR1_P01neg"]
    assert [r[6] for r in undetected] == ["N/A", "N/A"]
    # Ct Mean / Ct Std. Dev as the software computes them over the group's wells with a Ct
    groups: dict[str, list[list[str]]] = {}
    for r in rows[1:]:
        groups.setdefault(r[5], []).append(r)
    for members in groups.values():
        cts = [float(r[6]) for r in members if r[6] != "N/A"]
        for r in members:
            if r[6] == "N/A":
                assert r[7] == "00.00"
            else:
                assert float(r[7]) == pytest.approx(sum(cts) / len(cts), abs=0.006)


def test_read_back_recovers_quantities_and_efficiencies(tmp_path):
    path = tmp_path / "p.csv"
    expression_plate(path, replicates=2)
    wells = read_plate(path, "EXPR01", None, SETTINGS)
    curves = pd.DataFrame(fit_curves(wells, SETTINGS)[0])
    assert len(curves) == 5 and set(curves["status"]) == {"pass"}
    assert curves["efficiency"].between(0.90, 1.05).all()
    _, truth = qpcr_sim.simulate_plate(
        "EXPR01", TARGETS, {t: IM9 for t in TARGETS}, SAMPLES, "relative", 2, 11
    )
    for row in curves.itertuples():
        assert row.efficiency == pytest.approx(truth[row.target]["efficiency"], abs=0.05)
        assert row.intercept == pytest.approx(truth[row.target]["intercept"], abs=0.5)
    q = pd.DataFrame(quantify(wells, curves, SETTINGS)[0])
    q = q.set_index(["sample", "target"])
    for sample, targets in SAMPLES.items():
        for target, true in targets.items():
            r = q.loc[(sample, target)]
            if true == 0:
                assert r.status == "undetected"
                continue
            # 0.15-cycle noise: about 0.03 log10 per duplicate mean, plus the curve's error
            assert abs(r.log10_quantity - math.log10(true)) < 0.15, (sample, target, r)
            assert abs(r.log10_quantity - math.log10(true)) < 5 * r.log10_quantity_se + 0.02
            expected = "ok" if 0.001 <= true <= 1.0 else "below_range"
            assert r.status == expected, (sample, target, r.status)


def test_copies_plate_round_trip(tmp_path):
    path = tmp_path / "fus.csv"
    samples = {
        "P06pos": {"TEL-AML1": 48000.0, "GUS": 52000.0},
        "P06neg": {"TEL-AML1": 7600.0, "GUS": 31000.0},
        "P05pos": {"TEL-AML1": 0.0, "GUS": 40000.0},
    }
    qpcr_sim.write_icycler_plate(
        path,
        plate="FUS01",
        targets=["TEL-AML1", "GUS"],
        standards={"TEL-AML1": [1e1, 1e2, 1e3, 1e5, 1e6], "GUS": [1e3, 1e4, 1e5]},
        samples=samples,
        unit="copies",
        replicates=2,
        seed=3,
    )
    wells = read_plate(path, "FUS01", "icycler", SETTINGS)
    assert set(wells["unit"]) == {"copies"}
    curves = pd.DataFrame(fit_curves(wells, SETTINGS)[0])
    assert set(curves["status"]) == {"pass"}
    assert curves["slope"].between(-3.6, -3.2).all()  # 90-105 % in EAC's -3.9..-3.0
    q = pd.DataFrame(quantify(wells, curves, SETTINGS)[0])
    q = q.set_index(["sample", "target"])
    for sample, targets in samples.items():
        for target, true in targets.items():
            r = q.loc[(sample, target)]
            if true == 0:
                assert r.status == "undetected"
            else:
                assert r.status == "ok"
                assert abs(r.log10_quantity - math.log10(true)) < 0.15


def test_plate_too_full_is_refused_with_a_way_out(tmp_path):
    with pytest.raises(ValueError, match=r"105 wells needed.*std_replicates=1"):
        expression_plate(tmp_path / "x.csv", replicates=3)
    qpcr_sim.write_icycler_plate(
        tmp_path / "y.csv",
        plate="EXPR03",
        targets=TARGETS,
        standards={t: IM9 for t in TARGETS},
        samples=SAMPLES,
        unit="relative",
        replicates=3,
        seed=1,
        std_replicates=1,
    )
    wells = read_plate(tmp_path / "y.csv", "EXPR03", None, SETTINGS)
    assert len(wells) == 20 + 60 + 5


def test_tsv_round_trip_and_figure(tmp_path):
    """What the pipeline does between jobs: wells.tsv and curves.tsv written with
    sortpcr.io and read back give the same quantities; the figure is byte-identical twice."""
    from sortpcr.io import read_tsv, write_tsv
    from sortpcr.plots.qpcr import plot_plate

    path = tmp_path / "p.csv"
    expression_plate(path)
    wells = read_plate(path, "EXPR01", None, SETTINGS)
    curves = pd.DataFrame(fit_curves(wells, SETTINGS)[0])
    direct, qc, _ = quantify(wells, curves, SETTINGS)
    direct = pd.DataFrame(direct)
    write_tsv(tmp_path / "wells.tsv", wells)
    write_tsv(tmp_path / "curves.tsv", curves)
    wells_back = read_tsv(tmp_path / "wells.tsv")
    curves_back = read_tsv(tmp_path / "curves.tsv")
    assert (wells_back["target"] == wells["target"]).all()
    again = pd.DataFrame(quantify(wells_back, curves_back, SETTINGS)[0])
    assert list(again["status"]) == list(direct["status"])
    assert list(again["flags"].fillna("")) == list(direct["flags"])
    ok = direct["log10_quantity"].notna()
    diff = (again.loc[ok, "log10_quantity"] - direct.loc[ok, "log10_quantity"]).abs()
    assert diff.max() < 1e-4  # curves.tsv keeps 6 significant digits

    plot_plate(qc, curves, direct, tmp_path / "a.png")
    plot_plate(qc, curves, direct, tmp_path / "b.png")
    png = (tmp_path / "a.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == (tmp_path / "b.png").read_bytes()


def test_generated_cohort_with_three_reference_genes(tmp_path):
    """Three patients on one simulated iCycler plate with GUS, ABL1 and B2M as references;
    in P03 B2M is 4x higher in CD34pos than CD34neg (the other references equal). From the
    raw export: MDR1 is normalised to the references' geometric mean, only P03 is flagged
    ``reference_disagreement``, and geNorm ranks B2M least stable."""
    from sortpcr.normalise import genorm_m, normalise_patient
    from sortpcr.pairing import pair_patient

    targets = ["GUS", "ABL1", "B2M", "MDR1"]
    truth = {}
    for patient, mdr1, b2m_shift in (("P01", (0.2, 0.05), 1.0), ("P02", (0.03, 0.09), 1.0),
                                     ("P03", (0.1, 0.1), 4.0)):  # fmt: skip
        for index, fraction in enumerate(("pos", "neg")):
            shift = b2m_shift if fraction == "pos" else 1.0
            truth[f"{patient}{fraction}"] = {
                "GUS": 0.1, "ABL1": 0.05, "B2M": 0.2 * shift, "MDR1": mdr1[index]
            }  # fmt: skip
    path = tmp_path / "refs.csv"
    qpcr_sim.write_icycler_plate(
        path, plate="R1", targets=targets, standards={t: IM9 for t in targets},
        samples=truth, unit="relative", replicates=2, seed=3, noise_sd=0.08,
    )  # fmt: skip
    aliases = {**SETTINGS.target_aliases, "ABL1": ("ABL1",), "B2M": ("B2M",)}
    settings = replace(SETTINGS, target_aliases=aliases)
    wells = read_plate(path, "R1", None, settings)
    curves, _ = fit_curves(wells, settings)
    assert {c["status"] for c in curves} == {"pass"}
    quantities = {"R1": quantify(wells, curves, settings)[0]}
    config = normalise_settings(qpcr={"reference_genes": ["GUS", "ABL1", "B2M"]})
    flagged, shares = {}, {}
    for patient in ("P01", "P02", "P03"):
        units = [{"patient": patient, "fraction": f"CD34{f}", "sorted_fcs": "x", "plate": "R1",
                  "qpcr_sample": f"{patient}{f}"} for f in ("pos", "neg")]  # fmt: skip
        flow = [{"patient": patient, "fraction": fr, "status": "pass", "reason": "",
                 "purity": 0.99, "pct_cd34pos": 50.0}
                for fr in ("presort", "CD34pos", "CD34neg")]  # fmt: skip
        table = normalise_patient(pair_patient(patient, units, quantities, flow), config)
        expr = {r["fraction"]: r for r in table if r["gene"] == "MDR1" and r["plate"] == "R1"}
        for fraction in ("CD34pos", "CD34neg"):
            true = truth[f"{patient}{fraction[4:]}"]
            geomean = (true["GUS"] * true["ABL1"] * true["B2M"]) ** (1 / 3)
            row = expr[fraction]
            assert row["reference_genes"] == "GUS;ABL1;B2M"
            # 0.08-cycle noise over four quantities: well within 0.1 log10
            assert abs(row["log10_value"] - math.log10(true["MDR1"] / geomean)) < 0.1
        flagged[patient] = "reference_disagreement" in expr["CD34pos"]["flags"]
        for r in table:
            if r["kind"] == "reference" and r["plate"] == "R1":
                shares.setdefault(r["gene"], []).append(math.log2(r["value"]))
    assert flagged == {"P01": False, "P02": False, "P03": True}
    m = genorm_m(shares)
    assert max(m, key=m.get) == "B2M"
