"""Flow QC verdicts: hand-worked numbers, the demo cohort's CD34 % and purity, bad files."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import pytest

from sortpcr.errors import GatingError
from sortpcr.flowqc import (
    FLOW_COLUMNS,
    analyse_patient,
    analyse_patient_with_events,
    flow_rows,
    heterogeneity_verdict,
    purity_verdict,
)
from sortpcr.settings import FlowQCSettings
from tests.conftest import flowqc_settings, fresh_python, validated_config

REPO = Path(__file__).resolve().parents[1]
STRATEGIES = REPO / "resources" / "gating"
sys.path.insert(0, str(REPO / "resources" / "demo"))
import flow_sim  # noqa: E402

# Table 1 of the study: CD34+ % of blasts, patients 1-17.
TABLE1_CD34 = [70, 48, 58, 50, 22, 33, 34, 59, 46, 70, 46, 80, 14, 58, 67, 54, 47]
SECTIONS = {
    "gating": {
        "blast_gate": "Blasts",
        "fraction_gates": {"CD34pos": "CD34pos", "CD34neg": "CD34neg"},
        "markers": {
            "CD45": ["CD45", "FITC-A", "FITC-H", "FL1-H", "FL1-A", "FL1"],
            "CD34": ["CD34", "PE-A", "PE-H", "FL2-H", "FL2-A", "FL2"],
        },
        "min_blast_events": 200,
    },
    "qc": {"purity_min": 0.98, "purity_denominator": "blasts", "cd34_range": [0.10, 0.90]},
}
SETTINGS = FlowQCSettings.from_config(SECTIONS["gating"], SECTIONS["qc"])
IDENTITY = {
    "$SRC": "Kovalenko Olena",
    "PATIENT NAME": "Kovalenko Olena",
    "$OP": "A. Operator",
    "$DATE": "14-FEB-2005",
}


def _strategy(style: str) -> Path:
    return STRATEGIES / ("facsdiva.xml" if style == "diva" else "cellquest.xml")


def _run(paths: dict[str, Path], style: str, settings=SETTINGS, patient="P01"):
    labels = {k: f"../resources/demo/fcs/{Path(v).name}" for k, v in paths.items()}
    sorted_paths = {k: v for k, v in paths.items() if k != "presort"}
    return analyse_patient(
        patient, paths["presort"], sorted_paths, labels, _strategy(style), settings
    )


# --------------------------------------------------------------------------- hand-worked


def test_heterogeneity_verdict_by_hand() -> None:
    assert heterogeneity_verdict(1000, 100, (0.10, 0.90), 200)["status"] == "pass"  # 10 % in
    assert heterogeneity_verdict(1000, 900, (0.10, 0.90), 200)["status"] == "pass"  # 90 % in
    low = heterogeneity_verdict(1000, 95, (0.10, 0.90), 200)
    assert low["status"] == "fail" and low["pct_cd34pos"] == pytest.approx(9.5)
    assert "9.5 %" in low["reason"] and "10-90 %" in low["reason"]
    assert heterogeneity_verdict(1000, 905, (0.10, 0.90), 200)["status"] == "fail"
    few = heterogeneity_verdict(150, 75, (0.10, 0.90), 200)
    assert few["status"] == "not_evaluable" and "150" in few["reason"]


def test_purity_verdict_three_denominators_by_hand() -> None:
    kwargs = dict(purity_min=0.98, min_blasts=200, fraction="CD34pos")
    v = purity_verdict(980, 1100, 1050, 1000, {"CD34neg": 20}, denominator="blasts", **kwargs)
    assert v["status"] == "pass" and v["purity"] == pytest.approx(0.98)  # boundary passes
    assert v["purity_all_events"] == pytest.approx(980 / 1100)
    assert v["purity_cells"] == pytest.approx(980 / 1050)
    assert v["contamination"] == {"CD34neg": pytest.approx(0.02)}
    v = purity_verdict(979, 1100, 1050, 1000, {"CD34neg": 21}, denominator="blasts", **kwargs)
    assert v["status"] == "fail"
    assert "97.9 %" in v["reason"] and "CD34neg 2.1 %" in v["reason"]
    v = purity_verdict(980, 1100, 1050, 1000, {"CD34neg": 20}, denominator="cells", **kwargs)
    assert v["status"] == "fail" and v["purity"] == pytest.approx(0.9333333)
    v = purity_verdict(190, 200, 199, 195, {"CD34neg": 5}, denominator="blasts", **kwargs)
    assert v["status"] == "not_evaluable"


# --------------------------------------------------------------------------- demo cohort


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    out = tmp_path_factory.mktemp("cohort")
    results = {}
    for i, pct in enumerate(TABLE1_CD34, start=1):
        patient = f"P{i:02d}"
        style = flow_sim.style_for(patient)
        paths = flow_sim.write_patient_fcs(out, patient, pct / 100, style, 1000 + i, IDENTITY)
        results[patient] = (pct, style, _run(paths, style, patient=patient))
    return results


def test_demo_cd34_within_two_points_and_all_pass(cohort) -> None:
    for patient, (pct, style, result) in cohort.items():
        het = result["heterogeneity"]
        assert abs(het["pct_cd34pos"] - pct) <= 2.0, (patient, het["pct_cd34pos"], pct)
        assert het["status"] == "pass"
        for fraction in ("CD34pos", "CD34neg"):
            assert result["purity"][fraction]["status"] == "pass", (patient, fraction)
            assert result["purity"][fraction]["purity"] > 0.98
        assert result["status"] == "pass"
        compensation = {f["compensation"] for f in result["files"].values()}
        assert compensation == ({"file"} if style == "diva" else {"none"})
        assert result["strategy"]["singlet_gate_present"] is (style == "diva")


def test_rows_json_and_privacy(cohort) -> None:
    _, _, result = cohort["P01"]
    text = json.dumps(result, allow_nan=False)
    rows = flow_rows(result)
    assert list(rows.columns) == FLOW_COLUMNS
    assert list(rows["fraction"]) == ["presort", "CD34pos", "CD34neg"]
    assert rows.loc[0, "file"] == "../resources/demo/fcs/P01_presort.fcs"
    assert rows["pct_cd34pos"].notna().tolist() == [True, False, False]
    assert rows["purity"].notna().tolist() == [False, True, True]
    dump = text + rows.to_csv(sep="\t")
    for value in IDENTITY.values():
        assert value not in dump
    assert "$FIL" not in dump and "PATIENT" not in dump


def test_flow_records_written_as_pandas_would(cohort, tmp_path: Path) -> None:
    """The gating job writes flow_records without pandas; the bytes equal the typed table's."""
    from sortpcr.flowqc import flow_records
    from sortpcr.io import write_records, write_tsv

    for patient in ("P01", "P09"):
        _, _, result = cohort[patient]
        broken = json.loads(json.dumps(result))  # a fraction that was not read: NA counts
        broken["files"]["CD34neg"] = {"file": "x.fcs", "ok": False, "error": "truncated"}
        broken["purity"]["CD34neg"] = {"status": "fail", "reason": "not read", "purity": None}
        for case in (result, broken):
            write_records(tmp_path / "records.tsv", flow_records(case), FLOW_COLUMNS)
            write_tsv(tmp_path / "pandas.tsv", flow_rows(case))
            assert (tmp_path / "records.tsv").read_text() == (tmp_path / "pandas.tsv").read_text()


def test_purity_096_variant_fails(tmp_path: Path) -> None:
    paths = flow_sim.write_patient_fcs(
        tmp_path, "P03", 0.58, "diva", 1003, IDENTITY, purity={"CD34pos": 0.96}
    )
    result = _run(paths, "diva", patient="P03")
    rows = flow_rows(result).set_index("fraction")
    assert rows.loc["CD34pos", "status"] == "fail"
    assert rows.loc["CD34pos", "purity"] == pytest.approx(0.96, abs=0.005)
    assert "below 98 %" in rows.loc["CD34pos", "reason"]
    assert rows.loc["CD34neg", "status"] == "pass" and rows.loc["presort", "status"] == "pass"
    assert result["status"] == "fail"


def test_purity_min_reaches_the_verdict_from_the_settings(tmp_path: Path) -> None:
    """The 96 % tube of the test above passes at qc.purity_min 0.95 (config -> schema ->
    FlowQCSettings -> purity_verdict), and the figure's title states the same minimum."""
    paths = flow_sim.write_patient_fcs(
        tmp_path, "P03", 0.58, "diva", 1003, IDENTITY, purity={"CD34pos": 0.96}
    )
    settings = flowqc_settings(qc={"purity_min": 0.95})
    assert settings.purity_min == 0.95 and settings.purity_denominator == "blasts"
    result = _run(paths, "diva", settings=settings, patient="P03")
    assert result["settings"]["purity_min"] == 0.95
    assert flow_rows(result).set_index("fraction").loc["CD34pos", "status"] == "pass"


def test_flowqc_settings_from_the_validated_sections() -> None:
    """Defaults come from the schema alone: without ``markers`` the schema's aliases (those
    of config.yaml) apply; the schema refuses a bad denominator or purity; from_config
    checks only what the schema cannot, cd34_range low <= high."""
    shipped = validated_config()
    assert flowqc_settings() == SETTINGS
    gating = {
        k: v for k, v in shipped["gating"].items() if k not in ("markers", "min_blast_events")
    }
    config = validated_config(gating={})
    config["gating"] = gating
    from snakemake.utils import validate

    validate(config, str(REPO / "config" / "schemas" / "config.schema.yaml"))
    bare = FlowQCSettings.from_config(config["gating"], config["qc"])
    assert bare.markers == SETTINGS.markers and bare.min_blast_events == 200
    with pytest.raises(Exception, match="purity_denominator"):
        validated_config(qc={"purity_denominator": "singlets"})
    with pytest.raises(Exception, match="purity_min"):
        validated_config(qc={"purity_min": 1.5})
    with pytest.raises(ValueError, match="cd34_range"):
        flowqc_settings(qc={"cd34_range": [0.9, 0.1]})


# --------------------------------------------------------------------------- bad input


def test_bad_files_become_fail_rows(tmp_path: Path) -> None:
    paths = flow_sim.write_patient_fcs(tmp_path, "P05", 0.22, "cellquest", 5, IDENTITY)
    data = paths["CD34neg"].read_bytes()
    paths["CD34neg"].write_bytes(data[: len(data) // 2])  # truncated
    paths["CD34pos"].write_bytes(b"GIF89a not a cytometry file at all, really" * 3)
    result = _run(paths, "cellquest", patient="P05")
    rows = flow_rows(result).set_index("fraction")
    assert rows.loc["presort", "status"] == "pass"
    assert rows.loc["CD34neg", "status"] == "fail"
    assert "truncated" in rows.loc["CD34neg", "reason"]
    assert rows.loc["CD34neg", "reason"].startswith("../resources/demo/fcs/P05_CD34neg.fcs")
    assert str(tmp_path) not in rows.loc["CD34neg", "reason"]
    assert "not an FCS file" in rows.loc["CD34pos", "reason"]
    assert rows.loc["CD34pos", "events"] is pd_na()


def pd_na():
    import pandas as pd

    return pd.NA


def test_missing_file_zero_events_and_missing_marker(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "resources" / "demo"))
    import numpy as np
    from fcswrite import Channel, build_fcs

    paths = flow_sim.write_patient_fcs(tmp_path, "P06", 0.33, "diva", 6, IDENTITY)
    paths["CD34pos"] = tmp_path / "nowhere.fcs"
    zero = build_fcs(np.zeros((0, 2), dtype=np.float32), [Channel("FSC-A"), Channel("SSC-A")])
    paths["CD34neg"].write_bytes(zero)
    result = _run(paths, "diva", patient="P06")
    rows = flow_rows(result).set_index("fraction")
    assert "file not found" in rows.loc["CD34pos", "reason"]
    assert "zero events" in rows.loc["CD34neg", "reason"]
    # a pre-sort file without a CD34 channel (no PE-A, no alias)
    ch = [Channel(n) for n in ("FSC-A", "FSC-H", "SSC-A", "FITC-A")]
    ev = np.random.default_rng(1).uniform(1000, 90000, (500, 4)).astype(np.float32)
    paths["presort"].write_bytes(build_fcs(ev, ch))
    result = _run(paths, "diva", patient="P06")
    row = flow_rows(result).set_index("fraction").loc["presort"]
    assert row["status"] == "fail" and "CD34" in row["reason"] and "marker" in row["reason"]


def test_too_few_blasts_is_not_evaluable(tmp_path: Path) -> None:
    paths = flow_sim.write_patient_fcs(tmp_path, "P07", 0.34, "diva", 7, {}, n_events=800)
    result = _run(paths, "diva", patient="P07")
    rows = flow_rows(result).set_index("fraction")
    assert rows.loc["CD34pos", "status"] == "not_evaluable"  # 200 events, < 200 blasts
    assert rows.loc["presort", "status"] == "pass"  # ~500 blasts


def test_gate_ids_not_in_strategy_raise(tmp_path: Path) -> None:
    paths = flow_sim.write_patient_fcs(tmp_path, "P08", 0.59, "diva", 8, {}, n_events=2000)
    settings = dataclasses.replace(SETTINGS, blast_gate="Leukemic")
    with pytest.raises(GatingError, match="'Leukemic'") as info:
        _run(paths, "diva", settings=settings)
    assert "Cells, Singlets, Blasts, Lymphocytes, CD34pos, CD34neg" in str(info.value)


def test_figure_is_written_and_deterministic(tmp_path: Path) -> None:
    from sortpcr.plots.flow import patient_figure

    paths = flow_sim.write_patient_fcs(tmp_path, "P02", 0.48, "diva", 2, IDENTITY, n_events=4000)
    labels = {k: Path(v).name for k, v in paths.items()}
    sorted_paths = {k: v for k, v in paths.items() if k != "presort"}
    result, events = analyse_patient_with_events(
        "P02", paths["presort"], sorted_paths, labels, _strategy("diva"), SETTINGS
    )
    digests = []
    for name in ("a.png", "b.png"):
        patient_figure(result, events, tmp_path / name)
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        digests.append(hashlib.sha256(data).hexdigest())
    assert digests[0] == digests[1]


def test_gating_job_path_does_not_import_pandas() -> None:
    """The gating job (one per patient) gates and writes its QC rows without pandas or
    FlowKit: their imports would cost more than the gating itself."""

    fcs = REPO / "resources" / "demo" / "fcs"
    code = (
        "import json, sys\n"
        "from sortpcr.flowqc import analyse_patient_with_events, flow_records\n"
        "from sortpcr.settings import FlowQCSettings\n"
        f"sections = json.loads({json.dumps(json.dumps(SECTIONS))})\n"
        "settings = FlowQCSettings.from_config(sections['gating'], sections['qc'])\n"
        f"result, _ = analyse_patient_with_events('P01', {str(fcs / 'P01_presort.fcs')!r}, "
        f"{{'CD34pos': {str(fcs / 'P01_CD34pos.fcs')!r}, "
        f"'CD34neg': {str(fcs / 'P01_CD34neg.fcs')!r}}}, {{}}, "
        f"{str(STRATEGIES / 'facsdiva.xml')!r}, settings)\n"
        "assert len(flow_records(result)) == 3\n"
        "print(','.join(m for m in ('pandas', 'flowkit', 'scipy') if m in sys.modules))\n"
    )
    assert fresh_python(code) == ""
