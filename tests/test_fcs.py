"""FCS reader: real instrument files against independent readers, crafted odd files, scaling,
compensation and the privacy subset.

Independent readers: fcsparser 0.2.4 on the files it can still read (little-endian; it
crashes on big-endian files under numpy 2), and ``_reference_read`` below - a few lines of
regex + numpy that share no code with flowio or ``sortpcr.fcs``; it is given the DATA offset
from the table (worked out by hand from each file's HEADER/TEXT and size) instead of
deciding it, so it also checks our offset rule.
"""

from __future__ import annotations

import re
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from sortpcr.errors import FCSError
from sortpcr.fcs import (
    find_marker,
    identifying_keywords,
    is_identifying,
    read_fcs,
    read_text,
    resolve_markers,
    safe_metadata,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FCS_DIR = SHARED / "fcs"
sys.path.insert(0, str(REPO / "resources" / "demo"))
from fcswrite import Channel, build_fcs, chain_data_sets  # noqa: E402

needs_shared = pytest.mark.skipif(not FCS_DIR.is_dir(), reason="../shared/fcs not present")

# Every real file and what must happen to it. data_start: absolute byte of the DATA segment
# (by hand: HEADER/TEXT offsets checked against $TOT x sum($PnB)/8 and the file size).
REAL_FILES = {
    "cytoflow__Accuri_-_C6.fcs": dict(
        outcome="read", data_start=2960, events=60661, version="3.0", compensation="file",
        why="HEADER and TEXT disagree; TEXT start 2526 lies inside TEXT; HEADER fits",
    ),
    "cytoflow__Beckman_Coulter_-_Gallios.LMD": dict(
        outcome="refused", match="2 data sets",
        why="two data sets ($NEXTDATA): the caller must choose; both read below",
    ),
    "cytoflow__Cytek_xP5.fcs": dict(
        outcome="read", data_start=4096, events=23126, version="3.0", compensation="none",
        why="24-bit big-endian integers, byte-aligned: DATA 4096-559119 = 23126 x 8 x 3 bytes",
    ),
    "cytoflow__Partec_-_CyFlow_v2.9.fcs": dict(
        outcome="read", data_start=3022, events=72989, version="3.0", compensation="none",
        why="whitespace-padded $DATATYPE keyword (flowio alone fails); $ENDDATA off by one",
    ),
    "cytoml__diva_124500.fcs": dict(
        outcome="read", data_start=4203, events=19090, version="3.0", compensation="file",
    ),
    "fcsparser__MACSQuant_EY_2013-07-19_PBS_FCS_3.1_Well_A1.001.fcs": dict(
        outcome="refused", match="6 channels but holds 6 items", data_start=127605,
        events=10000, version="3.1",
        why="$SPILLOVER names 6 channels and gives no values; reads with compensation='none'",
    ),
    "flowcal__Data001.fcs": dict(
        outcome="read", data_start=2048, events=20949, version="2.0", compensation="none",
    ),
    "flowcal__Data004.fcs": dict(
        outcome="read", data_start=2475, events=50000, version="3.0", compensation="file",
    ),
    "flowio__B01_KC-A-W---91-US.fcs": dict(
        outcome="read", data_start=4418, events=1589, version="3.1", compensation="file",
    ),
    "flowio__data1.fcs": dict(
        outcome="read", data_start=2560, events=13367, version="2.0", compensation="none",
        why="CellQuest FCS 2.0, log channels, $PnG on FSC/SSC, empty last keyword value",
    ),
    "flowkit__test_comp_example.fcs": dict(
        outcome="read", data_start=3318, events=10703, version="3.0", compensation="file",
    ),
    "flowjo_wsp/data_set_simple_line_100.fcs": dict(
        outcome="read", data_start=497, events=100, version="3.1", compensation="none",
    ),
    "gatingml/data1.fcs": dict(
        outcome="read", data_start=2560, events=13367, version="2.0", compensation="none",
    ),
}  # fmt: skip

# Data sets of the Beckman .LMD, read with dataset=0 / dataset=1.
LMD_SETS = {
    0: dict(data_start=21800, version="2.0"),
    1: dict(data_start=355546 + 58, version="3.0"),
}


# --------------------------------------------------------------------------- reference reader


def _kw(text: str, delim: str, key: str) -> str | None:
    """Value of ``key`` in a TEXT segment by regex (keyword may be whitespace-padded)."""
    m = re.search(re.escape(delim) + r"\s*" + re.escape(key) + re.escape(delim), text, re.I)
    if not m:
        return None
    end = text.find(delim, m.end())
    return text[m.end() : end if end >= 0 else len(text)]


def _reference_read(path: Path, data_start: int, set_start: int = 0) -> tuple[np.ndarray, list]:
    """Scale values of one data set, by hand: struct for the HEADER, numpy for DATA."""
    raw = path.read_bytes()
    t0, t1 = (int(x) for x in struct.unpack("8s8s", raw[set_start + 10 : set_start + 26]))
    text = raw[set_start + t0 : set_start + t1 + 1].decode("latin-1")
    d = text[0]
    par = int(_kw(text, d, "$PAR"))
    tot = int(_kw(text, d, "$TOT"))
    dtype_code = _kw(text, d, "$DATATYPE").strip().upper()
    little = _kw(text, d, "$BYTEORD").strip().startswith("1")
    endian = "<" if little else ">"
    names, fields = [], []
    for i in range(1, par + 1):
        bits = int(_kw(text, d, f"$P{i}B"))
        names.append(_kw(text, d, f"$P{i}N"))
        if dtype_code == "F":
            fields.append(endian + "f4")
        elif dtype_code == "D":
            fields.append(endian + "f8")
        else:
            fields.append(endian + {8: "u1", 16: "u2", 32: "u4"}[bits] if bits != 24 else "3u1")
    rec = np.dtype([(f"p{i}", f) for i, f in enumerate(fields)])
    data = np.frombuffer(raw, dtype=rec, count=tot, offset=data_start)
    out = np.empty((tot, par))
    timestep = _kw(text, d, "$TIMESTEP")
    for i in range(par):
        if data[f"p{i}"].ndim == 2:  # 24-bit: three bytes per value, by Python's int
            order = "little" if little else "big"
            whole = [int.from_bytes(bytes(cell), order) for cell in data[f"p{i}"]]
            data = {**{f"p{j}": data[f"p{j}"] for j in range(par)}, f"p{i}": np.array(whole)}
        col = data[f"p{i}"].astype(np.float64)
        rng = float(_kw(text, d, f"$P{i + 1}R"))
        if dtype_code == "I":
            top = 1
            while top < rng:
                top *= 2
            col = (data[f"p{i}"] & (top - 1)).astype(np.float64)
        e = (_kw(text, d, f"$P{i + 1}E") or "0,0").strip().split(",")
        f1, f2 = float(e[0]), float(e[1])
        g = _kw(text, d, f"$P{i + 1}G")
        if f1 > 0 and dtype_code == "I":
            col = (f2 if f2 > 0 else 1.0) * 10 ** (f1 * col / rng)
        elif names[i].strip().lower() == "time":
            col = col * (float(timestep) if timestep and timestep.strip() else 1.0)
        elif g and float(g) not in (0.0, 1.0):
            col = col / float(g)
        out[:, i] = col
    return out, names


def _fcsparser_values(path: Path, dataset: int = 0) -> np.ndarray:
    from fcsparser.api import FCSParser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parser = FCSParser(str(path), data_set=dataset, channel_naming="$PnN")
    return np.asarray(parser.data, dtype=np.float64)


# --------------------------------------------------------------------------- real files


@needs_shared
@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_real_file_outcome(name: str) -> None:
    """Each real file reads with the reference reader's values, or is refused clearly."""
    spec = REAL_FILES[name]
    path = FCS_DIR / name
    if spec["outcome"] == "refused":
        with pytest.raises(FCSError) as info:
            read_fcs(path)
        message = str(info.value)
        assert str(path) in message and spec["match"] in message
        if "data_start" not in spec:
            return
        data = read_fcs(path, compensation="none")  # readable once the bad matrix is skipped
    else:
        data = read_fcs(path)
        assert data.compensation == spec["compensation"]
    assert data.version == spec["version"]
    assert data.n_events == spec["events"] == data.events.shape[0]
    assert data.data_offsets[0] == spec["data_start"]
    expected, names = _reference_read(path, spec["data_start"])
    assert list(data.channels) == [n for n in names]
    np.testing.assert_allclose(data.uncompensated, expected, rtol=1e-12, atol=0)


@needs_shared
@pytest.mark.shared
@pytest.mark.parametrize("dataset", sorted(LMD_SETS))
def test_multiple_data_sets_read_explicitly(dataset: int) -> None:
    path = FCS_DIR / "cytoflow__Beckman_Coulter_-_Gallios.LMD"
    spec = LMD_SETS[dataset]
    data = read_fcs(path, dataset=dataset)
    assert (data.dataset, data.n_datasets, data.version) == (dataset, 2, spec["version"])
    set_start = 0 if dataset == 0 else 355546
    expected, _ = _reference_read(path, spec["data_start"], set_start)
    np.testing.assert_allclose(data.uncompensated, expected, rtol=1e-12)
    # fcsparser reads this little-endian file: raw channel values agree after our masking
    # of the flag bits above $PnR (2^20 in data set 1) and before scaling.
    fp = _fcsparser_values(path, dataset)
    if dataset == 1:
        fp = np.mod(fp, 2**20)
        np.testing.assert_array_equal(data.uncompensated[:, :4], fp[:, :4])
    else:
        # data set 0: FS/SS divided by their gains, FL1/FL2 on 4-decade log (f2 = 0.1024)
        np.testing.assert_allclose(data.uncompensated[:, 0], fp[:, 0] / 10.0)
        np.testing.assert_allclose(data.uncompensated[:, 2], 0.1024 * 10 ** (4 * fp[:, 2] / 1024))
    with pytest.raises(FCSError, match="holds 2"):
        read_fcs(path, dataset=2)


@needs_shared
@pytest.mark.shared
@pytest.mark.parametrize(
    "name",
    [
        "fcsparser__MACSQuant_EY_2013-07-19_PBS_FCS_3.1_Well_A1.001.fcs",
        "flowjo_wsp/data_set_simple_line_100.fcs",
    ],
)
def test_fcsparser_agrees_on_float_files(name: str) -> None:
    """Second reader on the little-endian float files it can read (values unscaled)."""
    data = read_fcs(FCS_DIR / name, compensation="none")
    np.testing.assert_array_equal(data.uncompensated, _fcsparser_values(FCS_DIR / name))


@needs_shared
@pytest.mark.shared
def test_fcs2_log_scaling_by_hand() -> None:
    """data1.fcs (FACSCalibur, FCS 2.0): FL1-H is $P3E 4,0 over $P3R 1024, FSC-H $P1G 3.67.

    First event read by hand with struct: big-endian unsigned 16-bit at byte 2560.
    """
    path = FCS_DIR / "flowio__data1.fcs"
    raw = path.read_bytes()
    first = struct.unpack(">8H", raw[2560 : 2560 + 16])
    data = read_fcs(path)
    assert data.events[0, 2] == pytest.approx(10 ** (4 * first[2] / 1024), rel=1e-12)
    assert data.events[0, 0] == pytest.approx(first[0] / 3.67, rel=1e-12)
    assert data.events[0, 5] == first[5]  # FL2-A linear, no gain
    assert data.channel_range["FL1-H"] == (1.0, 10000.0)


@needs_shared
@pytest.mark.shared
def test_compensation_matches_explicit_solve() -> None:
    """SPILL applied as x_comp = x_raw S^-1 on the matrix channels; others untouched.

    (FACSDiva file with a real 8-colour matrix; FlowKit's example file has an identity one.)
    """
    path = FCS_DIR / "cytoml__diva_124500.fcs"
    data = read_fcs(path)
    text = read_text(path)
    parts = text["SPILL"].split(",")
    n = int(parts[0])
    names = parts[1 : n + 1]
    spill = np.array([float(v) for v in parts[n + 1 :]]).reshape(n, n)
    idx = [data.channels.index(c) for c in names]
    expected = data.uncompensated.copy()
    expected[:, idx] = data.uncompensated[:, idx] @ np.linalg.inv(spill)
    np.testing.assert_allclose(data.events, expected, rtol=1e-9, atol=1e-6)
    assert data.compensation == "file" and data.spill_keyword == "SPILL"
    other = [i for i in range(len(data.channels)) if i not in idx]
    np.testing.assert_array_equal(data.events[:, other], data.uncompensated[:, other])
    assert not np.allclose(data.events[:, idx], data.uncompensated[:, idx])


@needs_shared
@pytest.mark.shared
def test_accuri_width_is_a_null_channel() -> None:
    """Accuri's $SPILLOVER leaves out `Width` and `Time`: they stay uncompensated."""
    data = read_fcs(FCS_DIR / "flowio__B01_KC-A-W---91-US.fcs")
    assert "Width" not in data.spill_channels
    w = data.channels.index("Width")
    np.testing.assert_array_equal(data.events[:, w], data.uncompensated[:, w])


@needs_shared
@pytest.mark.shared
def test_cellquest_is_never_compensated() -> None:
    data = read_fcs(FCS_DIR / "flowcal__Data001.fcs")
    assert data.compensation == "none" and data.spill_matrix is None
    assert data.events is data.uncompensated


# --------------------------------------------------------------------------- crafted files

CH = [Channel("FSC-A"), Channel("SSC-A"), Channel("PE-A", "CD34 PE")]


def _events(n: int = 50, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(1, 1000, (n, 3)).astype(np.float32)


def _write(tmp_path: Path, data: bytes, name: str = "x.fcs") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _text_end(blob: bytes) -> int:
    return int(blob[18:26])


def test_offset_rule_header_wrong_text_right(tmp_path: Path) -> None:
    ev = _events()
    good = build_fcs(ev, CH)
    te = _text_end(good)
    lying = build_fcs(ev, CH, header_data_offsets=(te - 40, te - 40 + ev.nbytes - 1))
    data = read_fcs(_write(tmp_path, lying))
    np.testing.assert_array_equal(data.events, ev.astype(float))
    assert data.data_offsets[0] == te + 1
    assert any("TEXT" in n and "fits" in n for n in data.notes)


def test_offset_rule_text_wrong_header_right(tmp_path: Path) -> None:
    ev = _events()
    good = build_fcs(ev, CH)
    te = _text_end(good)
    # TEXT claims a segment that runs past the end of the file
    lying = build_fcs(ev, CH, text_data_offsets=(te + 9, te + 9 + ev.nbytes - 1))
    data = read_fcs(_write(tmp_path, lying))
    np.testing.assert_array_equal(data.events, ev.astype(float))
    assert any("HEADER" in n and "fits" in n for n in data.notes)


def test_offset_rule_both_fit_takes_the_one_after_text(tmp_path: Path) -> None:
    """Two different event blocks, both of the right size: the one at TEXT end + 1 wins."""
    first, second = _events(40, 1), _events(40, 2)
    payload = first.astype("<f4").tobytes() + second.astype("<f4").tobytes()
    size = first.nbytes
    start = 0
    for _ in range(4):  # TEXT length depends on the digits of the offsets it states
        blob = build_fcs(
            None, CH, data_bytes=payload, n_events=40,
            text_data_offsets=(start, start + size - 1),
            header_data_offsets=(start + size, start + 2 * size - 1),
        )  # fmt: skip
        start = _text_end(blob) + 1
    assert blob[start : start + size] == payload[:size]
    data = read_fcs(_write(tmp_path, blob))
    np.testing.assert_array_equal(data.events, first.astype(float))


def test_offset_rule_refuses_when_neither_fits(tmp_path: Path) -> None:
    ev = _events()
    te = _text_end(build_fcs(ev, CH))
    blob = build_fcs(
        ev, CH, header_data_offsets=(te - 10, te + 100), text_data_offsets=(te + 5, te + 50)
    )
    with pytest.raises(FCSError, match="disagree") as info:
        read_fcs(_write(tmp_path, blob))
    assert "x.fcs" in str(info.value)


def test_enddata_off_by_one_is_tolerated(tmp_path: Path) -> None:
    ev = _events()
    blob = build_fcs(ev, CH, enddata_off_by_one=True) + b" "
    data = read_fcs(_write(tmp_path, blob))
    np.testing.assert_array_equal(data.events, ev.astype(float))
    assert any("off by one" in n for n in data.notes)


def test_enddata_off_by_two_is_refused(tmp_path: Path) -> None:
    ev = _events()
    good = build_fcs(ev, CH)
    b = _text_end(good) + 1
    blob = build_fcs(ev, CH, header_data_offsets=(b, b + ev.nbytes + 1),
                     text_data_offsets=(b, b + ev.nbytes + 1)) + b"  "  # fmt: skip
    with pytest.raises(FCSError, match="does not hold"):
        read_fcs(_write(tmp_path, blob))


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    blob = build_fcs(_events(), CH)
    with pytest.raises(FCSError, match="truncated"):
        read_fcs(_write(tmp_path, blob[:-7]))
    with pytest.raises(FCSError, match="truncated"):
        read_fcs(_write(tmp_path, blob[:100], "y.fcs"))
    with pytest.raises(FCSError, match="too short"):
        read_fcs(_write(tmp_path, blob[:20], "z.fcs"))


def test_not_fcs_empty_missing_and_zero_events(tmp_path: Path) -> None:
    with pytest.raises(FCSError, match="not an FCS file"):
        read_fcs(_write(tmp_path, b"%PDF-1.4" + b"x" * 100, "doc.fcs"))
    with pytest.raises(FCSError, match="too short"):
        read_fcs(_write(tmp_path, b"", "empty.fcs"))
    with pytest.raises(FCSError, match="not found"):
        read_fcs(tmp_path / "absent.fcs")
    zero = build_fcs(np.zeros((0, 3), dtype=np.float32), CH)
    with pytest.raises(FCSError, match="zero events"):
        read_fcs(_write(tmp_path, zero, "zero.fcs"))


def test_unsupported_encodings_are_refused(tmp_path: Path) -> None:
    ch24 = [Channel("FSC-H", bits=24, range=1024), Channel("SSC-H", bits=24, range=1024)]
    blob = build_fcs(None, ch24, datatype="I", data_bytes=bytes(8 * 10), n_events=10)
    with pytest.raises(FCSError, match="24-bit integers are read only byte-aligned"):
        read_fcs(_write(tmp_path, blob, "b24.fcs"))
    ch10 = [Channel("FSC-H", bits=10, range=1024), Channel("SSC-H", bits=10, range=1024)]
    blob = build_fcs(None, ch10, datatype="I", data_bytes=bytes(25), n_events=10)
    with pytest.raises(FCSError, match="10-bit integers .channel 1. are not byte-aligned"):
        read_fcs(_write(tmp_path, blob, "b10.fcs"))
    blob = build_fcs(_events(), CH, byteord_text="3,4,1,2")
    with pytest.raises(FCSError, match="byte order"):
        read_fcs(_write(tmp_path, blob, "pdp.fcs"))


def test_wrong_float_byte_order_is_refused(tmp_path: Path) -> None:
    blob = build_fcs(_events(200), CH, byteorder="big", declared_byteorder="little")
    with pytest.raises(FCSError, match="BYTEORD"):
        read_fcs(_write(tmp_path, blob))


def test_both_byte_orders_and_int_widths(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    for order in ("little", "big"):
        for bits in (8, 16, 32):
            ch = [Channel("A", bits=bits, range=2**bits), Channel("B", bits=bits, range=2**bits)]
            ev = rng.integers(0, 2**bits, (30, 2))
            blob = build_fcs(ev, ch, version="3.1", datatype="I", byteorder=order)
            data = read_fcs(_write(tmp_path, blob, f"{order}{bits}.fcs"))
            np.testing.assert_array_equal(data.events, ev.astype(float))
        ev = _events()
        ch64 = [Channel(c.name, c.stain, bits=64) for c in CH]
        data = read_fcs(_write(tmp_path, build_fcs(ev, ch64, datatype="D", byteorder=order)))
        np.testing.assert_array_equal(data.events, ev.astype(float))


def test_flag_bits_above_range_are_masked(tmp_path: Path) -> None:
    ch = [Channel("FSC-H", bits=16, range=1024), Channel("FL1-H", bits=16, range=1000)]
    values = np.array([[5, 7], [1023, 999], [512, 0]])
    flagged = values | np.array([[0x8000, 0x4000], [0x0400, 0xFC00], [0, 0x0400]])
    blob = build_fcs(flagged, ch, version="2.0", datatype="I", byteorder="big")
    data = read_fcs(_write(tmp_path, blob))
    np.testing.assert_array_equal(data.events, values.astype(float))


def test_fcs2_log_and_gain_scaling_crafted(tmp_path: Path) -> None:
    """Hand-worked: 4 decades over 1024 channels -> channel 512 is 10^2, 0 is 1 (f2 0 -> 1);
    f2 = 0.1 scales the decade range; a linear channel is divided by $PnG."""
    ch = [
        Channel("FL1-H", bits=16, range=1024, log_decades=4, log_zero=0),
        Channel("FL2-H", bits=16, range=1024, log_decades=4, log_zero=0.1),
        Channel("FSC-H", bits=16, range=1024, gain=4.0),
    ]
    ev = np.array([[512, 256, 400], [0, 1024 - 256, 3], [1023, 0, 0]])
    blob = build_fcs(ev, ch, version="2.0", datatype="I", byteorder="big", text_start=256)
    data = read_fcs(_write(tmp_path, blob))
    expected = np.array(
        [[100.0, 1.0, 100.0], [1.0, 100.0, 0.75], [10 ** (4 * 1023 / 1024), 0.1, 0.0]]
    )
    np.testing.assert_allclose(data.events, expected, rtol=1e-13)
    assert data.compensation == "none"


def test_multiple_data_sets_crafted(tmp_path: Path) -> None:
    a, b = _events(20, 1), _events(30, 2)
    blob = chain_data_sets([dict(events=a, channels=CH), dict(events=b, channels=CH)])
    path = _write(tmp_path, blob)
    with pytest.raises(FCSError, match="2 data sets"):
        read_fcs(path)
    np.testing.assert_array_equal(read_fcs(path, dataset=1).events, b.astype(float))
    np.testing.assert_array_equal(read_fcs(path, dataset=0).events, a.astype(float))


def test_blank_header_offsets_use_text(tmp_path: Path) -> None:
    ev = _events()
    data = read_fcs(_write(tmp_path, build_fcs(ev, CH, blank_header_data=True)))
    np.testing.assert_array_equal(data.events, ev.astype(float))


def test_spillover_applied_and_bad_matrix_refused(tmp_path: Path) -> None:
    ev = _events(100)
    spill = "2,SSC-A,PE-A,1,0.2,0.05,1"  # deliberately on two channels, any names work
    data = read_fcs(_write(tmp_path, build_fcs(ev, CH, {"$SPILLOVER": spill})))
    s = np.array([[1, 0.2], [0.05, 1]])
    expected = ev.astype(float).copy()
    expected[:, 1:] = expected[:, 1:] @ np.linalg.inv(s)
    np.testing.assert_allclose(data.events, expected, rtol=1e-10)
    assert data.spill_channels == ("SSC-A", "PE-A")
    bad = build_fcs(ev, CH, {"SPILL": "2,PE-A,APC-A,1,0,0,1"})
    with pytest.raises(FCSError, match="APC-A"):
        read_fcs(_write(tmp_path, bad, "bad.fcs"))
    raw_only = read_fcs(_write(tmp_path, bad, "bad.fcs"), compensation="none")
    assert raw_only.compensation == "off"  # the file has a matrix, not applied on request


def test_delimiter_escape_and_padded_keywords(tmp_path: Path) -> None:
    ev = _events()
    blob = build_fcs(ev, CH, {"COMMENT TEXT": "a/b//c", "$CYT": "Vantage"}, delimiter="/")
    text = read_text(_write(tmp_path, blob))
    assert text["COMMENT TEXT"] == "a/b//c"
    assert read_fcs(tmp_path / "x.fcs").metadata["$CYT"] == "Vantage"


# --------------------------------------------------------------------------- privacy, markers


def test_identifying_keywords_are_listed() -> None:
    words = ["$FIL", "$SRC", "$OP", "$INST", "$COM", "$SMNO", "$PROJ", "$CELLS", "$DATE",
             "$BTIM", "$ETIM", "$LAST_MODIFIER", "$ORIGINALITY", "PATIENT NAME", "Patient ID",
             "&10Patient ID", "SAMPLE ID", "EXPORT USER NAME"]  # fmt: skip
    assert all(is_identifying(w) for w in words)
    technical = ["$PAR", "$TOT", "$P1N", "$P12S", "$P3R", "$SPILLOVER", "$CYT", "$TIMESTEP"]
    assert not any(is_identifying(w) for w in technical)
    assert identifying_keywords(["$PAR", "$FIL", "PATIENT NAME"]) == ["$FIL", "PATIENT NAME"]


def test_privacy_no_identifying_value_leaves_the_reader(tmp_path: Path) -> None:
    identity = {
        "$FIL": "IVANOVA_ANNA_presort.fcs",
        "$SRC": "Ivanova Anna",
        "$OP": "Dr Petrov",
        "$DATE": "12-MAR-2006",
        "PATIENT NAME": "Ivanova Anna",
        "PATIENT ID": "MRN-449812",
    }
    blob = build_fcs(_events(), CH, {"$CYT": "FACSVantage SE", **identity})
    data = read_fcs(_write(tmp_path, blob))
    dump = repr(data) + repr(data.metadata) + repr(data.notes)
    for value in identity.values():
        assert value not in dump
    assert "$CYT" in data.metadata and "$SRC" not in data.metadata
    assert safe_metadata(identity) == {}


def test_marker_lookup_pns_then_pnn_then_alias(tmp_path: Path) -> None:
    diva = [Channel("FITC-A", "CD45 FITC"), Channel("PE-A", "CD34 PE"), Channel("SSC-A")]
    data = read_fcs(_write(tmp_path, build_fcs(_events(), diva), "d.fcs"))
    markers = {"CD45": ["FITC-A", "FL1-H"], "CD34": ["PE-A", "FL2-H"]}
    assert resolve_markers(data, markers) == {"CD45": "FITC-A", "CD34": "PE-A"}
    # a stain "CD34 PE" must not be found for CD3
    assert find_marker(data, "CD3") is None
    cq = [Channel("FL1-H", bits=16, range=1024), Channel("FL2-H", bits=16, range=1024),
          Channel("SSC-H", bits=16, range=1024)]  # fmt: skip
    ints = np.random.default_rng(1).integers(0, 1024, (10, 3))
    data = read_fcs(_write(tmp_path, build_fcs(ints, cq, version="2.0", datatype="I"), "c.fcs"))
    assert resolve_markers(data, markers) == {"CD45": "FL1-H", "CD34": "FL2-H"}
    named = [Channel("CD45"), Channel("x"), Channel("y")]
    data = read_fcs(_write(tmp_path, build_fcs(_events(), named), "n.fcs"))
    assert find_marker(data, "CD45") == "CD45"
    with pytest.raises(FCSError, match="CD34") as info:
        resolve_markers(data, {"CD34": ["PE-A"]})
    assert "n.fcs" in str(info.value)


# ------------------------------------------------------ 24-bit integers, $TOT lies (issue 13)


def _pack24(values: list[list[int]], order: str) -> bytes:
    """Hand-packed byte-aligned 24-bit integers: 3 bytes per value, event by event."""
    return b"".join(int(v).to_bytes(3, order) for event in values for v in event)


@pytest.mark.parametrize("order", ["little", "big"])
def test_byte_aligned_24_bit_integers_are_read(order: str, tmp_path: Path) -> None:
    values = [[1, 70000, 0], [16777215 & 0xFFFF, 2, 1023], [65536, 3, 512]]
    channels = [
        Channel("FSC-H", bits=24, range=262144),
        Channel("SSC-H", bits=24, range=262144),
        Channel("FL1-H", bits=24, range=1024, log_decades=4, log_zero=1),
    ]
    raw = build_fcs(
        None, channels, datatype="I", byteorder=order, data_bytes=_pack24(values, order),
        n_events=3,
    )  # fmt: skip
    path = tmp_path / "int24.fcs"
    path.write_bytes(raw)
    data = read_fcs(path)
    expected = np.array(values, dtype=float)
    expected[:, 2] = 10 ** (4 * expected[:, 2] / 1024)  # 4-decade log channel
    np.testing.assert_allclose(data.uncompensated, expected, rtol=1e-12)


def test_24_bit_integers_in_32_bit_words_are_refused_as_not_byte_aligned(tmp_path: Path) -> None:
    channels = [Channel("FSC-H", bits=24, range=262144), Channel("SSC-H", bits=24, range=1024)]
    words = b"".join(int(v).to_bytes(4, "little") for v in [1, 2, 3, 4, 5, 6])
    raw = build_fcs(None, channels, datatype="I", data_bytes=words, n_events=3)
    path = tmp_path / "packed.fcs"
    path.write_bytes(raw)
    with pytest.raises(FCSError) as info:
        read_fcs(path)
    message = str(info.value)
    assert (
        "24-bit integers are read only byte-aligned (3 bytes each: DATA = $TOT x $PAR x 3 = 18"
        in message
    )
    assert "this segment has 4 bytes per value: not byte-aligned" in message


def test_tot_larger_than_the_data_says_the_text_lies_not_truncated(tmp_path: Path) -> None:
    events = np.arange(20, dtype=float).reshape(10, 2)
    channels = [Channel("FSC-A"), Channel("SSC-A")]
    raw = build_fcs(events, channels, keywords={"$TOT": "12"}, n_events=12)
    path = tmp_path / "lies.fcs"
    path.write_bytes(raw)
    with pytest.raises(FCSError) as info:
        read_fcs(path)
    message = str(info.value)
    assert "the file is whole, its TEXT lies: DATA needs 96 bytes ($TOT 12 x 8 bytes" in message
    assert "80 bytes, 10 events) ends inside the file" in message
    assert "truncated" not in message
    cut = tmp_path / "cut.fcs"
    cut.write_bytes(build_fcs(events, channels)[:-8])  # one event short: truly truncated
    with pytest.raises(FCSError, match="file is truncated: DATA needs 80 bytes"):
        read_fcs(cut)


# ---------------------------------------------- compensation per sample (issue 12, item 5)

MACSQUANT = "fcsparser__MACSQuant_EY_2013-07-19_PBS_FCS_3.1_Well_A1.001.fcs"
MACS_CHANNELS = ["FL2-A", "FL2-H", "FL4-A", "FL4-H", "FL7-A", "FL7-H"]


def _macsquant() -> Path:
    path = FCS_DIR / MACSQUANT
    if not path.is_file():
        pytest.skip("../shared/fcs not present")
    return path


def test_malformed_spillover_refusal_names_the_way_out() -> None:
    with pytest.raises(FCSError) as info:
        read_fcs(_macsquant())
    message = str(info.value)
    assert "$SPILLOVER declares 6 channels but holds 6 items after the count" in message
    assert "set its patient's `compensation` in samples.tsv to `none`" in message
    assert "or to a spillover matrix file" in message


def test_compensation_none_reads_the_file_uncompensated() -> None:
    data = read_fcs(_macsquant(), compensation="none")
    assert data.compensation == "off"  # the file has a matrix; it was turned off
    assert data.events is data.uncompensated
    assert data.n_events == 10000


@pytest.mark.parametrize("form", ["table", "table_with_row_names", "keyword"])
def test_matrix_from_the_sheet_replaces_the_files(form: str, tmp_path: Path) -> None:
    spill = np.eye(6)
    spill[0, 2] = 0.12  # FL2-A spills 12 % into FL4-A
    spill[4, 0] = 0.03  # FL7-A spills 3 % into FL2-A
    if form == "keyword":
        text = ",".join(["6", *MACS_CHANNELS, *(f"{v:g}" for v in spill.ravel())]) + "\n"
    else:
        rows = [
            ([name] if form == "table_with_row_names" else []) + [f"{v:g}" for v in row]
            for name, row in zip(MACS_CHANNELS, spill, strict=True)
        ]
        lead = [""] if form == "table_with_row_names" else []
        text = "\n".join("\t".join(r) for r in [lead + MACS_CHANNELS, *rows]) + "\n"
    matrix = tmp_path / "macs_matrix.tsv"
    matrix.write_text(text)
    data = read_fcs(_macsquant(), compensation=matrix)
    assert data.compensation == "matrix"
    assert data.spill_channels == tuple(MACS_CHANNELS)
    raw = data.uncompensated
    idx = [data.channels.index(c) for c in MACS_CHANNELS]
    # observed = true @ S, so true = observed @ inv(S), on the matrix channels only
    expected = raw.copy()
    expected[:, idx] = raw[:, idx] @ np.linalg.inv(spill)
    np.testing.assert_allclose(data.events, expected, rtol=1e-9, atol=1e-9)
    fl4a = data.channels.index("FL4-A")
    fl2a = data.channels.index("FL2-A")
    fl7a = data.channels.index("FL7-A")
    # by hand for the first event: FL4-A_true = FL4-A - 0.12 * FL2-A_true, and
    # FL2-A_true = FL2-A - 0.03 * FL7-A (FL7-A receives nothing)
    fl2_true = raw[0, fl2a] - 0.03 * raw[0, fl7a]
    assert data.events[0, fl4a] == pytest.approx(raw[0, fl4a] - 0.12 * fl2_true, rel=1e-9)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("FL2-A\tFL9-A\n1\t0\n0\t1\n", "names channel 'FL9-A', which"),
        ("FL2-A\tFL4-A\n1\t0\n", "1 rows for 2 channels: not a square matrix"),
        ("FL2-A\tFL4-A\n1\t0.1\n0\tx\n", "line 3: a value is not a number"),
        ("FL2-A\tFL4-A\n1\t1\n1\t1\n", "singular"),
        ("", "spillover matrix file is empty"),
    ],
)
def test_bad_sheet_matrix_is_refused_naming_the_matrix_file(text, words, tmp_path) -> None:
    matrix = tmp_path / "m.tsv"
    matrix.write_text(text)
    with pytest.raises(FCSError) as info:
        read_fcs(_macsquant(), compensation=matrix)
    assert str(info.value).startswith(str(matrix)) and words in str(info.value)


def test_compensation_choice_is_recorded_in_the_patients_results(tmp_path: Path) -> None:
    import yaml

    from sortpcr.flowqc import analyse_patient, flow_records
    from sortpcr.settings import FlowQCSettings

    path = _macsquant()
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    strategy = REPO / "resources" / "gating" / "facsdiva.xml"
    labels = {"presort": "m.fcs", "CD34pos": "m.fcs", "CD34neg": "m.fcs"}
    matrix = tmp_path / "m.tsv"
    matrix.write_text("\t".join(MACS_CHANNELS) + "\n" + "".join(
        "\t".join("1" if i == j else "0" for j in range(6)) + "\n" for i in range(6)
    ))  # fmt: skip

    def run(compensation: dict | None) -> dict:
        settings = FlowQCSettings.from_config(cfg["gating"], cfg["qc"])
        files = {"CD34pos": path, "CD34neg": path}
        return analyse_patient("M1", path, files, labels, strategy, settings, compensation)

    refused = run(None)["files"]["presort"]
    assert "$SPILLOVER declares 6 channels" in refused["error"]
    assert "set its patient's `compensation` in samples.tsv to `none`" in refused["error"]
    off = run({"choice": "none", "label": "none"})
    assert off["files"]["presort"]["compensation"] == "off"
    assert "SPILLOVER" not in (off["files"]["presort"]["error"] or "")  # read; no CD34 channel
    sheet = run({"choice": str(matrix), "label": "comp/M1.tsv"})
    assert sheet["files"]["CD34pos"]["compensation"] == "matrix comp/M1.tsv"
    rows = flow_records(sheet)
    assert {r["compensation"] for r in rows} == {"matrix comp/M1.tsv"}
    assert all(str(tmp_path) not in str(r) for r in rows)  # the sheet's label, not the path


def test_float_data_read_without_flowio_equal_flowios_decode() -> None:
    """Float DATA is a numpy view copied once (memory); flowio's decode of the same clean
    data set gives identical values on every float file we have."""
    import flowio

    from sortpcr import fcs

    files = sorted((REPO / "resources" / "demo" / "fcs").glob("P0[1-8]_*.fcs"))
    files += sorted(FCS_DIR.glob("*.fcs")) if FCS_DIR.is_dir() else []
    compared = 0
    for path in files:
        name, raw = fcs._load(path)
        ds = fcs._data_sets(raw, name)[0]
        layout = fcs._layout(ds, name)
        if layout.datatype not in ("F", "D"):
            continue
        start, need, _ = fcs._data_offsets(ds, layout, len(raw), len(raw), name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = flowio.FlowData(fcs._clean_stream(raw, start, need, layout))
            expected = theirs.as_array(preprocess=False)
        np.testing.assert_array_equal(fcs._flowio_decode(raw, start, need, layout, name), expected)
        compared += 1
    assert compared >= 24
