"""Gating: Gating-ML 2.0 compliance, FlowJo workspaces, our evaluator against FlowKit, XML
safety, and the configuration checks.

The reference for memberships is FlowKit's ``GatingStrategy.gate_sample`` with FlowKit
reading the FCS file itself, plus the published truth vectors of the Gating-ML 2.0
compliance set (``../shared/fcs/gatingml``).
"""

from __future__ import annotations

import re
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from sortpcr.errors import GatingError, XMLSecurityError
from sortpcr.fcs import read_fcs
from sortpcr.gating import evaluate, evaluate_flowkit, load_strategy, require_gates
from tests.conftest import ROOT, fresh_python

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
GML_DIR = SHARED / "fcs" / "gatingml"
WSP_DIR = SHARED / "fcs" / "flowjo_wsp"
STRATEGIES = REPO / "resources" / "gating"
sys.path.insert(0, str(REPO / "resources" / "demo"))
import flow_sim  # noqa: E402

needs_shared = pytest.mark.skipif(not GML_DIR.is_dir(), reason="../shared/fcs not present")

# Truth files whose name differs from the gate ID in FlowKit's compliance set.
TRUTH_ALIASES = {"ParQuadRect": "ParRectangle1"}


def _truth_cases() -> list[tuple[str, str, str]]:
    """(truth name, gate ID, Gating-ML file) for every truth vector."""
    if not GML_DIR.is_dir():
        return []
    files = sorted((GML_DIR / "gml").glob("*.xml"))
    texts = {f: f.read_text(encoding="utf-8") for f in files}
    cases = []
    for truth in sorted((GML_DIR / "truth").glob("Results_*.txt")):
        name = truth.stem.removeprefix("Results_")
        gate = TRUTH_ALIASES.get(name, name)
        pattern = re.compile(rf'gating:id="{re.escape(gate)}"')
        # prefer the smallest file defining the gate (the dedicated test file)
        holders = sorted(
            (f for f in files if pattern.search(texts[f])), key=lambda f: len(texts[f])
        )
        assert holders, f"no Gating-ML file defines {gate}"
        cases.append((name, gate, holders[0].name))
    return cases


TRUTH_CASES = _truth_cases()


@pytest.fixture(scope="module")
def data1():
    return read_fcs(GML_DIR / "data1.fcs")


@needs_shared
@pytest.mark.shared
def test_every_truth_vector_has_a_case() -> None:
    assert len(TRUTH_CASES) == len(list((GML_DIR / "truth").glob("Results_*.txt"))) == 51


@needs_shared
@pytest.mark.shared
@pytest.mark.parametrize("name,gate,xml", TRUTH_CASES, ids=[c[0] for c in TRUTH_CASES])
def test_gatingml_compliance_truth(name: str, gate: str, xml: str, data1) -> None:
    """Our evaluator (no FlowKit) reproduces each published truth vector exactly."""
    strategy = load_strategy(GML_DIR / "gml" / xml)
    assert strategy.engine == "sortpcr"
    result = evaluate(strategy, data1)
    truth = np.loadtxt(GML_DIR / "truth" / f"Results_{name}.txt", dtype=int).astype(bool)
    assert result.engine == "sortpcr"
    np.testing.assert_array_equal(result.memberships[gate], truth)


@needs_shared
@pytest.mark.shared
def test_gatingml_compliance_equals_flowkit_everywhere(data1) -> None:
    """Every gate of every compliance file: our memberships == FlowKit's on the same file."""
    import flowkit

    sample = flowkit.Sample(str(GML_DIR / "data1.fcs"), sample_id="data1")
    compared = 0
    for xml in sorted((GML_DIR / "gml").glob("*.xml")):
        if xml.name == "gml_range_gate_attr_testing.xml":
            continue  # not schema-valid Gating-ML: both refuse it (tested below)
        strategy = load_strategy(xml)
        ours = evaluate(strategy, data1)
        theirs = evaluate_flowkit(strategy, data1, sample=sample)
        assert set(ours.memberships) == set(theirs.memberships), xml.name
        for gate, members in ours.memberships.items():
            np.testing.assert_array_equal(members, theirs.memberships[gate], err_msg=gate)
            compared += 1
    assert compared >= 60


@needs_shared
@pytest.mark.shared
def test_invalid_gatingml_is_refused() -> None:
    with pytest.raises(GatingError, match="no gates"):
        load_strategy(GML_DIR / "gml" / "gml_range_gate_attr_testing.xml")


def test_our_evaluator_does_not_import_flowkit(tmp_path: Path) -> None:
    paths = flow_sim.write_patient_fcs(tmp_path, "X1", 0.4, "diva", 3, {}, n_events=2000)
    code = textwrap.dedent(
        f"""
        import sys
        from sortpcr.fcs import read_fcs
        from sortpcr.gating import load_strategy, evaluate
        r = evaluate(load_strategy({str(STRATEGIES / "facsdiva.xml")!r}),
                     read_fcs({str(paths["presort"])!r}))
        assert r.engine == "sortpcr" and r.counts["Blasts"] > 0
        print("flowkit" in sys.modules)
        """
    )
    assert fresh_python(code) == "False"


# --------------------------------------------------------------------------- FlowJo


@needs_shared
@pytest.mark.shared
@pytest.mark.parametrize(
    "wsp,expected",
    [
        ("simple_poly_and_rect.wsp", {"poly1", "rect1"}),
        ("single_ellipse_51_events.wsp", {"ellipse1"}),
    ],
)
def test_flowjo_workspace_counts_equal_flowkit(wsp: str, expected: set[str]) -> None:
    import flowkit

    fcs_path = WSP_DIR / "data_set_simple_line_100.fcs"
    strategy = load_strategy(WSP_DIR / wsp)
    assert strategy.kind == "flowjo" and strategy.sample_ids == ("data_set_simple_line_100.fcs",)
    ours = evaluate(strategy, read_fcs(fcs_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ws = flowkit.Workspace(str(WSP_DIR / wsp), fcs_samples=str(fcs_path))
        ws.analyze_samples(sample_id=fcs_path.name, use_mp=False)
        report = ws.get_analysis_report()
    theirs = dict(zip(report["gate_name"], report["count"], strict=True))
    assert set(ours.counts) == expected
    assert ours.counts == {g: int(c) for g, c in theirs.items()}
    if "ellipse1" in expected:
        assert ours.counts["ellipse1"] == 51  # the workspace's name says so


@needs_shared
@pytest.mark.shared
def test_flowjo_workspace_without_the_sample() -> None:
    strategy = load_strategy(WSP_DIR / "single_ellipse_51_events.wsp")
    data = read_fcs(WSP_DIR / "data_set_simple_line_100.fcs")
    with pytest.raises(GatingError, match="no sample 'P07_presort.fcs'") as info:
        evaluate(strategy, data, sample="P07_presort.fcs")
    assert "data_set_simple_line_100.fcs" in str(info.value)


# --------------------------------------------------------------------------- demo strategies


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    diva = flow_sim.write_patient_fcs(out, "D1", 0.35, "diva", 11, {}, n_events=20000)
    cq = flow_sim.write_patient_fcs(out, "C1", 0.62, "cellquest", 12, {}, n_events=20000)
    return {"facsdiva.xml": diva, "cellquest.xml": cq}


@pytest.mark.parametrize(
    "xml", ["facsdiva.xml", "cellquest.xml", "facsdiva_fixed.xml", "cellquest_fixed.xml"]
)
def test_fast_evaluator_equals_flowkit_on_demo(xml: str, demo_files) -> None:
    """Identical memberships, every gate, every tube: FlowKit reads the file itself. For the
    adaptive strategies twice: the template as written (FlowKit ignores our searches), and
    the gates as adapted on the pre-sort file (FlowKit reads them from our Gating-ML)."""
    import flowkit

    strategy = load_strategy(STRATEGIES / xml)
    files = demo_files[xml.replace("_fixed", "")]
    applied = evaluate(strategy, read_fcs(files["presort"])).applied
    assert applied.adaptive is False
    assert bool(applied.adaptations) == strategy.adaptive == ("fixed" not in xml)
    for tube, path in files.items():
        data = read_fcs(path)
        sample = flowkit.Sample(str(path), sample_id=tube)
        for used, ours in (
            (strategy, evaluate(strategy, data, adapt=False)),
            (applied, evaluate(applied, data)),
        ):
            theirs = evaluate_flowkit(used, data, sample=sample)
            assert ours.engine == "sortpcr" and theirs.engine == "flowkit"
            assert sorted(ours.counts) == sorted(theirs.counts)
            for gate in ours.memberships:
                np.testing.assert_array_equal(ours.memberships[gate], theirs.memberships[gate])
            assert ours.counts["Blasts"] > 0.5 * ours.n_events


@pytest.mark.parametrize("suffix", ["", "_fixed"])
def test_demo_strategies_share_gate_ids_and_avoid_pileup(suffix: str) -> None:
    diva = load_strategy(STRATEGIES / f"facsdiva{suffix}.xml")
    cq = load_strategy(STRATEGIES / f"cellquest{suffix}.xml")
    extra = {"Lymphocytes"} if not suffix else set()
    assert set(cq.gate_ids()) == {"Cells", "Blasts", "CD34pos", "CD34neg"} | extra
    assert set(diva.gate_ids()) == set(cq.gate_ids()) | {"Singlets"}
    assert diva.parent("Blasts") == "Singlets" and cq.parent("Blasts") == "Cells"
    assert diva.adaptive is cq.adaptive is (not suffix)
    pileup = {0.0, 1023.0, 262143.0, 262144.0}
    for strategy in (diva, cq):
        for gate in strategy.gates.values():
            for vertex in gate.vertices:
                assert not set(vertex) & pileup, (gate.id, vertex)
            for dim in gate.dims:
                assert dim.min not in pileup and dim.max not in pileup


def test_strategy_channels_missing_from_file(demo_files) -> None:
    data = read_fcs(demo_files["facsdiva.xml"]["presort"])
    with pytest.raises(GatingError) as info:
        evaluate(load_strategy(STRATEGIES / "cellquest.xml"), data)
    message = str(info.value)
    assert "channel(s) FL1-H, FL2-H that this file does not have" in message
    assert str(demo_files["facsdiva.xml"]["presort"]) in message


def test_require_gates_lists_existing_ids() -> None:
    strategy = load_strategy(STRATEGIES / "facsdiva.xml")
    require_gates(strategy, ["Blasts", "CD34pos"])
    with pytest.raises(GatingError, match="'Leukemic'") as info:
        require_gates(strategy, ["Leukemic", "CD34pos"])
    assert "Cells, Singlets, Blasts, Lymphocytes, CD34pos, CD34neg" in str(info.value)


# --------------------------------------------------------------------------- XML safety

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating">&lol3;
</gating:Gating-ML>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating"
  xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">
  <gating:RectangleGate gating:id="&xxe;">
    <gating:dimension gating:min="1"><data-type:fcs-dimension data-type:name="FSC-H"/>
    </gating:dimension>
  </gating:RectangleGate>
</gating:Gating-ML>
"""

DOCTYPE_ONLY = """<?xml version="1.0"?>
<!DOCTYPE Workspace SYSTEM "http://example.org/flowjo.dtd">
<Workspace flowJoVersion="10.6"></Workspace>
"""


@pytest.mark.parametrize(
    "text", [BILLION_LAUGHS, EXTERNAL_ENTITY, DOCTYPE_ONLY], ids=["bomb", "xxe", "doctype"]
)
def test_entity_declarations_are_refused(text: str, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "evil.xml"
    path.write_text(text, encoding="utf-8")
    import sortpcr.gating.gatingml as g

    def never(*_a, **_k):  # FlowKit must not even be reached
        raise AssertionError("FlowKit was called on unsafe XML")

    monkeypatch.setattr(g, "_flowkit_gatingml", never)
    with pytest.raises(XMLSecurityError) as info:
        load_strategy(path)
    assert "evil.xml" in str(info.value) and "root:x" not in str(info.value)


def test_malformed_and_foreign_xml(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<gating:Gating-ML", encoding="utf-8")
    with pytest.raises(GatingError, match="not well-formed"):
        load_strategy(bad)
    other = tmp_path / "other.xml"
    other.write_text("<svg/>", encoding="utf-8")
    with pytest.raises(GatingError, match="neither Gating-ML"):
        load_strategy(other)
    with pytest.raises(GatingError, match="not found"):
        load_strategy(tmp_path / "absent.xml")


def test_flowkit_fallback_path_gives_the_same_memberships(demo_files, monkeypatch) -> None:
    """A strategy our parser declines is parsed and evaluated by FlowKit instead."""
    import sortpcr.gating.gatingml as g

    def decline(*_a, **_k):
        raise g._Unsupported("pretend an element is unknown")

    data = read_fcs(demo_files["cellquest.xml"]["presort"])
    ours = evaluate(load_strategy(STRATEGIES / "cellquest.xml"), data, adapt=False)
    monkeypatch.setattr(g, "_parse_gatingml", decline)
    fallback = load_strategy(STRATEGIES / "cellquest.xml")
    assert fallback.engine == "flowkit" and "unknown" in fallback.fallback_reason
    assert fallback.parent("Blasts") == "Cells"
    theirs = evaluate(fallback, data)
    assert theirs.engine == "flowkit"
    for gate, members in ours.memberships.items():
        np.testing.assert_array_equal(members, theirs.memberships[gate])


def test_raw_space_bounds_equal_full_transform(demo_files, monkeypatch) -> None:
    """Bounds of logicle dimensions are tested on raw values, transforming only the events
    within a hair of a bound. Events placed on, one ulp beside and just around every bound
    (CD34 cut, the blast polygon's CD45 edges) get the same memberships as transforming
    every event (the path proven equal to FlowKit above)."""
    import dataclasses

    import sortpcr.gating.engine as g
    from sortpcr.gating.transforms import inverse_values

    strategy = load_strategy(STRATEGIES / "facsdiva.xml")
    data = read_fcs(demo_files["facsdiva.xml"]["presort"])
    logicle = strategy.transforms[strategy.gates["CD34pos"].dims[0].xform]
    cut = strategy.gates["CD34pos"].dims[0].min
    cd45_edges = sorted({v[0] for v in strategy.gates["Blasts"].vertices})
    crafted = []
    for bound in (cut, *cd45_edges):
        raw = float(inverse_values(np.array([bound]), logicle)[0])
        crafted += [raw, np.nextafter(raw, -np.inf), np.nextafter(raw, np.inf)]
        crafted += [raw * (1 + e) for e in (-1e-9, 1e-9, -1e-6, 1e-6)]
    crafted = np.array(crafted + [np.nan])
    events = data.events.copy()
    for channel in ("PE-A", "FITC-A"):
        column = data.channels.index(channel)
        events[:, column] = np.resize(crafted, events.shape[0])
        events[::7, column] = data.events[::7, column]  # keep some real blasts as well
    data = dataclasses.replace(data, events=events)

    fast = evaluate(strategy, data, adapt=False)
    monkeypatch.setattr(g, "_MONOTONE", frozenset())
    full = evaluate(strategy, data, adapt=False)
    for gate, members in full.memberships.items():
        np.testing.assert_array_equal(fast.memberships[gate], members, err_msg=gate)
    assert 0 < fast.counts["CD34pos"] < fast.counts["Blasts"]


def test_check_gate_ids_names_every_missing_id_and_the_defined_ones():
    from sortpcr.errors import GatingError
    from sortpcr.gating import check_gate_ids

    check_gate_ids("s.xml", ["Blasts"], ["Cells", "Blasts"], "the configuration")  # no error
    with pytest.raises(GatingError) as info:
        check_gate_ids("s.xml", ["Blasts", "CD34pos", "Cells"], ["Cells", "P4"], "the config")
    text = str(info.value)
    assert "'Blasts', 'CD34pos' named in the config are not in the strategy" in text
    assert "it defines: Cells, P4" in text


def test_gates_are_ordered_after_what_they_need_and_a_cycle_is_named(tmp_path):
    """One ordering for Gating-ML and FACSDiva: parents and Boolean inputs first, in the
    file's order otherwise; a Boolean gate that needs itself through another is refused."""
    from sortpcr.gating.model import Gate, dependency_order

    gates = {
        "Both": Gate("Both", None, "boolean", op="and", refs=(("A", True), ("B", True))),
        "B": Gate("B", "A", "rectangle"),
        "A": Gate("A", None, "rectangle"),
    }
    needs = {"Both": ["A", "B"], "B": ["A"], "A": []}
    assert list(dependency_order(gates, needs.__getitem__, "s.xml", "gate")) == ["A", "B", "Both"]
    needs["A"] = ["Both"]
    with pytest.raises(GatingError, match=r"s.xml: cyclic population references around 'Both'"):
        dependency_order(gates, needs.__getitem__, "s.xml", "population")

    cyclic = tmp_path / "cyclic.xml"
    cyclic.write_text(
        textwrap.dedent(
            """\
            <gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating"
                xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">
              <gating:BooleanGate gating:id="X">
                <gating:and>
                  <gating:gateReference gating:ref="Y"/>
                  <gating:gateReference gating:ref="Y"/>
                </gating:and>
              </gating:BooleanGate>
              <gating:BooleanGate gating:id="Y">
                <gating:and>
                  <gating:gateReference gating:ref="X"/>
                  <gating:gateReference gating:ref="X"/>
                </gating:and>
              </gating:BooleanGate>
            </gating:Gating-ML>
            """
        )
    )
    with pytest.raises(GatingError, match="cyclic gate references around 'X'"):
        load_strategy(cyclic)


def test_flowkit_sample_carries_the_matrix_the_sheet_chose(tmp_path):
    """FlowKit (FlowJo workspaces, the Gating-ML fallback) compensates with the spillover the
    Sample carries: the file's own, none when the sheet says none, the sheet's matrix when it
    gives one - the same choice our own reader made and recorded."""
    from sortpcr.fcs import read_fcs
    from sortpcr.gating.flowkit_bridge import flowkit_sample

    path = ROOT / "resources" / "demo" / "fcs" / "P01_presort.fcs"
    own = read_fcs(path)
    assert own.compensation == "file"
    assert flowkit_sample(own).metadata["spillover"] == "2,FITC-A,PE-A,1.0,0.22,0.015,1.0"
    off = read_fcs(path, compensation="none")
    assert off.compensation == "off" and "spillover" not in flowkit_sample(off).metadata
    matrix = tmp_path / "m.tsv"
    matrix.write_text("FITC-A\tPE-A\n1\t0.3\n0.02\t1\n")
    given = read_fcs(path, compensation=matrix)
    assert given.compensation == "matrix"
    text = flowkit_sample(given).metadata["spillover"]
    assert text == "2,FITC-A,PE-A,1.0,0.3,0.02,1.0"


def test_inverse_of_every_gatingml_transform_and_none_for_an_unknown_kind():
    """One inverse for all kinds: each returns the raw value its transform maps from; a kind
    without an inverse is refused by name (it used to be treated as asinh, silently)."""
    from sortpcr.gating.model import Transform
    from sortpcr.gating.transforms import inverse_values, transform_values

    raw = np.array([1.0, 50.0, 3000.0])
    kinds = {
        "flin": {"T": 10000.0, "A": 100.0},
        "flog": {"T": 10000.0, "M": 4.5},
        "fasinh": {"T": 10000.0, "M": 4.5, "A": 0.0},
        "logicle": {"T": 10000.0, "M": 4.5, "W": 0.5, "A": 0.0},
        "hyperlog": {"T": 10000.0, "M": 4.5, "W": 0.5, "A": 0.0},
    }
    for kind, params in kinds.items():
        t = Transform(kind, kind, params)
        back = inverse_values(transform_values(raw, t), t)
        np.testing.assert_allclose(back, raw, rtol=1e-9, err_msg=kind)
    with pytest.raises(GatingError, match="'diva_log' has no inverse"):
        inverse_values(raw, Transform("d", "diva_log", {}))
