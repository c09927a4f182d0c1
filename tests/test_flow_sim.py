"""Demo FCS simulator and writer: determinism, instrument styles, identifying keywords."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

from sortpcr.fcs import read_fcs, read_text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "resources" / "demo"))
import flow_sim  # noqa: E402
from fcswrite import Channel, build_fcs  # noqa: E402

IDENTITY = {"$SRC": "Petrenko Ivan", "$OP": "op1", "$DATE": "03-MAR-2004", "PATIENT NAME": "Ivan"}


def _digests(paths: dict[str, Path]) -> dict[str, str]:
    return {k: hashlib.sha256(Path(p).read_bytes()).hexdigest() for k, p in paths.items()}


@pytest.mark.parametrize("style", ["diva", "cellquest"])
def test_same_seed_byte_identical(tmp_path: Path, style: str) -> None:
    a = flow_sim.write_patient_fcs(tmp_path / "a", "P01", 0.7, style, 42, IDENTITY)
    b = flow_sim.write_patient_fcs(tmp_path / "b", "P01", 0.7, style, 42, IDENTITY)
    c = flow_sim.write_patient_fcs(tmp_path / "c", "P01", 0.7, style, 43, IDENTITY)
    assert set(a) == {"presort", "CD34pos", "CD34neg"}
    assert [p.name for p in a.values()] == ["P01_presort.fcs", "P01_CD34pos.fcs", "P01_CD34neg.fcs"]
    assert _digests(a) == _digests(b)
    assert all(x != y for x, y in zip(_digests(a).values(), _digests(c).values(), strict=True))


def test_diva_style(tmp_path: Path) -> None:
    paths = flow_sim.write_patient_fcs(tmp_path, "P02", 0.48, "diva", 2, IDENTITY)
    data = read_fcs(paths["presort"])
    assert data.version == "3.0" and data.datatype == "F" and data.byteorder == "little"
    assert data.channels == ("FSC-A", "FSC-H", "FSC-W", "SSC-A", "SSC-H", "SSC-W", "FITC-A", "PE-A")
    assert data.stains[6:] == ("CD45 FITC", "CD34 PE")
    assert data.compensation == "file" and data.spill_channels == ("FITC-A", "PE-A")
    assert data.n_events == 20000 and read_fcs(paths["CD34pos"]).n_events == 5000
    # written uncompensated: compensating with the same matrix restores the simulated PE of
    # CD45-bright cells to CD34-negative levels
    text = read_text(paths["presort"])
    assert text["$SPILLOVER"].startswith("2,FITC-A,PE-A,")
    for key, value in IDENTITY.items():
        assert text[key] == value
    assert text["$FIL"] == "P02_presort.fcs"


def test_cellquest_style(tmp_path: Path) -> None:
    paths = flow_sim.write_patient_fcs(tmp_path, "P11", 0.46, "cellquest", 11, IDENTITY)
    data = read_fcs(paths["presort"])
    assert data.version == "2.0" and data.datatype == "I" and data.byteorder == "big"
    assert data.channels == ("FSC-H", "SSC-H", "FL1-H", "FL2-H")
    assert data.log_decades == (0.0, 0.0, 4.0, 4.0) and data.ranges == (1024,) * 4
    assert data.compensation == "none"
    # log channels: scale values 10**(4 c / 1024) between 1 and 10^4
    fl2 = data.events[:, 3]
    assert fl2.min() >= 1.0 and fl2.max() < 10**4
    channels = np.log10(fl2) * 1024 / 4
    np.testing.assert_allclose(channels, np.round(channels), atol=1e-9)
    text = read_text(paths["presort"])
    assert text["$P3E"] == "4,0" and text["$BYTEORD"] == "4,3,2,1"
    assert text["PATIENT NAME"] == "Ivan"


def test_spillover_is_applied_in_the_data(tmp_path: Path) -> None:
    """Bright CD45 lymphocytes look CD34+ before compensation and not after."""
    paths = flow_sim.write_patient_fcs(tmp_path, "P01", 0.7, "diva", 1, {})
    data = read_fcs(paths["presort"])
    fitc, pe_raw, pe = data.uncompensated[:, 6], data.uncompensated[:, 7], data.events[:, 7]
    bright = fitc > 10**4.2
    assert bright.sum() > 100
    assert np.median(pe_raw[bright]) > 2000 and np.median(pe[bright]) < 300


def test_writer_round_trip_and_bad_arguments() -> None:
    ev = np.arange(12, dtype=np.float32).reshape(4, 3)
    blob = build_fcs(ev, [Channel("A"), Channel("B"), Channel("C")], {"$CYT": "x"})
    assert blob[:6] == b"FCS3.0" and int(blob[26:34]) == int(blob[18:26]) + 1
    with pytest.raises(ValueError):
        build_fcs(ev, [Channel("A")])
    with pytest.raises(ValueError):
        flow_sim.write_patient_fcs(Path("/nonexistent"), "P01", 1.5, "diva", 1, {})
    with pytest.raises(ValueError):
        flow_sim.write_patient_fcs(Path("/nonexistent"), "P01", 0.5, "aria", 1, {})


def test_demo_style_assignment() -> None:
    assert [flow_sim.style_for(f"P{i:02d}") for i in (1, 8, 9, 17)] == [
        "diva",
        "diva",
        "cellquest",
        "cellquest",
    ]
