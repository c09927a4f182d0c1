"""Table files: the pandas-free record writer/reader agree with the pandas ones."""

import math

import numpy as np
import pandas as pd
import pytest

from sortpcr.io import format_cell, read_records, read_tsv, write_records, write_tsv

ROWS = [
    {"patient": "01", "fraction": "CD34pos", "value": 1.5, "n": np.int64(3), "note": None,
     "ok": True, "reason": "tab\there", "fold": math.nan, "tiny": 1e-7, "whole": 2.0},
    {"patient": "P2", "fraction": "CD34neg", "value": 2.0, "n": 4, "note": "text",
     "ok": False, "reason": 'a "quote"', "fold": 3.25, "tiny": 123456789.0, "whole": 0.1},
]  # fmt: skip
COLUMNS = list(ROWS[0])


def test_records_written_byte_identical_to_pandas(tmp_path):
    write_records(tmp_path / "records.tsv", ROWS, COLUMNS)
    write_tsv(tmp_path / "pandas.tsv", pd.DataFrame(ROWS, columns=COLUMNS))
    assert (tmp_path / "records.tsv").read_bytes() == (tmp_path / "pandas.tsv").read_bytes()


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "NA"), (math.nan, "NA"), (np.bool_(False), "False"), (np.int32(7), "7"),
     (1 / 3, "0.333333"), (1e6, "1e+06"), (math.inf, "inf"), ("NA", "NA"), ("", "")],
)  # fmt: skip
def test_format_cell(value, text):
    assert format_cell(value) == text


def test_read_records_types_and_text_columns(tmp_path):
    write_records(tmp_path / "t.tsv", ROWS, COLUMNS)
    rows = read_records(tmp_path / "t.tsv")
    assert rows[0]["patient"] == "01"  # an identifier stays text
    assert rows[0]["n"] == 3 and rows[0]["value"] == 1.5 and rows[0]["ok"] is True
    assert rows[0]["note"] is None and rows[0]["fold"] is None
    assert rows[0]["reason"] == "tab\there" and rows[1]["reason"] == 'a "quote"'
    frame = read_tsv(tmp_path / "t.tsv")
    assert list(frame["patient"]) == [r["patient"] for r in rows]
    assert frame["value"].tolist() == [r["value"] for r in rows]


def test_read_records_header_only(tmp_path):
    write_records(tmp_path / "empty.tsv", [], COLUMNS)
    assert read_records(tmp_path / "empty.tsv") == []
    assert list(read_tsv(tmp_path / "empty.tsv").columns) == COLUMNS


def test_cell_helpers_treat_none_and_nan_alike():
    from sortpcr.io import as_records, cell_float, cell_text, is_missing

    assert is_missing(None) and is_missing(math.nan) and is_missing(np.float64("nan"))
    assert not is_missing("") and not is_missing(0)
    assert cell_text(None) == cell_text(math.nan) == "" and cell_text(3) == "3"
    assert math.isnan(cell_float(None)) and math.isnan(cell_float("x"))
    assert cell_float("2.5") == 2.5
    frame = pd.DataFrame(ROWS, columns=COLUMNS)
    assert [r["patient"] for r in as_records(frame)] == ["01", "P2"]
    assert as_records(None) == [] and as_records(ROWS)[0] is not ROWS[0]  # copies


def test_concat_tsv_keeps_order_and_adds_missing_columns(tmp_path):
    from sortpcr.io import concat_tsv

    write_records(tmp_path / "a.tsv", ROWS[:1], COLUMNS)
    write_records(tmp_path / "b.tsv", [{**ROWS[1], "extra": 7}], [*COLUMNS, "extra"])
    concat_tsv([tmp_path / "a.tsv", tmp_path / "b.tsv"], tmp_path / "all.tsv")
    rows = read_records(tmp_path / "all.tsv")
    assert [r["patient"] for r in rows] == ["01", "P2"]
    assert rows[0]["extra"] is None and rows[1]["extra"] == 7
    both = pd.concat([read_tsv(tmp_path / "a.tsv"), read_tsv(tmp_path / "b.tsv")])
    assert list(read_tsv(tmp_path / "all.tsv").columns) == list(both.columns)


def test_outputs_get_ordinary_permissions(tmp_path):
    """Atomic writes go through a temporary file (0600); the result must not stay owner-only."""
    import os

    old = os.umask(0o027)
    try:
        write_records(tmp_path / "t.tsv", ROWS, COLUMNS)
    finally:
        os.umask(old)
    assert (tmp_path / "t.tsv").stat().st_mode & 0o777 == 0o640


# ------------------------------------------------------------- a full disk (issue 13, item 4)


def full_disk(*args, **kwargs):
    import errno

    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_names_the_output_and_the_reason(tmp_path, monkeypatch):
    from sortpcr.errors import OutputError
    from sortpcr.io import write_text, write_with

    target = tmp_path / "results" / "figure.png"
    with pytest.raises(OutputError) as info:
        write_with(target, full_disk)  # e.g. matplotlib's savefig on a full disk
    assert str(info.value) == (
        f"{target}: could not be written: No space left on device; free some space and rerun"
    )
    assert list(target.parent.iterdir()) == []  # no temporary file left behind
    monkeypatch.setattr("os.replace", full_disk)
    with pytest.raises(OutputError, match="table.tsv: could not be written: No space left"):
        write_text(tmp_path / "table.tsv", "x")


@pytest.mark.parametrize("where", ["helper", "elsewhere"])
def test_every_step_reports_a_failed_write_without_a_traceback(where, tmp_path, capsys):
    import errno

    from sortpcr.io import write_with
    from sortpcr.runner import run_step

    target = tmp_path / "out" / "calls.tsv"

    def body(log):
        log.info("working")
        if where == "helper":
            write_with(target, full_disk)
        else:  # a write that does not go through the io helpers
            raise OSError(errno.ENOSPC, "No space left on device", str(target))

    with pytest.raises(SystemExit) as info:
        run_step("classify", tmp_path / "logs" / "classify.log", body)
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert f"sortpcr classify: {target}" in err
    assert "No space left on device" in err
    assert "Traceback" not in err
    assert "No space left on device" in (tmp_path / "logs" / "classify.log").read_text()


def test_a_log_that_cannot_be_written_is_said_once(tmp_path, capsys, monkeypatch):
    from sortpcr.runner import step_logger

    log = step_logger(tmp_path / "step.log", "step")
    monkeypatch.setattr(log.handlers[0], "emit", lambda record: log.handlers[0].handleError(record))
    try:
        full_disk()
    except OSError:
        log.warning("one")
        log.warning("two")
    err = capsys.readouterr().err
    assert err.count("could not be written: No space left on device") == 1
    assert "Traceback" not in err


def test_gating_memory_grows_with_the_input_and_covers_the_measured_peaks():
    from sortpcr.runner import gating_memory_mb

    assert gating_memory_mb(0.5) == 1000  # a demo patient: the old fixed figure
    # measured peaks (tests/benchmarks/run.py memory): 1 M-event pre-sort, 46 MB of FCS ->
    # 374 MB; 5 M-event pre-sort, 229 MB -> 1,557-1,595 MB (the rule used to declare 1,000)
    assert gating_memory_mb(46) >= 374
    assert 1595 <= gating_memory_mb(229) <= 2 * 1595
    assert gating_memory_mb(230) > gating_memory_mb(229)
