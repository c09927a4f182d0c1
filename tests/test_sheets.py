"""Sample-sheet validation: every problem listed at once, with file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sortpcr.errors import SheetError
from sortpcr.sheets import check_config, load

ROOT = Path(__file__).resolve().parents[1]

SAMPLES = (
    "patient\tlineage\tage\tstatus\tfusion\tmarkers\tpresort_fcs\tgating\n"
    "A1\tBCP\t<1\tdiagnosis\tTEL-AML1\tCD45, CD13\tfcs/A1_pre.fcs\t\n"
    "B2\tT\t15\trelapse\tnegative\tCD1a\tfcs/B2_pre.fcs\t\n"
)
UNITS = (
    "patient\tfraction\tsorted_fcs\tplate\tqpcr_sample\n"
    "A1\tCD34pos\tfcs/A1_pos.fcs\tplate1\tA1pos\n"
    "A1\tCD34neg\tfcs/A1_neg.fcs\tplate1\tA1neg\n"
    "B2\tCD34pos\tfcs/B2_pos.fcs\tplate1\tB2pos\n"
    "B2\tCD34neg\tfcs/B2_neg.fcs\tplate1\tB2neg\n"
    "A1\tCD34pos\tfcs/A1_pos.fcs\tfusion\tA1pos\n"
)
PLATES = "plate\tpath\tformat\nplate1\tplates/p1.csv\ticycler\nfusion\tplates/f.csv\t\n"


def make_project(tmp_path: Path, samples=SAMPLES, units=UNITS, plates=PLATES) -> dict:
    """A project folder with sheets and empty raw files; returns its config."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    sheets = tmp_path / "sheets"
    (sheets / "fcs").mkdir(parents=True)
    (sheets / "plates").mkdir()
    for name in ["A1_pre", "B2_pre", "A1_pos", "A1_neg", "B2_pos", "B2_neg"]:
        (sheets / "fcs" / f"{name}.fcs").write_bytes(b"FCS3.0")
    (sheets / "plates" / "p1.csv").write_text("x")
    (sheets / "plates" / "f.csv").write_text("x")
    (sheets / "samples.tsv").write_text(samples)
    (sheets / "units.tsv").write_text(units)
    (sheets / "plates.tsv").write_text(plates)
    strategy = tmp_path / "strategy.xml"
    strategy.write_text("<x/>")
    config.update(
        samples="sheets/samples.tsv", units="sheets/units.tsv", plates="sheets/plates.tsv"
    )
    config["gating"]["strategy"] = "strategy.xml"
    return config


def problems_of(tmp_path: Path, **sheets) -> list[str]:
    config = make_project(tmp_path, **sheets)
    with pytest.raises(SheetError) as info:
        load(config, base=tmp_path)
    return info.value.problems


def test_valid_project_loads_with_resolved_paths(tmp_path):
    config = make_project(tmp_path)
    sheets = load(config, base=tmp_path)
    assert sheets.patients == ["A1", "B2"]
    assert sheets.plates_of("A1") == ["fusion", "plate1"]
    assert sheets.sorted_fcs("A1", "CD34neg") == str(tmp_path / "sheets" / "fcs" / "A1_neg.fcs")
    # results may only carry the path as written in the sheet
    assert list(sheets.samples["presort_fcs_label"]) == ["fcs/A1_pre.fcs", "fcs/B2_pre.fcs"]


def test_every_problem_is_listed_at_once(tmp_path):
    samples = (
        "patient\tlineage\tage\tstatus\tfusion\tmarkers\tpresort_fcs\n"
        "A1\tB\t2\tdiagnosis\tnegative\tCD13\tfcs/A1_pre.fcs\n"  # unknown lineage
        "A1\tT\t2\tdiagnosis\tnegative\tCD13\tfcs/missing.fcs\n"  # duplicate + missing file
        "B.2\tT\tten\tremission\tnegative\tCD13\tfcs/B2_pre.fcs\n"  # bad id, age, status
    )
    units = (
        "patient\tfraction\tsorted_fcs\tplate\tqpcr_sample\n"
        "A1\tCD34pos\tfcs/A1_pos.fcs\tplate9\tA1pos\n"  # unknown plate
        "A1\tCD34neg\tfcs/A1_neg.fcs\tplate1\tA1neg\n"
        "ZZ\tCD34pos\tfcs/A1_pos.fcs\tplate1\tZZ\n"  # unknown patient
    )
    problems = problems_of(tmp_path, samples=samples, units=units)
    text = "\n".join(problems)
    assert "samples.tsv, line 2: lineage: 'B' is not one of BCP, T" in text
    assert "samples.tsv, lines 2, 3: duplicate patient 'A1'" in text
    assert "samples.tsv, line 3, column presort_fcs: file 'fcs/missing.fcs' not found" in text
    assert "samples.tsv, line 4: patient: 'B.2' does not match" in text
    assert "samples.tsv, line 4: age: 'ten'" in text
    assert "samples.tsv, line 4: status: 'remission' is not one of diagnosis, relapse" in text
    assert "units.tsv, line 2, column plate: 'plate9' is not in plates.tsv" in text
    assert "units.tsv, line 4, column patient: 'ZZ' is not in samples.tsv" in text
    assert "patient 'B.2' has no CD34pos and no CD34neg row in units.tsv" in text
    assert len(problems) >= 9


def test_missing_column_reported_once_for_the_sheet(tmp_path):
    samples = SAMPLES.replace("\tlineage", "").replace("\tBCP", "").replace("\tT\t", "\t")
    problems = problems_of(tmp_path, samples=samples)
    missing = [p for p in problems if "lineage" in p]
    assert missing == [f"{tmp_path / 'sheets' / 'samples.tsv'}, line 1: missing column(s) lineage"]


def test_unknown_column_is_a_problem(tmp_path):
    samples = SAMPLES.replace("\tgating\n", "\tgatng\n")
    problems = problems_of(tmp_path, samples=samples)
    assert any("unknown column(s) gatng" in p for p in problems)


def test_one_fraction_missing(tmp_path):
    units = "".join(line + "\n" for line in UNITS.splitlines() if "B2\tCD34neg" not in line)
    problems = problems_of(tmp_path, units=units)
    assert any("patient 'B2' has no CD34neg row in units.tsv" in p for p in problems)


def test_two_sorted_files_for_one_fraction(tmp_path):
    units = UNITS.replace(
        "A1\tCD34pos\tfcs/A1_pos.fcs\tfusion", "A1\tCD34pos\tfcs/A1_neg.fcs\tfusion"
    )
    problems = problems_of(tmp_path, units=units)
    assert any("A1 CD34pos names several sorted_fcs files" in p for p in problems)


def test_duplicate_plate_and_sample_on_a_plate(tmp_path):
    plates = PLATES + "plate1\tplates/p1.csv\tcfx\n"
    units = UNITS.replace(
        "B2\tCD34neg\tfcs/B2_neg.fcs\tplate1\tB2neg", "B2\tCD34neg\tfcs/B2_neg.fcs\tplate1\tB2pos"
    )
    problems = problems_of(tmp_path, plates=plates, units=units)
    assert any("duplicate plate 'plate1'" in p for p in problems)
    assert any("duplicate plate/qpcr_sample 'plate1/B2pos'" in p for p in problems)


def test_config_problems_are_listed(tmp_path):
    config = make_project(tmp_path)
    config["qc"]["purity_min"] = 1.5
    config["classification"].pop("genes")
    config["gating"]["strategy"] = "nowhere.xml"
    with pytest.raises(SheetError) as info:
        load(config, base=tmp_path)
    text = str(info.value)
    assert "config: qc.purity_min" in text
    assert "classification: 'genes' is required" in text
    assert "gating.strategy: file 'nowhere.xml' not found" in text


def test_shipped_config_is_valid():
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    assert check_config(config) == []


# ------------------------------------------------------- messages of issue 13, item 4


def write_samples(config: dict, tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "sheets" / "samples.tsv"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_latin1_sheet_names_line_and_column_and_says_save_as_utf8(encoding, tmp_path):
    config = make_project(tmp_path)
    text = SAMPLES.replace("CD1a", "CD1a, CD7 (faible, \u00e9l\u00e8ve)")
    path = write_samples(config, tmp_path, text.encode(encoding))
    with pytest.raises(SheetError) as info:
        load(config, base=tmp_path)
    assert info.value.problems[0] == (
        f"{path}, line 3, column markers: byte 0xE9 is not UTF-8 (Latin-1 or Windows-1252 "
        "text, where it is '\u00e9'?); save as UTF-8 (tab-separated)"
    )


def test_utf16_sheet_says_save_as_utf8(tmp_path):
    config = make_project(tmp_path)
    path = write_samples(config, tmp_path, SAMPLES.encode("utf-16"))
    with pytest.raises(SheetError) as info:
        load(config, base=tmp_path)
    assert (
        f"{path}: not a readable tab-separated sheet: it is UTF-16 text; save as UTF-8 "
        "(tab-separated)"
    ) in info.value.problems


def test_comma_separated_tsv_says_the_separator_is_a_comma(tmp_path):
    config = make_project(tmp_path)
    path = write_samples(config, tmp_path, SAMPLES.replace("\t", ",").encode())
    with pytest.raises(SheetError) as info:
        load(config, base=tmp_path)
    assert (
        f"{path}, line 1: the separator is a comma, not a tab; save as UTF-8 (tab-separated)"
    ) in info.value.problems


def test_rows_of_only_tabs_are_skipped_like_blank_lines(tmp_path):
    units = UNITS.replace("A1\tCD34neg", "\t\t\t\t\n\nA1\tCD34neg")  # Excel's empty rows
    config = make_project(tmp_path, units=units)
    sheets = load(config, base=tmp_path)
    assert list(sheets.units["patient"]) == ["A1", "A1", "B2", "B2", "A1"]


def test_line_numbers_are_the_file_lines_after_blank_lines_and_quoted_newlines(tmp_path):
    samples = (
        "patient\tlineage\tage\tstatus\tfusion\tmarkers\tpresort_fcs\tgating\n"
        "\n"  # line 2: blank
        'A1\tBCP\t<1\tdiagnosis\tTEL-AML1\t"CD45,\nCD13"\tfcs/A1_pre.fcs\t\n'  # lines 3-4
        "\t\t\t\t\t\t\t\n"  # line 5: only tabs
        "B2\tX\t15\trelapse\tnegative\tCD1a\tfcs/B2_pre.fcs\t\n"  # line 6: bad lineage
    )
    problems = problems_of(tmp_path, samples=samples)
    path = tmp_path / "sheets" / "samples.tsv"
    assert f"{path}, line 6: lineage: 'X' is not one of BCP, T" in problems


def test_id_hint_only_on_id_pattern_errors(tmp_path):
    samples = SAMPLES.replace("B2\tT\t15", "B.2\tT\tfive")
    units = UNITS.replace("B2", "B.2")
    problems = problems_of(tmp_path, samples=samples, units=units)
    age = next(p for p in problems if "age: 'five'" in p)
    patient = next(p for p in problems if "patient: 'B.2'" in p)
    assert "IDs:" not in age
    assert age.endswith("""(years; "<1" allowed)""")
    assert patient.endswith("(IDs: letters, digits, - and _)")


# ---------------------------------------------- compensation per sample (issue 12, item 5)


def test_compensation_column_none_file_or_a_matrix_file(tmp_path):
    samples = SAMPLES.replace("\tgating\n", "\tgating\tcompensation\n")
    samples = samples.replace("fcs/A1_pre.fcs\t\n", "fcs/A1_pre.fcs\t\tcomp/A1.tsv\n")
    samples = samples.replace("fcs/B2_pre.fcs\t\n", "fcs/B2_pre.fcs\t\tnone\n")
    config = make_project(tmp_path, samples=samples)
    (tmp_path / "sheets" / "comp").mkdir()
    (tmp_path / "sheets" / "comp" / "A1.tsv").write_text("FITC-A\tPE-A\n1\t0.2\n0.01\t1\n")
    sheets = load(config, base=tmp_path)
    a1, b2 = sheets.sample("A1"), sheets.sample("B2")
    assert a1["compensation"] == str(tmp_path / "sheets" / "comp" / "A1.tsv")
    assert a1["compensation_label"] == "comp/A1.tsv"  # what results may show
    assert (b2["compensation"], b2["compensation_label"]) == ("none", "none")
    plain = tmp_path / "plain"
    plain.mkdir()
    assert load(make_project(plain), base=plain).sample("A1")["compensation"] == ""


def test_bad_compensation_values_are_listed_with_line_and_column(tmp_path):
    samples = SAMPLES.replace("\tgating\n", "\tgating\tcompensation\n")
    samples = samples.replace("fcs/A1_pre.fcs\t\n", "fcs/A1_pre.fcs\t\tnone-please\n")
    samples = samples.replace("fcs/B2_pre.fcs\t\n", "fcs/B2_pre.fcs\t\tbad.tsv\n")
    config = make_project(tmp_path, samples=samples)
    (tmp_path / "sheets" / "bad.tsv").write_text("FITC-A\tPE-A\n1\t1\n1\t1\n")
    with pytest.raises(SheetError) as info:
        load(config, base=tmp_path)
    problems = info.value.problems
    path = tmp_path / "sheets" / "samples.tsv"
    assert any(
        p.startswith(f"{path}, line 2, column compensation: 'none-please' is neither 'none'")
        for p in problems
    )
    assert any(
        p.startswith(f"{path}, line 3, column compensation: ")
        and "singular" in p
        and "bad.tsv" in p
        for p in problems
    ), problems


def test_units_may_name_the_cdna_preparation(tmp_path):
    """The optional `cdna` column (RT replicates) is accepted and reaches the unit rows."""
    lines = UNITS.splitlines()
    units = "\n".join(
        [lines[0] + "\tcdna"] + [line + f"\tRT{i % 2 + 1}" for i, line in enumerate(lines[1:])]
    )
    sheets = load(make_project(tmp_path, units=units + "\n"), base=tmp_path)
    preparations = {(u["fraction"], u["plate"]): u["cdna"] for u in sheets.patient_units("A1")}
    assert preparations == {
        ("CD34pos", "plate1"): "RT1",
        ("CD34neg", "plate1"): "RT2",
        ("CD34pos", "fusion"): "RT1",
    }
