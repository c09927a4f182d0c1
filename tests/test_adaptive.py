"""Adaptive gates: the density searches on hand-built data with known answers, the gates
they move, their fallbacks and limits, the applied gates written as Gating-ML (round trip,
FlowKit), the committed demo's Table 1, and what the flow table records."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from sortpcr.adaptive import cluster_mode, density_valley
from sortpcr.errors import GatingError
from sortpcr.fcs import read_fcs
from sortpcr.flowqc import (
    FLOW_COLUMNS,
    analyse_patient,
    analyse_patient_with_events,
    applied_gates_text,
    flow_records,
)
from sortpcr.gating import (
    applied_gatingml,
    evaluate,
    evaluate_flowkit,
    gatingml_text,
    inverse_values,
    load_strategy,
    transform_values,
)
from tests.test_flowqc import SETTINGS, TABLE1_CD34

REPO = Path(__file__).resolve().parents[1]
STRATEGIES = REPO / "resources" / "gating"
DEMO_FCS = REPO / "resources" / "demo" / "fcs"
sys.path.insert(0, str(REPO / "resources" / "demo"))
import flow_sim  # noqa: E402


def _normal_sample(mean: float, sd: float, n: int) -> np.ndarray:
    """Deterministic 'sample' of a normal distribution: its quantiles (no random draw)."""
    from scipy.special import ndtri

    return mean + sd * ndtri((np.arange(n) + 0.5) / n)


def _mixture_minimum(means, sds, weights, lo, hi) -> float:
    grid = np.linspace(lo, hi, 200001)
    dens = sum(
        w / s * np.exp(-0.5 * ((grid - m) / s) ** 2)
        for m, s, w in zip(means, sds, weights, strict=True)
    )
    return float(grid[np.argmin(dens)])


# --------------------------------------------------------------------------- valley


def test_valley_of_two_normals_is_the_smoothed_mixtures_minimum() -> None:
    """30 % at 0.30 and 70 % at 0.52 (SD 0.04): the valley of the histogram smoothed with
    bandwidth 0.01 is the minimum of the mixture with SDs sqrt(0.04^2 + 0.01^2), which
    lies towards the smaller population (worked out on a fine grid)."""
    values = np.concatenate([_normal_sample(0.30, 0.04, 3000), _normal_sample(0.52, 0.04, 7000)])
    found = density_valley(values, (0.0, 1.0), (0.2, 0.7), bandwidth=0.01, bins=1000)
    sd = np.hypot(0.04, 0.01)
    expected = _mixture_minimum((0.30, 0.52), (sd, sd), (0.3, 0.7), 0.30, 0.52)
    assert found["cut"] == pytest.approx(expected, abs=0.003)
    assert found["cut"] < 0.41  # nearer the smaller population than the midpoint
    assert found["modes"] == [pytest.approx(0.30, abs=0.003), pytest.approx(0.52, abs=0.003)]
    assert 0 < found["depth"] < 0.2
    assert found["share_below"] == pytest.approx(0.3, abs=0.01)


def test_empty_gap_is_cut_in_its_middle() -> None:
    values = np.concatenate([np.linspace(0.10, 0.20, 2000), np.linspace(0.50, 0.60, 2000)])
    found = density_valley(values, (0.0, 1.0), (0.0, 1.0), bandwidth=0.005, bins=500)
    assert found["depth"] == 0.0
    assert found["cut"] == pytest.approx(0.35, abs=0.01)


def test_valley_depth_threshold_both_sides() -> None:
    """Two overlapping populations: the depth decides, on either side of max_depth."""
    values = np.concatenate([_normal_sample(0.40, 0.05, 5000), _normal_sample(0.58, 0.05, 5000)])
    kwargs = dict(bandwidth=0.01, bins=500)
    depth = density_valley(values, (0.0, 1.0), (0.2, 0.8), **kwargs)["depth"]
    assert 0.2 < depth < 0.9
    found = density_valley(values, (0.0, 1.0), (0.2, 0.8), max_depth=depth + 0.01, **kwargs)
    assert found["cut"] == pytest.approx(0.49, abs=0.005)
    none = density_valley(values, (0.0, 1.0), (0.2, 0.8), max_depth=depth - 0.01, **kwargs)
    assert none["cut"] is None and f"{depth:.2f} of the lower mode" in none["reason"]


def test_no_valley_for_one_population_or_a_sliver() -> None:
    one = density_valley(_normal_sample(0.4, 0.05, 5000), (0, 1), (0.2, 0.8), bandwidth=0.01)
    assert one["cut"] is None and one["reason"]
    # 0.8 % of the events beyond a clear gap (a tight cluster, its smoothed peak 2.4 % of
    # the main one, above the 2 % floor): less than min_share (1 %) on that side
    sliver = np.concatenate([_normal_sample(0.3, 0.03, 9920), _normal_sample(0.7, 0.003, 80)])
    found = density_valley(sliver, (0, 1), (0.2, 0.8), bandwidth=0.01)
    assert found["cut"] is None
    found = density_valley(sliver, (0, 1), (0.2, 0.8), bandwidth=0.01, min_share=0.005)
    assert found["cut"] == pytest.approx(0.5, abs=0.05)
    few = density_valley(np.array([0.1, 0.9]), (0, 1), (0.2, 0.8), bandwidth=0.01)
    assert few["cut"] is None and "only 2 events" in few["reason"]


def test_valley_outside_the_allowed_range_is_not_taken() -> None:
    values = np.concatenate([_normal_sample(0.2, 0.03, 5000), _normal_sample(0.5, 0.03, 5000)])
    assert density_valley(values, (0, 1), (0.6, 0.9), bandwidth=0.01)["cut"] is None


# --------------------------------------------------------------------------- cluster


def test_cluster_mode_finds_the_larger_cluster() -> None:
    """6,000 events around (0.40, 20) and 2,000 around (0.70, 50): the mode is the first."""
    rng = np.random.default_rng(0)  # only to pair each cluster's x and y quantiles at random
    x = np.concatenate([_normal_sample(0.40, 0.03, 6000), _normal_sample(0.70, 0.03, 2000)])
    y = np.concatenate(
        [
            _normal_sample(20.0, 3.0, 6000)[rng.permutation(6000)],
            _normal_sample(50.0, 3.0, 2000)[rng.permutation(2000)],
        ]
    )
    found = cluster_mode(x, y, ((0.0, 1.0), (0.0, 100.0)), bins=100, sigma=1.5)
    assert found["mode"] == [pytest.approx(0.40, abs=0.01), pytest.approx(20.0, abs=1.0)]
    assert found["window_events"] == 8000
    none = cluster_mode(x, y, ((0.9, 1.0), (0.0, 100.0)), min_events=100)
    assert none["mode"] is None and "search window" in none["reason"]


def test_bright_side_trimmed_at_the_neighbours_valley() -> None:
    """Blasts around x 0.40 and a brighter neighbour (monocytes) around 0.62, both SD 0.03:
    the gate reaching 0.58 is cut back to the valley between them (the smoothed mixture's
    minimum, worked out on a grid); a gate ending at 0.47 keeps its edge (the valley lies
    beyond it)."""
    from sortpcr.gating import ClusterSearch
    from sortpcr.gating.adapt import _trim_bright_side

    rng = np.random.default_rng(1)
    x = np.concatenate([_normal_sample(0.40, 0.03, 6000), _normal_sample(0.62, 0.03, 1500)])
    y = rng.uniform(10.0, 90.0, x.size)
    search = ClusterSearch(((0, 1), (0, 100)), (0.4, 50.0), trim=0.1, trim_bandwidth=0.01)
    gate = ((0.25, 5.0), (0.58, 5.0), (0.58, 95.0), (0.25, 95.0))
    trimmed, record = _trim_bright_side(x, y, gate, 0.40, search)
    sd = np.hypot(0.03, 0.01)
    expected = _mixture_minimum((0.40, 0.62), (sd, sd), (0.8, 0.2), 0.40, 0.62)
    assert record["cut"] == pytest.approx(expected, abs=0.01)
    assert [v[0] for v in trimmed] == [0.25, record["cut"], record["cut"], 0.25]
    assert [v[1] for v in trimmed] == [v[1] for v in gate]
    narrow = ((0.25, 5.0), (0.47, 5.0), (0.47, 95.0), (0.25, 95.0))
    kept, record = _trim_bright_side(x, y, narrow, 0.40, search)
    assert kept == narrow and record["cut"] is None


# --------------------------------------------------------------------------- gates moved


def _edited(tmp_path: Path, name: str, *edits: tuple[str, str]) -> Path:
    text = (STRATEGIES / "facsdiva.xml").read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def patient(tmp_path_factory):
    out = tmp_path_factory.mktemp("adaptive")
    return flow_sim.write_patient_fcs(out, "Q1", 0.4, "diva", 5, {}, n_events=12000)


def test_blast_gate_is_translated_and_scaled_as_recorded(patient) -> None:
    strategy = load_strategy(STRATEGIES / "facsdiva.xml")
    result = evaluate(strategy, read_fcs(patient["presort"]))
    record = result.adaptations["Blasts"]
    template = np.array(strategy.gates["Blasts"].vertices)
    moved = np.array(result.applied.gates["Blasts"].vertices)
    (dx, _), (_, sy) = record["shift"], record["scale"]
    np.testing.assert_allclose(moved[:, 0], template[:, 0] + dx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(moved[:, 1], template[:, 1] * sy, rtol=1e-12)
    assert record["method"] == "cluster" and not record["clipped"]
    assert dx == pytest.approx(record["mode"][0] - record["anchor"][0])
    assert record["events_in_gate"] == result.counts["Blasts"]
    # the demo's blasts sit where the template expects them: a small move
    assert abs(record["shift_decades"][0]) < 0.05 and abs(sy - 1) < 0.05


def test_cluster_shift_is_limited_and_says_so(patient, tmp_path: Path) -> None:
    """A template expecting the cluster 0.1 display units (~0.45 decade) brighter, allowed
    to move only 0.02: the gate moves by exactly -0.02 and the record says it was limited."""
    path = _edited(
        tmp_path, "limited.xml",
        ('anchor="0.436346 22020.1"', 'anchor="0.536346 22020.1"'),
        ('limit-x="0.17425"', 'limit-x="0.02"'),
    )  # fmt: skip
    result = evaluate(load_strategy(path), read_fcs(patient["presort"]))
    record = result.adaptations["Blasts"]
    assert record["shift"][0] == -0.02 and record["clipped"] is True
    assert "beyond 0.02" in record["reason"]


def test_cd34_cut_at_the_valley_and_complementary(patient) -> None:
    strategy = load_strategy(STRATEGIES / "facsdiva.xml")
    result = evaluate(strategy, read_fcs(patient["presort"]))
    pos, neg = result.adaptations["CD34pos"], result.adaptations["CD34neg"]
    assert pos["method"] == neg["method"] == "valley" and pos["cut"] == neg["cut"]
    applied = result.applied.gates
    assert applied["CD34pos"].dims[0].min == applied["CD34neg"].dims[0].max == pos["cut"]
    assert result.counts["CD34pos"] + result.counts["CD34neg"] == result.counts["Blasts"]
    # modes 10^2 and 10^4: the valley lies in between, near 10^3
    assert 2.7 < np.log10(pos["cut_value"]) < 3.3
    t = strategy.transforms[strategy.gates["CD34pos"].dims[0].xform]
    assert transform_values(np.array([pos["cut_value"]]), t)[0] == pytest.approx(pos["cut"])
    assert pos["template_cut_value"] == pytest.approx(1000.0, rel=1e-4)


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_no_valley_falls_back_to_lymphocytes(fraction: float, tmp_path: Path) -> None:
    """All blasts CD34- (or all CD34+): no valley; the cut is the 99.5th percentile of the
    Lymphocytes gate's CD34 (worked out here from that gate's events), and the reason says
    why."""
    paths = flow_sim.write_patient_fcs(tmp_path, "Q2", fraction, "diva", 8, {}, n_events=12000)
    strategy = load_strategy(STRATEGIES / "facsdiva.xml")
    data = read_fcs(paths["presort"])
    result = evaluate(strategy, data)
    record = result.adaptations["CD34pos"]
    assert record["method"] == "negative_population"
    assert "no bin of the allowed range" in record["reason"] or "no valley" in record["reason"]
    assert "99.5th percentile of Lymphocytes" in record["reason"]
    dim = strategy.gates["CD34pos"].dims[0]
    pe = data.events[result.memberships["Lymphocytes"], data.channels.index("PE-A")]
    lymph = transform_values(pe, strategy.transforms[dim.xform])
    expected = float(np.clip(np.quantile(lymph, 0.995), *strategy.gates["CD34pos"].search.allowed))
    assert record["cut"] == pytest.approx(expected, abs=1e-12)
    assert result.counts["Lymphocytes"] >= 100


def test_no_valley_and_too_few_lymphocytes_keeps_the_template(tmp_path: Path) -> None:
    paths = flow_sim.write_patient_fcs(tmp_path, "Q3", 0.0, "diva", 9, {}, n_events=12000)
    path = _edited(
        tmp_path, "few.xml",
        ('min-events="100" fallback-gate', 'min-events="100000" fallback-gate'),
    )  # fmt: skip
    result = evaluate(load_strategy(path), read_fcs(paths["presort"]))
    record = result.adaptations["CD34neg"]
    assert record["method"] == "template" and record["cut"] == record["template_cut"]
    assert "Lymphocytes has only" in record["reason"] and "template cut kept" in record["reason"]


@pytest.mark.parametrize(
    "old,new,words",
    [
        (
            'gating:min="0.454338">\n            <data-type:fcs-dimension data-type:name="PE-A"',
            'gating:min="0.454338">\n            <data-type:fcs-dimension data-type:name="FITC-A"',
            "share the cut 'CD34' but not the parent and dimension",
        ),
        (
            'fallback-gate="Lymphocytes" fallback-quantile="0.995" />',
            'fallback-gate="Monocytes" fallback-quantile="0.995" />',
            "fallback-gate 'Monocytes' is not a gate",
        ),
        ('move-x="shift"', 'move-x="stretch"', "move-x='stretch'"),
        (
            'trim-bandwidth="0.0111111"',
            'trim-bandwidth="0"',
            "trim-x needs a positive trim-bandwidth",
        ),
        ('limit-y="1.6"', 'limit-y="0.5"', "limit-y=0.5 is outside"),
        ('bins="256"', 'bins="many"', "attribute bins needs 1 number"),
        ('range="0.256734 0.728627"', 'range="0.728627 0.256734"', "is not increasing"),
    ],
    ids=[
        "cut-shared-by-unlike-gates",
        "unknown-fallback",
        "move",
        "trim",
        "limit",
        "bins",
        "range",
    ],
)
def test_bad_searches_are_refused_by_name(old, new, words, tmp_path: Path) -> None:
    path = _edited(tmp_path, "bad.xml", (old, new))
    with pytest.raises(GatingError, match="sortpcr|gate") as info:
        load_strategy(path)
    assert words in str(info.value) and "bad.xml" in str(info.value)


def test_cluster_search_on_a_range_gate_is_refused(tmp_path: Path) -> None:
    text = (STRATEGIES / "facsdiva.xml").read_text(encoding="utf-8")
    cluster = text[
        text.index("<sortpcr:cluster") : text.index("/>", text.index("<sortpcr:cluster")) + 2
    ]
    valley = text[
        text.index("<sortpcr:valley") : text.index("/>", text.index("<sortpcr:valley")) + 2
    ]
    path = tmp_path / "swap.xml"
    path.write_text(text.replace(valley, cluster, 1), encoding="utf-8")
    with pytest.raises(GatingError, match="cluster search moves a 2-D polygon gate"):
        load_strategy(path)


# --------------------------------------------------------------------------- review loop


@pytest.mark.parametrize("style", ["diva", "cellquest"])
def test_applied_gates_round_trip_and_flowkit(style: str, tmp_path: Path) -> None:
    """export -> re-import -> identical memberships on all three tubes, in our engine and in
    FlowKit reading the written file and the FCS files itself; and as the patient's
    ``gating`` override the written file gives the same QC."""
    import flowkit

    paths = flow_sim.write_patient_fcs(tmp_path, "R1", 0.35, style, 21, {}, n_events=12000)
    template = STRATEGIES / ("facsdiva.xml" if style == "diva" else "cellquest.xml")
    sorted_paths = {f: paths[f] for f in ("CD34pos", "CD34neg")}
    labels = {f: f"fcs/{p.name}" for f, p in paths.items()}
    result, events = analyse_patient_with_events(
        "R1", paths["presort"], sorted_paths, labels, template, SETTINGS
    )
    assert result["gating"]["mode"] == "adaptive"
    assert result["gating"]["adapted_on"] == "fcs/R1_presort.fcs"
    written = tmp_path / "R1.gating.xml"
    written.write_text(applied_gates_text(result, events), encoding="utf-8")
    text = written.read_text(encoding="utf-8")
    assert "<sortpcr:applied" in text and "<sortpcr:valley" not in text
    again = load_strategy(written)
    assert not again.adaptive
    fk_strategy = flowkit.parse_gating_xml(str(written))
    for tube, path in paths.items():
        data = read_fcs(path)
        first = events.files[tube][1]
        ours = evaluate(again, data)
        theirs = evaluate_flowkit(again, data, sample=flowkit.Sample(str(path), sample_id=tube))
        fk_direct = fk_strategy.gate_sample(flowkit.Sample(str(path), sample_id=tube))
        assert set(ours.memberships) == set(first.memberships) == set(theirs.memberships)
        for gate, members in first.memberships.items():
            np.testing.assert_array_equal(ours.memberships[gate], members, err_msg=gate)
            np.testing.assert_array_equal(theirs.memberships[gate], members, err_msg=gate)
            gpath = theirs.gate_paths[gate]
            direct = fk_direct.get_gate_membership(gate, gate_path=gpath)
            np.testing.assert_array_equal(np.asarray(direct, bool), members, err_msg=gate)
    override = analyse_patient("R1", paths["presort"], sorted_paths, labels, written, SETTINGS)
    assert override["gating"]["mode"] == "fixed"
    for tube in paths:
        assert override["files"][tube]["counts"] == result["files"][tube]["counts"]
    assert override["heterogeneity"]["pct_cd34pos"] == result["heterogeneity"]["pct_cd34pos"]
    # a second export of the re-imported file writes the same gates
    assert gatingml_text(again).count("<gating:vertex>") == text.count("<gating:vertex>")


def test_sorted_tubes_use_the_presort_gates(patient) -> None:
    """The sorted tubes are gated with the pre-sort file's cut: adapting on a sorted tube
    itself would find no valley there (one population)."""
    sorted_paths = {f: patient[f] for f in ("CD34pos", "CD34neg")}
    result, events = analyse_patient_with_events(
        "Q1", patient["presort"], sorted_paths, {}, STRATEGIES / "facsdiva.xml", SETTINGS
    )
    cut = result["gating"]["gates"]["CD34pos"]["cut"]
    for tube in sorted_paths:
        data, res = events.files[tube]
        assert res.adaptations == {}
        assert res.applied.gates["CD34pos"].dims[0].min == cut
        alone = evaluate(load_strategy(STRATEGIES / "facsdiva.xml"), data)
        assert alone.adaptations["CD34pos"]["method"] != "valley"


def test_flow_table_and_json_carry_the_evidence(patient) -> None:
    sorted_paths = {f: patient[f] for f in ("CD34pos", "CD34neg")}
    result = analyse_patient(
        "Q1", patient["presort"], sorted_paths, {}, STRATEGIES / "facsdiva.xml", SETTINGS
    )
    json.dumps(result, allow_nan=False)
    gates = result["gating"]["gates"]
    assert {"Blasts", "CD34pos", "CD34neg"} == set(gates)
    assert len(gates["Blasts"]["vertices"]) == len(gates["Blasts"]["template_vertices"]) == 5
    rows = flow_records(result)
    assert all(set(row) == set(FLOW_COLUMNS) for row in rows)
    first = rows[0]
    assert first["gating_mode"] == "adaptive" and first["cd34_cut_method"] == "valley"
    assert first["cd34_cut"] == gates["CD34pos"]["cut_value"]
    assert first["valley_depth"] == gates["CD34pos"]["depth"]
    assert first["blast_cluster_events"] == result["files"]["presort"]["blasts"]
    assert first["blast_shift_decades"] == gates["Blasts"]["shift_decades"][0]
    assert [r["cd34_cut"] for r in rows] == [first["cd34_cut"]] * 3
    fixed = analyse_patient(
        "Q1", patient["presort"], sorted_paths, {}, STRATEGIES / "facsdiva_fixed.xml", SETTINGS
    )
    assert flow_records(fixed)[0]["gating_mode"] == "fixed"
    assert flow_records(fixed)[0]["cd34_cut"] is None


def test_unreadable_presort_gates_sorted_tubes_with_the_template(patient, tmp_path) -> None:
    broken = tmp_path / "broken.fcs"
    broken.write_bytes(b"FCS3.0  not really")
    sorted_paths = {f: patient[f] for f in ("CD34pos", "CD34neg")}
    result = analyse_patient("Q1", broken, sorted_paths, {}, STRATEGIES / "facsdiva.xml", SETTINGS)
    assert result["gating"]["mode"] == "template" and "template" in result["gating"]["reason"]
    assert result["files"]["CD34pos"]["ok"]


def test_inverse_values_undo_the_transforms() -> None:
    for name in ("facsdiva.xml", "cellquest.xml"):
        strategy = load_strategy(STRATEGIES / name)
        t = strategy.transforms[strategy.gates["CD34pos"].dims[0].xform]
        values = np.array([5.0, 100.0, 1000.0, 9000.0])
        back = inverse_values(transform_values(values, t), t)
        np.testing.assert_allclose(back, values, rtol=1e-9)


# --------------------------------------------------------------------------- the demo


def test_committed_demo_table1_within_a_quarter_point_all_tubes_pass() -> None:
    """The committed demo files with the default (adaptive) strategies: % CD34+ within 0.25
    points of the study's Table 1, every tube passes, and the gates moved only a little."""
    for i, pct in enumerate(TABLE1_CD34, start=1):
        patient = f"P{i:02d}"
        style = flow_sim.style_for(patient)
        xml = STRATEGIES / ("facsdiva.xml" if style == "diva" else "cellquest.xml")
        files = {f: DEMO_FCS / f"{patient}_{f}.fcs" for f in ("presort", "CD34pos", "CD34neg")}
        sorted_paths = {f: files[f] for f in ("CD34pos", "CD34neg")}
        result = analyse_patient(patient, files["presort"], sorted_paths, {}, xml, SETTINGS)
        assert abs(result["heterogeneity"]["pct_cd34pos"] - pct) <= 0.25, patient
        assert result["status"] == "pass", patient
        gates = result["gating"]["gates"]
        assert gates["CD34pos"]["method"] == "valley", patient
        assert abs(gates["CD34pos"]["shift_decades"]) < 0.1, patient
        assert abs(gates["Blasts"]["shift_decades"][0]) < 0.1, patient
        assert gates["Blasts"]["trim"]["cut"] is None, patient  # monocytes lie beyond it


def test_workspace_gates_written_as_gatingml(tmp_path: Path) -> None:
    """A FlowJo workspace strategy: the review file is FlowKit's Gating-ML export of the
    sample's gates, and it gates the file as the workspace does (51 events in ellipse1)."""
    from tests.conftest import shared_path

    wsp = shared_path("fcs", "flowjo_wsp", "single_ellipse_51_events.wsp")
    data = read_fcs(shared_path("fcs", "flowjo_wsp", "data_set_simple_line_100.fcs"))
    strategy = load_strategy(wsp)
    written = tmp_path / "wsp.gating.xml"
    written.write_text(applied_gatingml(strategy, data), encoding="utf-8")
    ours = evaluate(load_strategy(written), data)
    assert ours.counts == evaluate(strategy, data).counts == {"ellipse1": 51}
