"""Bad input, fuzzed (issue 6 item 4): every bad file gets a clear error or a QC failure row
naming the file and the problem - never another exception type (a bare traceback), a hang,
or a result that is silently wrong.

Sections: FCS (truncated at many offsets, random bytes, a lying TEXT segment, wrong and
invalid ``$BYTEORD``, missing channels, zero events, empty/directory/unreadable paths, and a
seeded mutation fuzz of real demo files checked against the unmutated read); the flow QC step
(bad files become ``fail`` rows, the rest of the patient goes on); qPCR exports; XML with
external entities or entity bombs (Gating-ML, FlowJo, RDML); sample sheets; and two real
Snakemake runs (marked ``e2e``).

Every case runs under a hang guard (:func:`fuzzkit.no_hang`), and every error must be the
documented type whose message names the file: :func:`fuzzkit.raises_named` fails the test
on any other exception.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sortpcr.errors import FCSError, GatingError, QPCRFormatError, SheetError, XMLSecurityError
from sortpcr.fcs import read_fcs, read_text, resolve_markers
from sortpcr.flowqc import analyse_patient, flow_rows
from sortpcr.gating import evaluate, load_strategy
from sortpcr.pairing import pair_patient
from sortpcr.qpcr.curves import fit_curves
from sortpcr.qpcr.quantify import quantify
from sortpcr.qpcr.readers import read_plate
from sortpcr.settings import FlowQCSettings, QpcrSettings
from sortpcr.sheets import load as load_sheets
from tests.conftest import snakemake
from tests.fuzzkit import (
    DEMO_FCS,
    RDML_NS,
    ROOT,
    STYLE_FILE,
    STYLE_STRATEGY,
    billion_laughs,
    demo_export,
    edit_cells,
    external_entity,
    header_offsets,
    no_hang,
    raises_named,
    rdml_document,
    rdml_zip,
    set_header,
    set_keyword,
    type_is,
    write,
)

sys.path.insert(0, str(ROOT / "resources" / "demo"))
from fcswrite import Channel, build_fcs  # noqa: E402

CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
QPCR = QpcrSettings.from_config(CONFIG["qpcr"])
STYLES = sorted(STYLE_FILE)


def fcs_error(path: Path, *fragments: str) -> FCSError:
    """read_fcs(path) must raise FCSError naming the file and holding the fragments."""
    return raises_named(FCSError, path, *fragments, call=lambda: read_fcs(path))


# =========================================================================== FCS


def _regions(style: str) -> list[tuple[str, int, str]]:
    """(region, length to keep, expected words) for truncating one demo file."""
    raw = STYLE_FILE[style].read_bytes()
    h = header_offsets(raw)
    data_mid = (h["data_start"] + h["data_end"]) // 2
    return [
        ("inside_magic", 3, "too short"),
        ("inside_header", 30, "too short"),
        ("header_one_short", 57, "too short"),
        ("header_only", 58, "truncated: TEXT segment"),
        ("text_start", h["text_start"] + 1, "truncated: TEXT segment"),
        ("text_middle", (h["text_start"] + h["text_end"]) // 2, "truncated: TEXT segment"),
        ("text_last_byte", h["text_end"], "truncated: TEXT segment"),
        ("no_data", h["text_end"] + 1, "truncated: DATA needs"),
        ("data_first_byte", h["data_start"] + 1, "truncated: DATA needs"),
        ("data_middle", data_mid, "truncated: DATA needs"),
        ("one_byte_short", len(raw) - 1, "truncated: DATA needs"),
    ]


@pytest.mark.parametrize(
    ("style", "region", "keep", "words"),
    [(s, *r) for s in STYLES for r in _regions(s)],
    ids=[f"{s}-{r[0]}" for s in STYLES for r in _regions(s)],
)
def test_truncated_fcs_is_refused_naming_file_and_place(style, region, keep, words, tmp_path):
    raw = STYLE_FILE[style].read_bytes()
    path = write(tmp_path / f"{style}_{region}.fcs", raw[:keep])
    fcs_error(path, words)


@pytest.mark.parametrize("style", STYLES)
def test_truncated_at_200_random_offsets(style, tmp_path):
    """Seeded sweep over the whole file: every truncation is an FCSError naming the file."""
    raw = STYLE_FILE[style].read_bytes()
    offsets = sorted(random.Random(6).sample(range(len(raw)), 200))
    path = tmp_path / "cut.fcs"
    for keep in offsets:
        write(path, raw[:keep])
        error = fcs_error(path)
        assert "truncated" in error.what or "too short" in error.what, (keep, error.what)


@pytest.mark.parametrize("size", [1, 57, 58, 4096, 100_000])
def test_random_bytes_are_not_fcs(size, tmp_path):
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    path = write(tmp_path / "noise.fcs", b"X" + data[1:])  # never starts with "FCS" by chance
    fcs_error(path, "too short" if size < 58 else "not an FCS file")


def test_fcs_magic_followed_by_random_bytes(tmp_path):
    data = np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    fcs_error(write(tmp_path / "magic.fcs", b"FCS3.0" + data), "HEADER field")


def test_random_float_data_behind_a_valid_text_is_refused(tmp_path):
    """A valid FACSDiva HEADER and TEXT over random DATA: random float32 bit patterns hold
    NaN, infinities, huge and denormal values, and the sanity check refuses them."""
    raw = STYLE_FILE["diva"].read_bytes()
    h = header_offsets(raw)
    n = h["data_end"] - h["data_start"] + 1
    noise = np.random.default_rng(2).integers(0, 256, n, dtype=np.uint8).tobytes()
    path = write(tmp_path / "noise_data.fcs", raw[: h["data_start"]] + noise)
    fcs_error(path, "wrong $BYTEORD or corrupt DATA")


# --- a valid HEADER with a lying TEXT segment (byte surgery on the real demo files) ------

#: (style, keyword, lying value of the same length, expected words)
TEXT_LIES = [
    ("diva", "$TOT", "2501", "whole, its TEXT lies: DATA needs"),
    ("diva", "$TOT", "2499", "does not hold"),
    ("diva", "$TOT", "9999", "(968-80967: 80000 bytes, 2500 events)"),
    ("diva", "$TOT", "25x0", "$TOT"),
    ("diva", "$PAR", "7", "does not hold"),
    ("diva", "$PAR", "9", "cannot be split"),
    ("diva", "$PAR", "x", "cannot be split"),
    ("diva", "$P1B", "16", "$P1B 16"),
    ("diva", "$P3B", "64", "expected 32"),
    ("diva", "$DATATYPE", "D", "expected 64"),
    ("diva", "$DATATYPE", "A", "ASCII data is not supported"),
    ("diva", "$MODE", "C", "$MODE 'C'"),
    ("diva", "$NEXTDATA", "x", "$NEXTDATA is 'x', not a whole number"),
    ("diva", "$NEXTDATA", "9", "not an FCS file"),
    ("diva", "$BEGINDATA", "89a", "$BEGINDATA is '89a', not a whole number"),
    ("diva", "$BEGINSTEXT", "?", "$BEGINSTEXT is '?', not a whole number"),
    ("diva", "$P2R", "000000", "is not a positive range"),
    ("diva", "$P2R", "-26214", "is not a positive range"),
    ("diva", "$P2R", "nan   ", "is not a positive range"),
    ("diva", "$P2R", "inf   ", "is not a positive range"),
    ("diva", "$SPILLOVER", "inf".ljust(32), "does not start with a channel count"),
    ("diva", "$SPILLOVER", "2,FITC-A,PE-X,1.0,0.22,0.015,1.0", "names channel 'PE-X'"),
    ("diva", "$SPILLOVER", "2,FITC-A,PE-A,1.0,1.00,1.000,1.0", "singular"),
    ("cellquest", "$TOT", "2600", "whole, its TEXT lies: DATA needs"),
    ("cellquest", "$TOT", "2400", "does not hold"),
    ("cellquest", "$P2B", "32", "a $PnB or the DATA offsets are wrong"),
    ("cellquest", "$P2B", "24", "24-bit integers are read only byte-aligned"),
    ("cellquest", "$P2B", "10", "10-bit integers (channel 2) are not byte-aligned"),
    ("cellquest", "$P3E", "4;0", "is not 'f1,f2'"),
    ("cellquest", "$P3E", "-40", "is not 'f1,f2'"),
    ("cellquest", "$P3E", "4,-", "is not 'f1,f2'"),
    ("cellquest", "$P4R", "0000", "is not a positive range"),
    ("cellquest", "$DATATYPE", "F", "float data with $P1B 16"),
]


@pytest.mark.parametrize(
    ("style", "key", "value", "words"),
    TEXT_LIES,
    ids=[f"{s}-{k}={v.strip()[:12]}" for s, k, v, _ in TEXT_LIES],
)
def test_lying_text_segment_is_refused(style, key, value, words, tmp_path):
    raw = set_keyword(STYLE_FILE[style].read_bytes(), key, value)
    error = fcs_error(write(tmp_path / "lie.fcs", raw), words)
    assert error.where, "the message says where (keyword, segment or byte offset)"


def test_negative_log_decades_are_refused(tmp_path):
    ch = [Channel("FL1-H", bits=16, range=1024, log_decades=4, log_zero=10)]
    blob = build_fcs(np.array([[1], [2]]), ch, datatype="I")
    blob = blob.replace(b"$P1E/4,10/", b"$P1E/-4,1/")  # same length: no offset moves
    fcs_error(write(tmp_path / "neg.fcs", blob), "$P1E '-4,1'", "must be >= 0")


def test_log_amplification_overflowing_to_infinity_is_refused(tmp_path):
    """$PnE 400 decades: channel 1023 would be 10^399 = inf; refused, not passed on as inf."""
    ch = [Channel("FL1-H", bits=16, range=1024, log_decades=400)]
    blob = build_fcs(np.array([[1], [1023]]), ch, version="2.0", datatype="I")
    fcs_error(write(tmp_path / "inf.fcs", blob), "NaN or infinite", "'FL1-H'")


def test_bad_timestep_leaves_time_unscaled_with_a_note(tmp_path):
    ev = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    ch = [Channel("Time"), Channel("FSC-A")]
    for text in ("nan", "-0.01", "x"):
        blob = build_fcs(ev, ch, keywords={"$TIMESTEP": text})
        with no_hang():
            data = read_fcs(write(tmp_path / "t.fcs", blob))
        np.testing.assert_array_equal(data.events, ev.astype(float))
        assert any("$TIMESTEP" in note for note in data.notes)


@pytest.mark.parametrize("style", STYLES)
def test_lying_data_offsets(style, tmp_path):
    """$BEGINDATA one byte off: HEADER and TEXT disagree, the HEADER fits, the read equals
    the honest file's. Both one byte off: neither fits, refused. $ENDDATA off by one in both
    places (a common writer bug): tolerated, same values."""
    src = STYLE_FILE[style]
    raw = src.read_bytes()
    truth = read_fcs(src)
    h = header_offsets(raw)
    begin = str(h["data_start"] + 1)
    if style == "cellquest":  # FCS 2.0: offsets only in the HEADER
        lied = set_header(raw, "data_start", begin)
        fcs_error(write(tmp_path / "both.fcs", lied), "DATA needs")
        return
    text_only = set_keyword(raw, "$BEGINDATA", begin)
    with no_hang():
        data = read_fcs(write(tmp_path / "text_only.fcs", text_only))
    np.testing.assert_array_equal(data.events, truth.events)
    assert any("disagree" in note for note in data.notes)
    both = set_header(text_only, "data_start", begin)
    fcs_error(write(tmp_path / "both.fcs", both), "DATA needs")
    end = str(h["data_end"] + 1)
    off_by_one = set_header(set_keyword(raw, "$ENDDATA", end), "data_end", end) + b" "
    with no_hang():
        data = read_fcs(write(tmp_path / "obo.fcs", off_by_one))
    np.testing.assert_array_equal(data.events, truth.events)
    assert any("off by one" in note for note in data.notes)


# --- $BYTEORD ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("style", "lie", "words"),
    [
        ("diva", "4,3,2,1", "wrong $BYTEORD or corrupt DATA"),  # float: NaN/inf/absurd values
        ("cellquest", "1,2,3,4", "$BYTEORD is wrong"),  # integers: exceed $PnR only this way
    ],
)
def test_wrong_byte_order_on_real_demo_files_is_refused(style, lie, words, tmp_path):
    raw = set_keyword(STYLE_FILE[style].read_bytes(), "$BYTEORD", lie)
    fcs_error(write(tmp_path / "order.fcs", raw), words)


@pytest.mark.parametrize("bits", [16, 32])
def test_wrong_integer_byte_order_is_refused_both_ways(bits, tmp_path):
    rng = np.random.default_rng(bits)
    top = 1024 if bits == 16 else 2**24
    ch = [Channel("FSC-H", bits=bits, range=top), Channel("SSC-H", bits=bits, range=top)]
    events = rng.integers(0, top, (300, 2))
    for written, declared in (("big", "little"), ("little", "big")):
        blob = build_fcs(events, ch, datatype="I", byteorder=written, declared_byteorder=declared)
        fcs_error(write(tmp_path / f"{written}.fcs", blob), "$BYTEORD is wrong")
        honest = build_fcs(events, ch, datatype="I", byteorder=written)
        with no_hang():
            data = read_fcs(write(tmp_path / "honest.fcs", honest))
        np.testing.assert_array_equal(data.events, events.astype(float))


def test_wrong_byte_order_of_integer_valued_floats_is_refused(tmp_path):
    """Whole-number floats swapped become denormals (500.0 -> 9e-41): no NaN, nothing huge;
    the check for values below 1e-30 catches them."""
    ev = np.rint(np.random.default_rng(4).uniform(0, 262143, (400, 3))).astype(np.float32)
    ch = [Channel("FSC-A"), Channel("SSC-A"), Channel("PE-A", "CD34 PE")]
    blob = build_fcs(ev, ch, byteorder="big", declared_byteorder="little")
    fcs_error(write(tmp_path / "whole.fcs", blob), "below 1e-30", "wrong $BYTEORD")
    ch64 = [Channel(c.name, c.stain, bits=64) for c in ch]
    blob = build_fcs(ev, ch64, datatype="D", byteorder="little", declared_byteorder="big")
    fcs_error(write(tmp_path / "whole64.fcs", blob), "wrong $BYTEORD")


@pytest.mark.parametrize("lie", ["3,4,1,2", "2,1,4,3", "1,2,3,5", "abcdefg"])
def test_invalid_byte_order_is_refused(lie, tmp_path):
    raw = STYLE_FILE["diva"].read_bytes()
    raw = set_keyword(raw, "$BYTEORD", lie.ljust(7))
    fcs_error(write(tmp_path / "pdp.fcs", raw), "byte order", "not supported")


# --- missing channels, zero events, paths -------------------------------------------------

SPILL = "2,FITC-A,PE-A,1.0,0.22,0.015,1.0"  # the FACSDiva demo matrix
#: channel renamed so that neither the CD34 marker nor the strategy's channel is found
RENAMED = {
    "diva": [("$P8N", "PE-X"), ("$P8S", "CD99 PE"), ("$SPILLOVER", SPILL.replace("PE-A", "PE-X"))],
    "cellquest": [("$P4N", "FL9-H")],
}
LOST_CHANNEL = {"diva": "PE-A", "cellquest": "FL2-H"}


def _renamed(style: str) -> bytes:
    raw = STYLE_FILE[style].read_bytes()
    for key, value in RENAMED[style]:
        raw = set_keyword(raw, key, value)
    return raw


@pytest.mark.parametrize("style", STYLES)
def test_missing_marker_and_strategy_channel(style, tmp_path):
    path = write(tmp_path / "renamed.fcs", _renamed(style))
    data = read_fcs(path)  # the file itself is fine
    markers = CONFIG["gating"]["markers"]
    raises_named(
        FCSError,
        path,
        "no channel for marker(s) CD34",
        call=lambda: resolve_markers(data, markers),
    )
    strategy = load_strategy(STYLE_STRATEGY[style])
    raises_named(
        GatingError,
        path,
        f"uses channel(s) {LOST_CHANNEL[style]}",
        str(STYLE_STRATEGY[style]),
        call=lambda: evaluate(strategy, data),
    )


@pytest.mark.parametrize("style", STYLES)
def test_zero_events(style, tmp_path):
    raw = STYLE_FILE[style].read_bytes()
    fcs_error(write(tmp_path / "zero.fcs", set_keyword(raw, "$TOT", "0000")), "zero events")
    empty = build_fcs(np.zeros((0, 2), dtype=np.float32), [Channel("FSC-A"), Channel("SSC-A")])
    fcs_error(write(tmp_path / "built_zero.fcs", empty), "zero events")


def test_empty_file_directory_missing_and_unreadable_paths(tmp_path):
    fcs_error(write(tmp_path / "empty.fcs", b""), "too short")
    (tmp_path / "folder.fcs").mkdir()
    fcs_error(tmp_path / "folder.fcs", "is a directory")
    fcs_error(tmp_path / "absent.fcs", "not found")
    # unreadable even for root: a path through a regular file
    write(tmp_path / "plain", b"x")
    fcs_error(tmp_path / "plain" / "inner.fcs", "cannot be read")


def test_named_pipe_is_refused_not_waited_on(tmp_path):
    """Reading a FIFO with no writer blocks forever; it is refused before any read."""
    fifo = tmp_path / "pipe.fcs"
    os.mkfifo(fifo)
    fcs_error(fifo, "not a regular file")
    raises_named(GatingError, fifo, "not a regular file", call=lambda: load_strategy(fifo))
    raises_named(
        QPCRFormatError, fifo, "not a regular file", call=lambda: read_plate(fifo, "P", None, QPCR)
    )


def test_plate_map_and_spillover_matrix_go_through_the_safe_reader(tmp_path):
    """A plate map or a matrix file that is a pipe or a folder is refused by name (it used
    to block, or end in a bare IsADirectoryError)."""
    from sortpcr.fcs import read_spillover_table
    from sortpcr.qpcr.readers import read_layout

    fifo, folder = tmp_path / "map.tsv", tmp_path / "map_dir.csv"
    os.mkfifo(fifo)
    folder.mkdir()
    for bad, words in ((fifo, "not a regular file"), (folder, "is a directory")):
        raises_named(QPCRFormatError, bad, words, call=lambda b=bad: read_layout(b))
        raises_named(FCSError, bad, words, call=lambda b=bad: read_spillover_table(b))


# --- mutation fuzz: never a silently different matrix -------------------------------------

#: keywords whose change legitimately changes the values (the file says so)
SCALING = re.compile(r"^\$P\d+[EGRN]$|^\$?SPILL(OVER)?$|^\$TIMESTEP$")


@pytest.mark.parametrize("style", STYLES)
def test_mutated_header_and_text_never_give_a_silently_different_matrix(style, tmp_path):
    """400 seeded mutations (1-5 bytes each) of the HEADER and TEXT of a real demo file.

    Each read must either raise FCSError naming the file, or return exactly the honest
    file's values, or differ only because a keyword that defines values changed ($PnE,
    $PnG, $PnR, $PnN, the spillover matrix, $TIMESTEP). A changed $BYTEORD, $DATATYPE,
    $PnB, $TOT, $PAR or offset must never yield a different matrix.
    """
    src = STYLE_FILE[style]
    raw = src.read_bytes()
    truth = read_fcs(src)
    text0 = {k.upper(): v for k, v in read_text(src).items()}
    text_end = header_offsets(raw)["text_end"]
    rng = random.Random(f"mutate-{style}")
    alphabet = "0123456789/\\| ,-.$ABCDEFINPRST"
    path = tmp_path / "mutant.fcs"
    outcomes = {"refused": 0, "same": 0, "declared": 0}
    for _ in range(400):
        blob = bytearray(raw)
        for _ in range(rng.choice([1, 1, 2, 3, 5])):
            byte = rng.randrange(256) if rng.random() < 0.5 else ord(rng.choice(alphabet))
            blob[rng.randrange(text_end + 1)] = byte
        write(path, bytes(blob))
        with no_hang():
            try:
                data = read_fcs(path)
            except FCSError as error:
                assert str(path) in str(error)
                outcomes["refused"] += 1
                continue
            except Exception as error:  # a bare traceback for the user
                pytest.fail(f"{type(error).__name__}: {error} on mutant {bytes(blob[:80])!r}")
        same_raw = data.uncompensated.shape == truth.uncompensated.shape and np.array_equal(
            data.uncompensated, truth.uncompensated
        )
        if same_raw and (
            np.array_equal(data.events, truth.events) or data.compensation != truth.compensation
        ):
            outcomes["same"] += 1
            continue
        text = {k.upper(): v for k, v in read_text(path).items()}
        changed = {k.strip() for k in set(text) | set(text0) if text.get(k) != text0.get(k)}
        assert any(SCALING.match(k) for k in changed), (
            f"different values with only {sorted(changed)} changed"
        )
        outcomes["declared"] += 1
    # the fuzz reached both the refusals and the reads (declared changes are rarer)
    assert outcomes["refused"] > 0 and outcomes["same"] > 0, outcomes


# =========================================================================== flow QC step


def _patient_files(tmp_path: Path, patient: str, **replace: bytes) -> dict[str, Path]:
    """Copies of one demo patient's three files; ``replace`` swaps a fraction's bytes."""
    out = {}
    for fraction in ("presort", "CD34pos", "CD34neg"):
        src = DEMO_FCS / f"{patient}_{fraction}.fcs"
        data = replace.get(fraction, src.read_bytes())
        out[fraction] = write(tmp_path / "fcs" / f"{patient}_{fraction}.fcs", data)
    return out


def _analyse(files: dict[str, Path], strategy: Path):
    labels = {f: f"fcs/{p.name}" for f, p in files.items()}  # the sheet's path strings
    sorted_paths = {f: files[f] for f in ("CD34pos", "CD34neg")}
    settings = FlowQCSettings.from_config(CONFIG["gating"], CONFIG["qc"])
    with no_hang():
        result = analyse_patient("PX", files["presort"], sorted_paths, labels, strategy, settings)
    return result, flow_rows(result).set_index("fraction")


@pytest.mark.parametrize(
    ("style", "bad", "words"),
    [
        ("diva", "truncated", "truncated: DATA needs"),
        ("diva", "renamed", "no channel for marker(s) CD34"),
        ("diva", "zero", "zero events"),
        ("cellquest", "truncated", "truncated: DATA needs"),
        ("cellquest", "renamed", "no channel for marker(s) CD34"),
        ("cellquest", "byteorder", "$BYTEORD is wrong"),
    ],
)
def test_bad_sorted_file_is_a_fail_row_naming_the_sheet_path(style, bad, words, tmp_path):
    patient = "P01" if style == "diva" else "P09"
    raw = (DEMO_FCS / f"{patient}_CD34pos.fcs").read_bytes()
    broken = {
        "truncated": raw[: len(raw) // 2],
        "renamed": _renamed(style),
        "zero": set_keyword(raw, "$TOT", "0000"),
        "byteorder": set_keyword(raw, "$BYTEORD", "1,2,3,4"),
    }[bad]
    files = _patient_files(tmp_path, patient, CD34pos=broken)
    result, rows = _analyse(files, STYLE_STRATEGY[style])
    row = rows.loc["CD34pos"]
    assert row["status"] == "fail"
    assert row["reason"].startswith(f"fcs/{patient}_CD34pos.fcs: ")  # the sheet's path
    assert words in row["reason"]
    assert str(tmp_path) not in row["reason"]  # never the resolved path
    assert rows.loc["presort", "status"] == "pass"
    assert rows.loc["CD34neg", "status"] == "pass"
    assert result["status"] == "fail"


def test_bad_presort_file_fails_the_heterogeneity_row_only(tmp_path):
    files = _patient_files(tmp_path, "P01", presort=b"")
    _, rows = _analyse(files, STYLE_STRATEGY["diva"])
    assert rows.loc["presort", "status"] == "fail"
    assert rows.loc["presort", "reason"] == "fcs/P01_presort.fcs: byte 0: " + (
        "file is too short to hold an FCS HEADER (58 bytes)"
    )
    assert list(rows.loc[["CD34pos", "CD34neg"], "status"]) == ["pass", "pass"]


def test_unreadable_file_is_not_called_a_purity_or_heterogeneity_failure():
    from sortpcr.classify import _flow_problems

    truncated = "../fcs/P05_CD34neg.fcs: DATA: file is truncated: DATA needs 80000 bytes"
    below = "CD34neg purity 96.0 % of blasts is below 98 % (contamination: CD34pos 4.0 %)"
    empty = "../fcs/P05_presort.fcs: byte 0: not an FCS file"
    rows = [
        {"fraction": "CD34pos", "flow_status": "fail", "flow_reason": below,
         "presort_status": "fail", "presort_reason": empty},
        {"fraction": "CD34neg", "flow_status": "fail", "flow_reason": truncated},
    ]  # fmt: skip
    assert _flow_problems(rows, ("CD34pos", "CD34neg")) == [
        f"pre-sort file fail: {empty}",
        f"CD34pos purity fail: {below}",
        f"CD34neg file fail: {truncated}",
    ]


def test_wrong_strategy_for_the_files_is_a_fail_row_per_file(tmp_path):
    """CellQuest files against the FACSDiva strategy: every file lacks FSC-A etc."""
    files = _patient_files(tmp_path, "P09")
    _, rows = _analyse(files, STYLE_STRATEGY["diva"])
    assert set(rows["status"]) == {"fail"}
    assert all("FSC-A" in r for r in rows["reason"])


# =========================================================================== qPCR


def plate(tmp_path: Path, text: str | bytes, name: str = "EXPR01.csv", fmt=None, settings=None):
    """read_plate on a written export; returns (path, callable)."""
    path = write(tmp_path / name, text)
    return path, lambda: read_plate(path, "EXPR01", fmt, settings or QPCR)


def plate_results(tmp_path: Path, text: str):
    """Read, fit and quantify one written export (under the hang guard); the well table and
    the curves and quantities as DataFrames."""
    _, call = plate(tmp_path, text)
    with no_hang():
        wells = call()
        curves, _ = fit_curves(wells, QPCR)
        quantities, _, _ = quantify(wells, curves, QPCR)
    return wells, pd.DataFrame(curves), pd.DataFrame(quantities)


def qpcr_error(tmp_path, text, *words, name="EXPR01.csv", fmt=None, settings=None, kind=None):
    path, call = plate(tmp_path, text, name, fmt, settings)
    return raises_named(kind or QPCRFormatError, path, *words, call=call)


MISSING = "missing column(s) '{}'"
UNKNOWN = "unknown qPCR export format"
NO_WELL = "no header line with a 'Well'"
NO_SQ = "standard well has no positive Starting Quantity"


@pytest.mark.parametrize(
    ("column", "declared", "detected"),
    [
        ("Well", NO_WELL, NO_WELL),
        ("Type", MISSING.format("Type"), UNKNOWN),
        ("Identifier", MISSING.format("Identifier"), UNKNOWN),
        ("Threshold Cycle (Ct)", *[MISSING.format("Threshold Cycle (Ct)")] * 2),
        ("Starting Quantity (SQ)", NO_SQ, NO_SQ),  # without SQ no standard has a quantity
    ],
)
def test_missing_column(column, declared, detected, tmp_path):
    """With the format given in plates.tsv, and detected from the header."""
    text = demo_export()
    header, rest = text.split("\n", 1)
    text = header.replace(column, "Something Else") + "\n" + rest
    qpcr_error(tmp_path, text, declared, fmt="icycler")
    qpcr_error(tmp_path, text, detected)


@pytest.mark.parametrize("bad", ["abc", "22.4.8", "#####", "1.#INF", "1e999", "-5.0"])
def test_bad_ct_names_line_well_and_column(bad, tmp_path):
    text = edit_cells(demo_export(), "Threshold Cycle (Ct)", lambda f: bad, type_is("Unkn"))
    error = qpcr_error(tmp_path, text, "well ")
    assert re.search(r"line \d+", str(error))
    if bad == "-5.0":
        assert "Ct -5 is negative" in str(error)
    else:
        assert "Threshold Cycle (Ct)" in str(error)


def test_duplicate_well_names_both_lines(tmp_path):
    lines = demo_export().splitlines()
    text = "\n".join([*lines, lines[5]]) + "\n"
    qpcr_error(tmp_path, text, "duplicate well A05", f"line {len(lines) + 1}", "also at line 6")


def test_standard_without_quantity(tmp_path):
    text = edit_cells(
        demo_export(), "Starting Quantity (SQ)", lambda f: "N/A", lambda f: f[1] == "A03"
    )
    qpcr_error(tmp_path, text, "line 4, well A03", "no positive Starting Quantity")


def test_everything_undetermined_is_a_failed_curve_not_a_crash(tmp_path):
    text = edit_cells(demo_export(), "Threshold Cycle (Ct)", lambda f: "Undetermined")
    wells, curves, quantities = plate_results(tmp_path, text)
    assert wells["ct"].isna().all()
    assert set(curves["status"]) == {"fail"}
    assert all(r.startswith("0 standard wells with a Ct") for r in curves["reason"])
    assert set(quantities["status"]) == {"not_evaluable"}
    assert all("standard curve failed" in r for r in quantities["reason"])


def test_all_unknowns_undetermined_are_undetected(tmp_path):
    text = edit_cells(demo_export(), "Threshold Cycle (Ct)", lambda f: "N/A", type_is("Unkn"))
    _, curves, quantities = plate_results(tmp_path, text)
    assert set(curves["status"]) == {"pass"}
    assert set(quantities["status"]) == {"undetected"}
    assert quantities["quantity"].isna().all()
    assert all(r.startswith("no amplification in") for r in quantities["reason"])


def test_sample_absent_from_plate_is_a_not_evaluable_pair_row(tmp_path):
    _, curves, quantities = plate_results(tmp_path, demo_export())
    units = [
        {"patient": "P01", "fraction": "CD34pos", "plate": "EXPR01", "qpcr_sample": "P01pos"},
        {"patient": "P01", "fraction": "CD34neg", "plate": "EXPR01", "qpcr_sample": "P01nug"},
    ]
    flow = pd.DataFrame(
        [{"patient": "P01", "fraction": f, "status": "pass", "reason": ""} for f in
         ("presort", "CD34pos", "CD34neg")]
    )  # fmt: skip
    pairs = pd.DataFrame(
        pair_patient("P01", units, {"EXPR01": quantities}, flow, {"EXPR01": curves})
    )
    missing = pairs[pairs["fraction"] == "CD34neg"]
    assert len(missing) == quantities["target"].nunique()
    assert set(missing["status"]) == {"not_evaluable"}
    assert all("sample 'P01nug'" in r and "not on plate EXPR01" in r for r in missing["reason"])
    assert set(pairs[pairs["fraction"] == "CD34pos"]["status"]) <= {"ok", "above_range"}


@pytest.mark.parametrize("seed", range(4))
def test_binary_garbage(seed, tmp_path):
    data = np.random.default_rng(seed).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    qpcr_error(tmp_path, data, "no header line with a 'Well'")
    qpcr_error(tmp_path, data, "no header line with a 'Well'", fmt="cfx")


@pytest.mark.parametrize(
    ("label", "data", "words"),
    [
        ("empty", b"", "no header line with a 'Well'"),
        ("blank lines", b"\n\r\n\n", "no header line with a 'Well'"),
        ("header only", demo_export().splitlines()[0].encode(), "the export holds no wells"),
        ("utf-16 cut in half", b"\xff\xfe" + "Well,".encode("utf-16-le") + b"x", UNKNOWN),
        ("unclosed quote", (demo_export() + ',H12,FAM,Unkn,"' + "x" * 140_000).encode(), "line 87"),
    ],
)
def test_empty_and_undecodable_exports(label, data, words, tmp_path):
    qpcr_error(tmp_path, data, words)


def test_garbled_header(tmp_path):
    text = demo_export().replace("Well", "W\x00ll", 1)
    qpcr_error(tmp_path, text, "no header line with a 'Well'")


def test_xlsx_that_is_not_a_workbook(tmp_path):
    qpcr_error(tmp_path, b"not a workbook", "cannot open as an xlsx", name="x.xlsx", fmt="cfx")
    qpcr_error(tmp_path, b"not a workbook", "no header line", name="x.xlsx")
    not_xlsx = rdml_zip({"hello.txt": "hello"})
    qpcr_error(tmp_path, not_xlsx, "cannot open as an xlsx", name="y.xlsx")


def test_rdml_zip_without_xml_empty_or_corrupt(tmp_path):
    qpcr_error(tmp_path, rdml_zip({"readme.txt": "no xml"}), "not well-formed XML", name="a.rdml")
    qpcr_error(tmp_path, rdml_zip({}), "the RDML zip archive is empty", name="b.rdml")
    whole = rdml_zip({"rdml_data.xml": rdml_document("")})
    qpcr_error(tmp_path, whole[: len(whole) // 2], "not a readable zip", name="c.rdml", fmt="rdml")
    qpcr_error(tmp_path, whole[: len(whole) // 2], "not a readable one (truncated?)", name="e.rdml")
    # a readable directory but a corrupt deflate stream inside the member
    doc = rdml_document("".join(f'<react id="{i}"/>' for i in range(1, 97)))
    blob = bytearray(rdml_zip({"rdml_data.xml": doc}))
    info = zipfile.ZipFile(write(tmp_path / "tmp.zip", bytes(blob))).infolist()[0]
    first = info.header_offset + 30 + len(info.filename)
    for i in range(first + 8, first + info.compress_size - 4):
        blob[i] ^= 0xA5
    qpcr_error(tmp_path, bytes(blob), "not a readable zip archive", name="d.rdml")


@pytest.mark.parametrize(
    ("label", "reacts", "words"),
    [
        ("no reacts", "", "holds no <react> with <data>"),
        ("cq not a number", '<react id="1"><data><tar id="GUS"/><cq>x</cq></data></react>',
         "<cq> 'x' is not a number"),
        ("well id 0", '<react id="0"><data><tar id="GUS"/><cq>20</cq></data></react>',
         "react id 0 is outside a plate"),
        ("zero columns", '<pcrFormat><columns>0</columns></pcrFormat>'
         '<react id="5"><data><tar id="GUS"/><cq>20</cq></data></react>',
         "<pcrFormat><columns> is 0"),
        ("bad well", '<react id="Q99x"><data><tar id="GUS"/><cq>20</cq></data></react>',
         "well name 'Q99x'"),
    ],
)  # fmt: skip
def test_rdml_bad_content(label, reacts, words, tmp_path):
    qpcr_error(tmp_path, rdml_zip({"run.xml": rdml_document(reacts)}), words, name="r.rdml")


def test_rdml_standard_with_infinite_quantity_has_no_quantity(tmp_path):
    samples = '<sample id="S1"><type>std</type><quantity><value>inf</value></quantity></sample>'
    reacts = '<react id="1"><sample id="S1"/><data><tar id="GUS"/><cq>20</cq></data></react>'
    doc = rdml_zip({"run.xml": rdml_document(reacts, samples)})
    qpcr_error(tmp_path, doc, "<sample id='S1'> has no positive <quantity><value>", name="q.rdml")


@pytest.mark.parametrize(
    ("regex", "words"),
    [("(", "is not a regular expression"), (r"^(?P<x>.*)$", "lacks the named group(s)")],
)
def test_identifier_regex_that_cannot_work_is_a_config_error(regex, words, tmp_path):
    _, call = plate(tmp_path, demo_export(), settings=replace(QPCR, identifier_regex=regex))
    raises_named(QPCRFormatError, None, "config qpcr.identifier_regex: ", words, call=call)


# =========================================================================== hostile XML

GML_ROOT = "gating:Gating-ML"
GML_NS = ' xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating"'
RDML_NS_DECL = f' xmlns="{RDML_NS}"'


@pytest.fixture
def secret(tmp_path) -> tuple[Path, str]:
    """A file outside the inputs holding a secret string an entity could pull in."""
    value = "SECRET-" + "".join(random.Random(3).choices("ABCDEFGHJKLMNPQRSTUVWXYZ", k=16))
    return write(tmp_path / "outside" / "secret.txt", value), value


def _xml_cases(tmp_path: Path, secret_file: Path) -> dict[str, tuple[Path, object]]:
    """name -> (file, loader call) for each XML input kind and each attack."""
    cases: dict[str, tuple[Path, object]] = {}
    docs = {
        "xxe": lambda root, ns: external_entity(secret_file, root, ns),
        "bomb": billion_laughs,
    }
    for attack, make in docs.items():
        gml = write(tmp_path / f"{attack}.xml", make(GML_ROOT, GML_NS))
        cases[f"gatingml-{attack}"] = (gml, lambda p=gml: load_strategy(p))
        wsp = write(tmp_path / f"{attack}.wsp", make("Workspace", ' flowJoVersion="10.6.2"'))
        cases[f"flowjo-{attack}"] = (wsp, lambda p=wsp: load_strategy(p))
        text = make("rdml", RDML_NS_DECL)
        plain = write(tmp_path / f"{attack}_plain.rdml", text)
        cases[f"rdml-{attack}"] = (plain, lambda p=plain: read_plate(p, "R", None, QPCR))
        zipped = write(tmp_path / f"{attack}.rdml", rdml_zip({"rdml_data.xml": text}))
        cases[f"rdmlzip-{attack}"] = (zipped, lambda p=zipped: read_plate(p, "R", "rdml", QPCR))
    return cases


XML_CASES = [f"{k}-{a}" for k in ("gatingml", "flowjo", "rdml", "rdmlzip") for a in ("xxe", "bomb")]


@pytest.mark.parametrize("case", XML_CASES)
def test_entities_are_refused_unresolved(case, tmp_path, secret, monkeypatch):
    secret_file, value = secret
    path, call = _xml_cases(tmp_path, secret_file)[case]

    def no_flowkit(*args, **kwargs):
        raise AssertionError("FlowKit was handed an XML file with entities")

    import sortpcr.gating.gatingml

    monkeypatch.setattr(sortpcr.gating.gatingml, "_flowkit_gatingml", no_flowkit)
    error = raises_named(XMLSecurityError, path, "DTD", call=call)
    assert value not in str(error)


def test_the_external_entity_is_a_real_attack(tmp_path, secret):
    """Positive control: a parser that resolves entities (lxml, as FlowKit uses it) does pull
    the secret in, so the refusal above is what keeps it out."""
    from lxml import etree

    secret_file, value = secret
    path = write(tmp_path / "xxe.xml", external_entity(secret_file, GML_ROOT, GML_NS))
    unsafe = etree.XMLParser(resolve_entities=True, no_network=True, load_dtd=True)
    assert value in etree.tostring(etree.parse(str(path), unsafe)).decode()


@pytest.mark.parametrize(
    ("label", "body", "words"),
    [
        ("vertex without value",
         '<gating:PolygonGate gating:id="A"><gating:dimension><data-type:fcs-dimension '
         'data-type:name="FSC-A"/></gating:dimension><gating:dimension><data-type:fcs-dimension '
         'data-type:name="SSC-A"/></gating:dimension><gating:vertex><gating:coordinate/>'
         '<gating:coordinate data-type:value="1"/></gating:vertex></gating:PolygonGate>',
         "polygon gate 'A' vertex: attribute value is missing"),
        ("vertex not a number",
         '<gating:PolygonGate gating:id="A"><gating:dimension><data-type:fcs-dimension '
         'data-type:name="FSC-A"/></gating:dimension><gating:dimension><data-type:fcs-dimension '
         'data-type:name="SSC-A"/></gating:dimension><gating:vertex><gating:coordinate '
         'data-type:value="1O"/><gating:coordinate data-type:value="1"/></gating:vertex>'
         '</gating:PolygonGate>',
         "attribute value is '1O', not a number"),
        ("ellipsoid without distance",
         '<gating:EllipsoidGate gating:id="E"><gating:dimension><data-type:fcs-dimension '
         'data-type:name="FSC-A"/></gating:dimension><gating:dimension><data-type:fcs-dimension '
         'data-type:name="SSC-A"/></gating:dimension><gating:mean><gating:coordinate '
         'data-type:value="1"/><gating:coordinate data-type:value="1"/></gating:mean>'
         '<gating:covarianceMatrix/><gating:distanceSquare/></gating:EllipsoidGate>',
         "ellipsoid gate 'E': attribute value is missing"),
        ("quadrant divider text",
         '<gating:QuadrantGate gating:id="Q"><gating:divider gating:id="d">'
         '<data-type:fcs-dimension data-type:name="FSC-A"/><gating:value>x</gating:value>'
         '</gating:divider></gating:QuadrantGate>',
         "divider 'd': value 'x' is not a number"),
        ("rectangle min text",
         '<gating:RectangleGate gating:id="R"><gating:dimension gating:min="low">'
         '<data-type:fcs-dimension data-type:name="FSC-A"/></gating:dimension>'
         '</gating:RectangleGate>',
         "attribute min='low' is not a number"),
    ],
)  # fmt: skip
def test_gatingml_with_bad_numbers(label, body, words, tmp_path):
    doc = (
        '<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating" '
        'xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">'
        f"{body}</gating:Gating-ML>"
    )
    path = write(tmp_path / "bad.xml", doc)
    raises_named(GatingError, path, words, call=lambda: load_strategy(path))


@pytest.mark.parametrize(
    ("label", "data", "words"),
    [
        ("empty", b"", "not well-formed XML"),
        ("binary", bytes(range(256)) * 4, "not well-formed XML"),
        ("truncated", b"<gating:Gating-ML xmlns:gating='x'><gating:Rect", "not well-formed XML"),
        ("foreign root", b"<html><body/></html>", "neither Gating-ML 2.0 nor a FlowJo"),
        ("flowjo version text", b'<Workspace flowJoVersion="ten"/>', "version 'ten'"),
        ("old flowjo", b'<Workspace flowJoVersion="9.9"/>', "version '9.9'"),
    ],
)
def test_strategy_files_that_are_not_strategies(label, data, words, tmp_path):
    path = write(tmp_path / "strategy.wsp", data)
    raises_named(GatingError, path, words, call=lambda: load_strategy(path))


# =========================================================================== sample sheets

SAMPLES = (
    "patient\tlineage\tage\tstatus\tfusion\tmarkers\tpresort_fcs\tgating\n"
    "A1\tBCP\t2\tdiagnosis\tTEL-AML1\tCD13\tfcs/A1_pre.fcs\t\n"
)
UNITS = (
    "patient\tfraction\tsorted_fcs\tplate\tqpcr_sample\n"
    "A1\tCD34pos\tfcs/A1_pos.fcs\tplate1\tA1pos\n"
    "A1\tCD34neg\tfcs/A1_neg.fcs\tplate1\tA1neg\n"
)
PLATES = "plate\tpath\tformat\nplate1\tplates/p1.csv\ticycler\n"


def sheets_project(tmp_path: Path, **sheets: bytes) -> dict:
    """A project folder with the three sheets (``sheets`` replaces any of them)."""
    base = tmp_path / "sheets"
    for name in ("A1_pre", "A1_pos", "A1_neg"):
        write(base / "fcs" / f"{name}.fcs", b"FCS3.0")
    write(base / "plates" / "p1.csv", "x")
    defaults = {"samples": SAMPLES, "units": UNITS, "plates": PLATES}
    for kind, text in defaults.items():
        write(base / f"{kind}.tsv", sheets.get(kind, text.encode()))
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config.update(
        samples="sheets/samples.tsv", units="sheets/units.tsv", plates="sheets/plates.tsv"
    )
    config["gating"]["strategy"] = "strategy.xml"
    write(tmp_path / "strategy.xml", "<x/>")
    return config


def sheet_problems(tmp_path: Path, **sheets: bytes) -> list[str]:
    config = sheets_project(tmp_path, **sheets)
    error = raises_named(SheetError, None, call=lambda: load_sheets(config, base=tmp_path))
    return error.problems


@pytest.mark.parametrize("kind", ["samples", "units", "plates"])
def test_empty_sheet(kind, tmp_path):
    problems = sheet_problems(tmp_path, **{kind: b""})
    assert any(f"{kind}.tsv: not a readable tab-separated sheet" in p for p in problems)


@pytest.mark.parametrize(
    "data",
    [
        "patient\tlineage\n".encode("utf-16"),  # UTF-16 with BOM
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)),  # an image saved as .tsv
        np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes(),
    ],
    ids=["utf16", "png", "random"],
)
def test_undecodable_sheet(data, tmp_path):
    problems = sheet_problems(tmp_path, samples=data)
    assert any("samples.tsv" in p for p in problems)


@pytest.mark.parametrize(
    "data",
    [
        SAMPLES.replace("\t", ",").encode(),  # comma-separated
        b"PK\x03\x04" + bytes(300),  # an xlsx saved under .tsv
        SAMPLES.replace("diagnosis\tTEL-AML1", "diagnosis\textra\tTEL-AML1").encode(),
    ],
    ids=["comma", "xlsx", "extra-field"],
)
def test_sheet_with_wrong_shape_is_listed_not_crashed(data, tmp_path):
    config = sheets_project(tmp_path, samples=data)
    with no_hang(), pytest.raises(SheetError) as info:
        load_sheets(config, base=tmp_path)
    assert any("samples.tsv" in p for p in info.value.problems)


def test_crlf_bom_and_padded_ids_work(tmp_path):
    def dos(text: str) -> bytes:
        return b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()

    padded = UNITS.replace("A1\tCD34pos", " A1 \tCD34pos ").replace("A1neg", "A1neg  ")
    config = sheets_project(tmp_path, samples=dos(SAMPLES), units=dos(padded), plates=dos(PLATES))
    with no_hang():
        sheets = load_sheets(config, base=tmp_path)
    assert sheets.patients == ["A1"]
    assert list(sheets.units["patient"]) == ["A1", "A1"]
    assert list(sheets.units["fraction"]) == ["CD34pos", "CD34neg"]
    assert list(sheets.units["qpcr_sample"]) == ["A1pos", "A1neg"]
    assert list(sheets.plates["format"]) == ["icycler"]
    assert list(sheets.samples.columns)[0] == "patient"  # the BOM is not part of the name


# =========================================================================== workflow level


def _summary(workdir: Path) -> pd.DataFrame:
    out = snakemake(workdir, "--summary").stdout
    lines = [line for line in out.splitlines() if "\t" in line]
    rows = [line.split("\t") for line in lines]
    return pd.DataFrame(rows[1:], columns=rows[0]).set_index("output_file")


@pytest.mark.e2e
def test_truncated_sorted_fcs_fails_that_patient_and_the_cohort_completes(demo_copy):
    target = demo_copy / "resources" / "demo" / "fcs" / "P05_CD34neg.fcs"
    raw = target.read_bytes()
    target.write_bytes(raw[: len(raw) - 1000])
    run = snakemake(demo_copy, "--cores", "2")
    assert run.returncode == 0
    flow = pd.read_csv(demo_copy / "results/qc/flow.tsv", sep="\t", keep_default_na=False)
    row = flow[(flow["patient"] == "P05") & (flow["fraction"] == "CD34neg")].iloc[0]
    assert row["status"] == "fail"
    # the sheet's path string (units.tsv), never the resolved path or an FCS keyword
    assert row["reason"].startswith("../resources/demo/fcs/P05_CD34neg.fcs: DATA: file is trunc")
    others = flow[flow["patient"] != "P05"]
    assert set(others["status"]) == {"pass"}
    groups = pd.read_csv(
        demo_copy / "results/cohort/resistance_groups.tsv", sep="\t", keep_default_na=False
    ).set_index("patient")
    assert len(groups) == 17
    assert groups.loc["P05", "group"] == "excluded"
    assert "P05_CD34neg.fcs" in groups.loc["P05", "reason"]
    assert "purity" not in groups.loc["P05", "reason"]  # a read failure is no purity verdict
    assert (groups.drop(index="P05")["group"] != "excluded").all()
    summary = _summary(demo_copy)
    assert set(summary["plan"]) == {"no update"}  # nothing left pending: the run is complete


@pytest.fixture(scope="module")
def garbled_plate_run(demo_run, tmp_path_factory):
    """The finished demo run, then EXPR03's export re-exported with a garbled header and the
    workflow run again (once for the tests below): (workdir, completed process)."""
    workdir = tmp_path_factory.mktemp("garbled") / "wf"
    shutil.copytree(demo_run, workdir, symlinks=True)
    export = workdir / "resources" / "demo" / "qpcr" / "EXPR03.csv"
    export.write_text(export.read_text().replace("Well", "We11", 1))  # no 'Well' header left
    return workdir, snakemake(workdir, "--cores", "2", check=False)


@pytest.mark.e2e
def test_garbled_plate_header_stops_the_run_naming_the_file(garbled_plate_run):
    workdir, run = garbled_plate_run
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "EXPR03.csv: no header line with a 'Well' column was found" in output
    assert "Traceback" not in output
    # Snakemake removed the failed job's output
    assert not (workdir / "results/qpcr/EXPR03/wells.tsv").exists()


@pytest.mark.e2e
def test_after_a_failed_plate_nothing_stale_counts_as_complete(garbled_plate_run):
    workdir, _ = garbled_plate_run
    summary = _summary(workdir)
    stale = [
        f
        for f in summary.index
        if "EXPR03" in f
        or f.startswith(("results/cohort/", "results/figures/"))
        or f == "results/qpcr/standard_curves.tsv"
    ]
    assert stale
    rows = summary.loc[stale]
    ok = rows[(rows["plan"] != "update pending") & (rows["status"] != "missing")]
    assert ok.empty, ok[["status", "plan"]].to_string()
    # the plate's patients (units.tsv) are pending too; the others' flow results are not
    units = pd.read_csv(workdir / "config/units.tsv", sep="\t")
    on_plate = set(units.loc[units["plate"] == "EXPR03", "patient"])
    assert on_plate
    for patient in on_plate:
        assert summary.loc[f"results/pairs/{patient}.tsv", "plan"] == "update pending"
    untouched = sorted(set(units["patient"]) - on_plate)[0]
    assert summary.loc[f"results/flow/{untouched}.tsv", "plan"] == "no update"
