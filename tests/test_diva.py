"""BD FACSDiva experiment XML as a strategy (sortpcr.gating.diva): axes with hand-worked values, a
crafted experiment with every region and population type checked against numpy, the
refusals, and the real FACSDiva 6.1.3 export in ../shared/fcs/diva against the counts Diva
recorded in it."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import flowqc_settings, shared_path
from matplotlib.path import Path as MplPath

from sortpcr.errors import GatingError, XMLSecurityError
from sortpcr.fcs import read_fcs
from sortpcr.gating import Transform, evaluate, evaluate_flowkit, load_strategy, require_gates
from sortpcr.gating.diva import apply_transform, biex_width, read_tube, tube_gatingml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "resources" / "demo"))
from fcswrite import Channel, build_fcs  # noqa: E402

LOG_TOP = 5.4185380935668945  # Diva's <max> of a log parameter: log10(262143) as float32

# --------------------------------------------------------------------------- axes


def test_biex_width_hand_worked() -> None:
    # r = 440: log10(262144 / 440) = log10(595.782) = 2.775087; (4.5 - 2.775087) / 2
    assert biex_width(440) == pytest.approx(0.862456, abs=1e-6)
    assert biex_width(-440) == biex_width(440)  # Diva writes -1 etc.: the magnitude counts
    assert biex_width(0) == 0.0
    assert biex_width(262144 / 10**4.5) == pytest.approx(0.0, abs=1e-12)
    assert biex_width(1) == 0.0  # (4.5 - 5.42) / 2 < 0 -> 0


def test_axes_hand_worked() -> None:
    edge = 1e-9  # values off an axis land this far inside its edge (normalised units)
    log = Transform("l", "diva_log", {"bottom": LOG_TOP - 5, "decades": 5.0, "lo": 0, "hi": 1})
    got = apply_transform(np.array([-50.0, 0.0, 1.0, 100.0, 1e4, 1e7]), log)
    # 5 decades below log10(262143): the axis starts at 2.62; 100 is (2 - 0.41854) / 5
    assert got[:3] == pytest.approx([edge] * 3, abs=1e-15)
    assert got[3:5] == pytest.approx([(2 - LOG_TOP + 5) / 5, (4 - LOG_TOP + 5) / 5], abs=1e-12)
    assert got[5] == pytest.approx(1 - edge, abs=1e-15)
    # biex: logicle(0) = W / M, so 0 sits at channel 4096 x 0.862456 / 4.5 = 785.03
    w = biex_width(440)
    top = 4095 / 4096
    biex = Transform("b", "diva_biex", {"T": 262144.0, "M": 4.5, "W": w, "lo": 0.0, "hi": top})
    got = apply_transform(np.array([0.0, 262143.0, -1e6]), biex)
    assert got[0] * 4096 == pytest.approx(785.027, abs=1e-3)
    assert got[1] == pytest.approx(top - edge, abs=1e-15)  # above channel 4095: on the edge
    assert got[2] == pytest.approx(edge, abs=1e-15)
    lin = Transform("s", "diva_lin", {"T": 262144.0, "lo": 0.0, "hi": top})
    assert apply_transform(np.array([6400.0]), lin) * 4096 == pytest.approx([100.0])


# --------------------------------------------------------------------------- crafted experiment

CX, CY = 2000.0, 2500.0  # quadrant centre, biex channels
TRIANGLE = [(1000.0, 1000.0), (3500.0, 1200.0), (2000.0, 3800.0)]


def _param(name: str, log: bool) -> str:
    hi = LOG_TOP if log else 262143.0
    return (
        f'<parameter name="{name}" type="30"><is_log>{str(log).lower()}</is_log>'
        f"<min>0.0</min><max>{hi}</max></parameter>"
    )


def _axis(axis: str, log: bool, scaled: bool, r: int) -> str:
    return (
        f"<is_{axis}_parameter_scaled>{str(scaled).lower()}</is_{axis}_parameter_scaled>"
        f"<is_{axis}_parameter_log>{str(log).lower()}</is_{axis}_parameter_log>"
        f"<{axis}_parameter_scale_value>{r}</{axis}_parameter_scale_value>"
    )


def _gate(full, kind, count, parent, region="", axes="", inputs=()) -> str:
    name = full.rsplit("\\", 1)[-1]
    inp = "".join(f"<input>{i}</input>" for i in inputs)
    par = f"<parent>{parent}</parent>" if parent else ""
    return (
        f'<gate fullname="{full}" type="{kind}"><name>{name}</name>'
        f"<num_events>{count}</num_events>{par}{region}{axes}{inp}</gate>"
    )


def _region(rtype: str, x: str, y: str | None, points) -> str:
    yattr = f' yparm="{y}"' if y else ""
    pts = "".join(f'<point x="{px!r}" y="{py!r}" />' for px, py in points)
    return f'<region name="" xparm="{x}"{yattr} type="{rtype}"><points>{pts}</points></region>'


def _quadrant(name: str, corner: tuple[float, float]) -> str:
    cx, cy = corner
    pts = [(CX, CY), (cx, CY), (cx, cy), (CX, cy)]
    return _gate(
        f"All Events\\P1\\{name}",
        "Region_Classifier",
        0,
        "All Events\\P1",
        _region("POLYGON_REGION", "FITC-A", "PE-A", pts),
        _axis("x", True, True, 200) + _axis("y", True, True, 300),
        ["All Events\\P1\\$99"],
    )


def _experiment(region_type: str = "POLYGON_REGION") -> str:
    params = "".join(
        _param(n, log)
        for n, log in (("FSC-A", False), ("SSC-A", False), ("FITC-A", True), ("PE-A", True))
    )
    settings = (
        '<instrument_settings name="Cytometer Settings"><compensation_enabled>false'
        f"</compensation_enabled>{params}</instrument_settings>"
    )
    lin = _axis("x", False, False, 0) + _axis("y", False, False, 0)
    gates = [
        _gate("All Events", "EventSource_Classifier", 3000, None),
        _gate(
            "All Events\\P1",
            "Region_Classifier",
            11,
            "All Events",
            _region(
                "RECTANGLE_REGION",
                "FSC-A",
                "SSC-A",
                [
                    (50000.0, 100000.0),
                    (150000.0, 100000.0),
                    (150000.0, -1000.0),
                    (50000.0, -1000.0),
                ],
            ),
            lin,
        ),  # fmt: skip
        _gate(
            "All Events\\P1\\P2",
            "SnapTo_Interval_Classifier",
            22,
            "All Events\\P1",
            _region("INTERVAL_REGION", "FITC-A", None, [(0.0, 50.0), (3.0, 50.0)]),
            _axis("x", True, False, 200) + _axis("y", False, False, -1),
        ),  # fmt: skip
        _gate(
            "All Events\\P1\\$99",
            "Composite_Classifier",
            0,
            "All Events\\P1",
            _region("BINNER_REGION", "FITC-A", "PE-A", [(CX, CY)] * 3),
            _axis("x", True, True, 200) + _axis("y", True, True, 300),
        ),  # fmt: skip
        _quadrant("Q1", (0.0, 4095.0)),
        _quadrant("Q2", (4095.0, 4095.0)),
        _quadrant("Q3", (0.0, 0.0)),
        _quadrant("Q4", (4095.0, 0.0)),
        _gate(
            "All Events\\P1\\P3",
            "Region_Classifier",
            33,
            "All Events\\P1",
            _region(region_type, "FITC-A", "PE-A", TRIANGLE),
            _axis("x", True, True, 200) + _axis("y", True, True, 200),
        ),  # fmt: skip
        _gate(
            "All Events\\P1\\P7",
            "Region_Classifier",
            44,
            "All Events\\P1",
            _region(
                "RECTANGLE_REGION",
                "FITC-A",
                "PE-A",
                [(0.0, 3000.0), (2500.0, 3000.0), (2500.0, 1500.0), (0.0, 1500.0)],
            ),
            _axis("x", True, True, 200) + _axis("y", True, True, 300),
        ),  # fmt: skip
        _gate("All Events\\Rest of All Events", "RestOf_Classifier", 0, "All Events"),
        _gate(
            "All Events\\P5",
            "AND_Classifier",
            0,
            "All Events",
            "",
            "",
            ["All Events\\P1\\P2", "All Events\\P1\\P3"],
        ),  # fmt: skip
        _gate("All Events\\P6", "NOT_Classifier", 0, "All Events", "", "", ["All Events\\P1"]),
    ]
    tube = (
        '<tube name="_001"><data_filename>crafted.fcs</data_filename>'
        f"{settings}<gates>{''.join(gates)}</gates></tube>"
    )
    weird = _gate("All Events\\X", "Weird_Classifier", 1, "All Events")
    source = _gate("All Events", "EventSource_Classifier", 1, None)
    other = (
        '<tube name="_002"><data_filename>SECRET_other_tube.fcs</data_filename>'
        f"{settings}<gates>{source}{weird}</gates></tube>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><bdfacs version="Version 6.1.3">'
        '<experiment name="E"><log_decades>5</log_decades><owner_name>SECRET_OWNER</owner_name>'
        f'<specimen name="SECRET_SPECIMEN">{tube}{other}</specimen></experiment></bdfacs>'
    )


def _events(n: int = 3000) -> np.ndarray:
    rng = np.random.default_rng(12)
    ev = np.column_stack(
        [
            rng.uniform(0, 200000, n),
            rng.uniform(0, 140000, n),
            10 ** rng.uniform(-1, 5.3, n) * rng.choice([-0.05, 1.0], n, p=[0.2, 0.8]),
            10 ** rng.uniform(-1, 5.3, n) * rng.choice([-0.05, 1.0], n, p=[0.2, 0.8]),
        ]
    )
    ev[:20, 2] = -1e6  # far below the biex axis: drawn on its edge by Diva
    ev[20:40, 3] = 1e7  # far above it
    return ev


@pytest.fixture()
def crafted(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    xml = tmp_path / "experiment.xml"
    xml.write_text(_experiment(), encoding="utf-8")
    ev = _events()
    fcs = tmp_path / "crafted.fcs"
    chans = [Channel(n) for n in ("FSC-A", "SSC-A", "FITC-A", "PE-A")]
    fcs.write_bytes(build_fcs(ev.astype(np.float32), chans))
    return xml, fcs, ev.astype(np.float32).astype(np.float64)


def _channels(values: np.ndarray, r: float) -> np.ndarray:
    import flowutils

    w = biex_width(r)
    shown = 4096 * flowutils.transforms.logicle(values, None, t=262144, m=4.5, w=w, a=0)
    return np.clip(shown, 1e-6, 4095 - 1e-6)


def test_crafted_experiment_every_type(crafted) -> None:
    xml, fcs, ev = crafted
    strategy = load_strategy(xml)
    assert strategy.kind == "diva"
    require_gates(strategy, ["anything"])  # gates are per tube: checked per file
    result = evaluate(strategy, read_fcs(fcs))
    m = result.memberships
    fsc, ssc, fitc, pe = ev.T
    p1 = (fsc >= 50000) & (fsc < 150000) & (ssc < 100000)
    assert np.array_equal(m["P1"], p1)
    # interval from 0.0 (below the log axis' 2.62) to 10^3: negatives are in
    assert np.array_equal(m["P2"], p1 & (fitc < 1000))
    x200, y300 = _channels(fitc, 200), _channels(pe, 300)
    expected = {
        "Q1": (x200 < CX) & (y300 >= CY),
        "Q2": (x200 >= CX) & (y300 >= CY),
        "Q3": (x200 < CX) & (y300 < CY),
        "Q4": (x200 >= CX) & (y300 < CY),
    }
    for q, want in expected.items():
        assert np.array_equal(m[q], p1 & want), q
        assert result.parents[q] == "P1"  # the binner is no population of its own
    quads = np.vstack([m[q] for q in expected])
    assert np.array_equal(quads.sum(axis=0), p1.astype(int))  # off-scale events included
    inside = MplPath(TRIANGLE).contains_points(np.column_stack([x200, _channels(pe, 200)]))
    assert np.array_equal(m["P3"], p1 & inside)
    # a biex rectangle from the axis' left edge: the events drawn on that edge are in
    p7 = p1 & (x200 < 2500) & (y300 >= 1500) & (y300 < 3000)
    assert np.array_equal(m["P7"], p7) and (p7 & (fitc < -1e5)).any()
    assert np.array_equal(m["Rest of All Events"], ~p1)
    assert np.array_equal(m["P5"], m["P2"] & m["P3"])
    assert np.array_equal(m["P6"], ~p1)
    assert result.gate_paths["P3"] == ("root", "P1")
    tube = read_tube(xml, "crafted.fcs")
    assert tube.recorded["P1"] == 11 and tube.recorded_total == 3000


def _round_trip(xml: Path, fcs: Path, out: Path) -> None:
    """The tube's gates written as Gating-ML gate the file as the Diva tube does, in our
    engine and in FlowKit; the experiment's other content is not written."""
    data = read_fcs(fcs)
    diva = evaluate(load_strategy(xml), data)
    text = tube_gatingml(load_strategy(xml), data, "written by a test")
    assert "SECRET" not in text and "bdfacs" not in text
    out.write_text(text, encoding="utf-8")
    gml = load_strategy(out)
    assert gml.kind == "gatingml" and gml.engine == "sortpcr"
    ours, theirs = evaluate(gml, data), evaluate_flowkit(gml, data)
    for gate, members in diva.memberships.items():
        gid = gate.replace(" ", "_")  # Gating-ML IDs are XML names
        assert np.array_equal(ours.memberships[gid], members), gate
        assert np.array_equal(theirs.memberships[gid], members), gate


def test_crafted_tube_as_gatingml(crafted, tmp_path: Path) -> None:
    xml, fcs, _ = crafted
    _round_trip(xml, fcs, tmp_path / "tube.xml")


def test_tube_chosen_by_file_name(crafted, tmp_path: Path) -> None:
    xml, fcs, _ = crafted
    renamed = tmp_path / "CRAFTED.FCS"
    shutil.copy(fcs, renamed)
    strategy = load_strategy(xml)
    assert evaluate(strategy, read_fcs(renamed)).counts["P1"] > 0  # case-insensitive match
    other = tmp_path / "unknown.fcs"
    shutil.copy(fcs, other)
    with pytest.raises(GatingError) as err:
        evaluate(strategy, read_fcs(other))
    text = str(err.value)
    assert err.value.where == "samples" and "unknown.fcs" in text and str(xml) in text
    assert "SECRET" not in text  # other tubes' files, specimens, owners are not listed


def test_unknown_region_and_population_types_refused_by_name(tmp_path: Path) -> None:
    xml = tmp_path / "e.xml"
    xml.write_text(_experiment("ELLIPSE_REGION"), encoding="utf-8")
    with pytest.raises(GatingError) as err:
        read_tube(xml, "crafted.fcs")
    text = str(err.value)
    assert "ELLIPSE_REGION" in text and "All Events\\P1\\P3" in text and str(xml) in text
    xml.write_text(_experiment(), encoding="utf-8")
    with pytest.raises(GatingError, match="Weird_Classifier"):
        read_tube(xml, "SECRET_other_tube.fcs")


def test_doctype_and_bad_numbers_refused(tmp_path: Path) -> None:
    xml = tmp_path / "xxe.xml"
    body = _experiment().split("?>", 1)[1]
    xml.write_text('<!DOCTYPE bdfacs [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + body)
    with pytest.raises(XMLSecurityError):
        load_strategy(xml)
    bad = tmp_path / "bad.xml"
    bad.write_text(_experiment().replace('x="3500.0"', 'x="abc"'), encoding="utf-8")
    with pytest.raises(GatingError, match=r"point 2 x is 'abc', not a number"):
        read_tube(bad, "crafted.fcs")
    two = tmp_path / "two.xml"
    text = _experiment().replace("SECRET_other_tube.fcs", "crafted.fcs")
    two.write_text(text.replace("Weird_Classifier", "Region_Classifier"), encoding="utf-8")
    with pytest.raises(GatingError, match="2 tubes record the data file"):
        read_tube(two, "crafted.fcs")


# --------------------------------------------------------------------------- the real export

#: our counts for tube _001 of PE_2.xml on 124500.fcs (regression: any change to the axis
#: model shows here), beside what FACSDiva 6.1.3 recorded in the XML
OURS = {"P1": 17870, "P2": 17511, "P3": 12315, "P4": 1155, "P5": 1099}
DIVA = {"P1": 17902, "P2": 17543, "P3": 12334, "P4": 1160, "P5": 1100}


@pytest.mark.shared
def test_real_export_against_diva_counts() -> None:
    xml = shared_path("fcs", "diva", "PE_2.xml")
    fcs = shared_path("fcs", "diva", "124500.fcs")
    tube = read_tube(xml, "124500.fcs")
    assert tube.recorded == DIVA and tube.recorded_total == 19090
    result = evaluate(load_strategy(xml), read_fcs(fcs))
    assert result.n_events == 19090
    assert result.counts == OURS
    for gate, want in DIVA.items():
        share = abs(result.counts[gate] - want) / want
        # P4, with 1160 events, is 5 short (0.43 %): P1's shortfall carried down - with the
        # widths 0.9 % lower P4 is exact (test_real_export_shortfall_sits_at_the_width_bounds)
        assert share <= (0.0045 if gate == "P4" else 0.002), (gate, share)
    # CytoML's test of this tube (all.equal, tolerance 0.0018) pools the relative difference
    # over All Events and the five gates: sum |ours - Diva| / sum Diva = 89 / 69129
    pooled = sum(abs(result.counts[g] - n) for g, n in DIVA.items()) / (19090 + sum(DIVA.values()))
    assert pooled == pytest.approx(89 / 69129) and pooled < 0.0018
    # the spillover from the XML's compensation coefficients is the file's SPILL (3e-5)
    spill = tube.strategy.matrices["diva-experiment"].values
    assert np.abs(spill - read_fcs(fcs).spill_matrix).max() < 5e-5


#: the plot each gate of tube _001 was drawn in (worksheet "Sheet1"), in display pixels
#: (x, y): the 2-D plots' data area is 172 x 157 pixels, the PE-A histogram's 420 wide
PLOT_PIXELS = {"P1": (172, 157), "P2": (172, 157), "P3": (172, 157), "P4": (172, 157), "P5": (420,)}


def _display_pixel(u: float, t: Transform, n: int, decades: float) -> float:
    """Our normalised units -> Diva's display pixel of an ``n``-pixel axis: a linear axis
    shows <max> x 10^-decades to <max>, a biexponential one channels 0-4095, a log axis
    ``decades`` decades below <max>."""
    if t.kind == "diva_lin":
        bottom = 10.0**-decades
        return (u - bottom) / (1.0 - bottom) * n
    if t.kind == "diva_biex":
        return u * 4096 / 4095 * n
    return u * n


@pytest.mark.shared
def test_real_export_vertices_on_the_plot_pixel_grid() -> None:
    """Diva's own geometry checks our axis model: the gates of tube _001 were drawn with the
    mouse, so every vertex, mapped by our transforms, falls on a whole display pixel of its
    plot (to 1e-3 pixel; half a pixel is 0.3 % of an axis) - on linear, log and biexponential
    axes alike. The stored coordinates are therefore read exactly as Diva drew them."""
    tube = read_tube(shared_path("fcs", "diva", "PE_2.xml"), "124500.fcs")
    transforms = tube.strategy.transforms
    checked = 0
    for gid, pixels in PLOT_PIXELS.items():
        gate = tube.strategy.gates[gid]
        for k, (dim, n) in enumerate(zip(gate.dims, pixels, strict=True)):
            t = transforms[dim.xform]
            values = [v[k] for v in gate.vertices] if gate.kind == "polygon" else [dim.min, dim.max]
            for u in (v for v in values if v is not None):  # None: a bound beyond the axis
                p = _display_pixel(u, t, n, 5.0)
                assert abs(p - round(p)) < 1e-3, (gid, dim.name, p)
                checked += 1
    assert checked == 2 + 1 + 2 + 1 + 2 * 9 + 2 * 6 + 2


@pytest.mark.shared
def test_real_export_shortfall_sits_at_the_width_bounds() -> None:
    """Where P1's shortfall of 32 events sits: exactly 32 events lie within 0.91 % above its
    FSC-W upper bound (the next one 0.92 % above). With the two width parameters (FSC-W,
    SSC-W) 0.9 % lower and nothing else changed, every gate is within 3 events of Diva's
    count (P1, P3, P4 exact) - the rest of the reading (A and H axes, biexponential and log
    axes, the matrix) needs no change. Why Diva's widths differ is not in these two files:
    the FCS file is not the export that accompanies PE_2.xml (its $FIL, GUID and experiment
    name differ from the tube's) and its widths are 65536 x A / H exactly (also where A is
    clipped at 262143), so no factor is applied by the reader."""
    import dataclasses

    xml = shared_path("fcs", "diva", "PE_2.xml")
    path = shared_path("fcs", "diva", "124500.fcs")
    fcs = read_fcs(path)
    p1 = read_tube(xml, "124500.fcs").strategy.gates["P1"]
    w_hi, h_hi = p1.dims[0].max * 262143.0, p1.dims[1].max * 262143.0
    w, h, a = (fcs.uncompensated[:, fcs.index(n)] for n in ("FSC-W", "FSC-H", "FSC-A"))
    assert np.allclose(w, 65536.0 * a / h, rtol=1e-6)
    above = np.sort(w[(h <= h_hi) & (w > w_hi)] / w_hi)
    assert DIVA["P1"] - OURS["P1"] == 32 and above[31] < 1.0091 < above[32]
    text = path.read_bytes()[58:4203].decode("latin-1")  # the TEXT segment, as the header says
    pairs = text[1:].split(text[0])
    keywords = dict(zip(pairs[::2], pairs[1::2], strict=False))
    assert (keywords["$FIL"], keywords["EXPERIMENT NAME"]) == ("176312.fcs", "PE")
    assert keywords["GUID"] not in xml.read_text(encoding="utf-8")  # the tube's GUID differs
    lowered = []
    for values in (fcs.events, fcs.uncompensated):
        values = values.copy()
        for name in ("FSC-W", "SSC-W"):
            values[:, fcs.index(name)] *= 0.991
        lowered.append(values)
    moved = dataclasses.replace(fcs, events=lowered[0], uncompensated=lowered[1])
    counts = evaluate(load_strategy(xml), moved).counts
    assert counts == {"P1": 17902, "P2": 17546, "P3": 12334, "P4": 1160, "P5": 1101}
    assert all(abs(counts[g] - n) <= 3 for g, n in DIVA.items())


@pytest.mark.shared
def test_real_tube_as_gatingml(tmp_path: Path) -> None:
    xml = shared_path("fcs", "diva", "PE_2.xml")
    _round_trip(xml, shared_path("fcs", "diva", "124500.fcs"), tmp_path / "tube.xml")


@pytest.mark.shared
def test_real_export_other_tubes_stay_out_of_results(tmp_path: Path, monkeypatch) -> None:
    from sortpcr.flowqc import analyse_patient_with_events, applied_gates_text
    from sortpcr.gating import gate_view

    xml = shared_path("fcs", "diva", "PE_2.xml")
    src = shared_path("fcs", "diva", "124500.fcs")
    paths = {}
    for part in ("presort", "CD34pos", "CD34neg"):
        (tmp_path / part).mkdir()
        paths[part] = shutil.copy(src, tmp_path / part / "124500.fcs")
    settings = flowqc_settings(
        gating={
            "blast_gate": "P4",
            "fraction_gates": {"CD34pos": "P5", "CD34neg": "P3"},
            "markers": {"CD45": ["FITC-A"], "CD34": ["PE-A"]},
        }
    )
    labels = {k: f"fcs/{k}/124500.fcs" for k in paths}
    result, events = analyse_patient_with_events(
        "X01",
        paths["presort"],
        {"CD34pos": paths["CD34pos"], "CD34neg": paths["CD34neg"]},
        labels,
        xml,
        settings,
    )
    assert result["files"]["presort"]["counts"]["P5"] == OURS["P5"]
    # the singlet gate nearest above the blast gate, found in the tube: P2 (SSC-W x SSC-H)
    assert result["strategy"]["singlet_gate"] == "P2"
    # results/flow/{patient}.gating.xml: the tube's gates only, as Gating-ML
    written = applied_gates_text(result, events)
    assert "<gating:Gating-ML" in written and "PolygonGate" in written
    # the figure sees each file's own tube (normalised units like Gating-ML transforms)
    data = events.files["presort"][0]
    view = gate_view(events.strategy, data, "P4")
    assert view is not None and view.values.shape == (19090, 2)
    assert 0 < view.values.min() and view.values.max() < 1
    # the patient figure draws the tube's CD34 cut (P5 on PE-A) on the pre-sort histogram
    # and on the sorted tubes' (it looked the gate up in the experiment, which has none)
    from matplotlib.figure import Figure

    from sortpcr.plots.flow import patient_figure

    drawn = []
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: drawn.append(fig))
    patient_figure(result, events, tmp_path / "X01.png")
    a_cd34, a_sorted = drawn[0].axes[3], drawn[0].axes[4]
    assert a_cd34.lines and a_sorted.lines
    text = json.dumps(result) + written
    others = [f"1244{n}.fcs" for n in (80, 83, 85, 87, 89, 91, 93, 95, 97)]
    others += ["124502.fcs", "124504.fcs", "124506.fcs"]
    for secret in [*others, "_002", "Compensation Controls", "laboEnzymo", "Administrator"]:
        assert secret not in text, secret


@pytest.mark.shared
def test_no_readable_file_is_a_file_fail_not_a_crash(tmp_path: Path) -> None:
    """With a Diva experiment as strategy and no file of the patient readable, the result is
    a file failure and the applied-gates file says why it holds no gates (as for a FlowJo
    workspace), instead of the gating job stopping on "gates depend on the file"."""
    from sortpcr.flowqc import analyse_patient_with_events, applied_gates_text

    xml = shared_path("fcs", "diva", "PE_2.xml")
    empty = tmp_path / "124500.fcs"
    empty.write_bytes(b"")
    gates = {"blast_gate": "P4", "fraction_gates": {"CD34pos": "P5", "CD34neg": "P3"}}
    settings = flowqc_settings(gating=gates)
    labels = {k: f"fcs/{k}/124500.fcs" for k in ("presort", "CD34pos", "CD34neg")}
    result, events = analyse_patient_with_events(
        "X01", empty, {"CD34pos": empty, "CD34neg": empty}, labels, xml, settings
    )
    assert result["status"] == "fail"
    assert {f["ok"] for f in result["files"].values()} == {False}
    written = applied_gates_text(result, events)
    assert "No file of this patient could be read, so the Diva experiment's gates" in written
    assert "<gating:Gating-ML" in written and "Gate" not in written.split("-->")[1]
