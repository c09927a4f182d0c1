"""qPCR readers: every real export in ../shared/qpcr, crafted dialects, and bad input.

Expected numbers on the real files were read off the files by eye (see the line quoted in
each assertion); crafted strings hold hand-written values.
"""

from __future__ import annotations

import io
import math
import zipfile
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from sortpcr.errors import QPCRFormatError, XMLSecurityError
from sortpcr.qpcr.readers import (
    COLUMNS,
    DIALECTS,
    FORMATS,
    Dialect,
    detect_format,
    normalise_well,
    parse_number,
    read_plate,
    read_plate_records,
)
from tests.conftest import fresh_python, qpcr_settings, qpcr_settings_source

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
QPCR = SHARED / "qpcr"

SETTINGS = qpcr_settings(
    target_aliases={
        "BCL2": ["BCL-2", "BCL2", "bcl2", "Bcl-2"],
        "MDR1": ["MDR1", "ABCB1"],
        "LRP": ["LRP", "MVP"],
        "BCRP": ["BCRP", "ABCG2"],
        "GUS": ["GUS", "GUSB", "GUS-B"],
        "TEL-AML1": ["TEL-AML1", "ETV6-RUNX1", "TELAML1", "TEL_AML1"],
    }
)

ICYCLER_HEADER = (
    ",Well,Fluor,Type,Identifier,Replicate #,Threshold Cycle (Ct),Ct Mean,Ct Std. Dev,"
    "Starting Quantity (SQ),Log Starting Quantity,SQ Mean,SQ Std. Dev.,Set Point"
)


def shared(name: str) -> Path:
    path = QPCR / name
    if not path.is_file():
        pytest.skip(f"real export {name} not available (../shared absent)")
    return path


def well(table, name: str, target: str | None = None):
    rows = table[table["well"] == name]
    if target is not None:
        rows = rows[rows["target"] == target]
    assert len(rows) == 1, (name, target, rows)
    return SimpleNamespace(**rows.iloc[0].to_dict())


def write(tmp_path: Path, name: str, text: str, newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


# ----------------------------------------------------------------- real exports


@pytest.mark.shared
def test_myiq_comma_decimal_standards():
    path = shared("biorad_myiq_pcrquant_std_commadecimal.csv")
    assert detect_format(path) == "icycler"
    t = read_plate(path, "MYIQ", None, SETTINGS)
    assert list(t.columns) == COLUMNS
    assert len(t) == 75
    assert t["role"].value_counts().to_dict() == {"standard": 72, "other": 3}
    # Identifiers hold the target only ("Actin7"): target = Identifier, sample empty
    assert t[t.role == "standard"].groupby("target").size().to_dict() == {
        "AT1G03370": 18,
        "AT1G05180": 18,
        "AT1G13450": 18,
        "Actin7": 18,
    }
    # ,"A01","SYBR","Std","Actin7",1,"19,03","18,53",...,"1,000E+00",...
    assert well(t, "A01").ct == pytest.approx(19.03)
    assert well(t, "A01").quantity == pytest.approx(1.0)
    # ,"F02","SYBR","Std","Actin7",6,"32,79",...,"1,000E-05"
    assert well(t, "F02").ct == pytest.approx(32.79)
    assert well(t, "F02").quantity == pytest.approx(1e-5)
    # ,"C11",...,"N/A","00,00" -> undetermined; the 00,00 placeholder mean is ignored
    assert math.isnan(well(t, "C11").ct)
    assert t[t.role == "standard"]["ct"].isna().sum() == 17
    # Custom1 blank wells with -1#,INF in Log SQ: role other, no target, no quantity
    h01 = well(t, "H01")
    assert (h01.role, h01.target, math.isnan(h01.quantity)) == ("other", "", True)
    assert set(t["unit"]) == {"relative"}
    assert set(t["fluor"]) == {"SYBR"}


@pytest.mark.shared
def test_myiq_overflow_needs_identifier_regex():
    path = shared("biorad_myiq_pcrquant_unkn_overflow.csv")
    # Identifiers like "CT-Cont" do not match the default target_sample pattern
    with pytest.raises(QPCRFormatError) as err:
        read_plate(path, "OVF", "icycler", SETTINGS)
    msg = str(err.value)
    assert path.name in msg and "line 2, well A01" in msg and "'CT-Cont'" in msg
    assert "identifier_regex" in msg
    settings = replace(SETTINGS, identifier_regex=r"^(?P<target>[A-Za-z]+)-(?P<sample>.+)$")
    t = read_plate(path, "OVF", "icycler", settings)
    assert len(t) == 70
    assert set(t["role"]) == {"unknown"}
    assert t.groupby("target").size().to_dict() == {"CT": 35, "IN": 2, "In": 33}
    # ,A01,SYBR,Unkn,CT-Cont,1,25.59,26.13,0.509,0.000E+00,#####...
    a01 = well(t, "A01")
    assert (a01.target, a01.sample, a01.ct) == ("CT", "Cont", pytest.approx(25.59))
    # ,A08,SYBR,Unkn,CT-Cont(N),15,N/A,00.00 -> undetermined
    assert math.isnan(well(t, "A08").ct)
    assert t["ct"].isna().sum() == 28
    # the export's own SQ of unknowns is never carried over
    assert t["quantity"].isna().all()


@pytest.mark.shared
def test_cfx_early_tab_comma_decimal():
    path = shared("biorad_cfxmanager_early_std_tab.txt")
    assert detect_format(path) == "cfx"
    t = read_plate(path, "C1000", None, SETTINGS)
    assert len(t) == 96
    assert t["role"].value_counts().to_dict() == {"ntc": 51, "unknown": 39, "standard": 6}
    std = t[t.role == "standard"]
    assert sorted(std["quantity"]) == [100.0] * 3 + [1000.0] * 3
    # \tA05\tSYBR\tUnkn-1\tGAPDH\tsmall\t34,75\t29,93\t4,178 (the export's mean keeps it)
    a05 = well(t, "A05")
    assert (a05.target, a05.sample, a05.role, a05.ct) == ("GAPDH", "small", "unknown", 34.75)
    assert well(t, "D07").ct == pytest.approx(1.35)
    assert math.isnan(well(t, "D04").ct)
    # NTC rows name no target: they cover every target of their fluor
    ntc = t[t.role == "ntc"]
    assert set(ntc["target"]) == {""}
    assert ntc["ct"].notna().sum() == 5


@pytest.mark.shared
def test_cfx3_quantification_cq_results():
    path = shared("biorad_cfxmanager3_std_Quantification_Cq_Results.csv")
    assert detect_format(path) == "cfx"
    t = read_plate(path, "CFX3", None, SETTINGS)
    assert len(t) == 96
    assert t["role"].value_counts().to_dict() == {"standard": 85, "ntc": 11}
    assert t["target"].nunique() == 11
    assert sorted(t["quantity"].dropna().unique()) == [0.04, 0.2, 1.0, 5.0]
    # ,A01,SYBR,ATG8a,Std,Col-0,,25.3168719304532,...,5,...
    a01 = well(t, "A01")
    assert (a01.target, a01.sample, a01.quantity) == ("ATG8a", "Col-0", 5.0)
    assert a01.ct == pytest.approx(25.3168719304532, abs=1e-12)
    # ,B10,SYBR,ATG8a,NTC,,,34.981701175074 ; NaN Cq elsewhere. Four NTCs amplified.
    assert well(t, "B10").ct == pytest.approx(34.981701175074, abs=1e-12)
    ntc = t[t.role == "ntc"].dropna(subset=["ct"])
    assert list(ntc["well"]) == ["B10", "F11", "H10", "H12"]


@pytest.mark.shared
def test_rdml_stepone_v1_0():
    path = shared("rdml_v1_0_stepone_std_curve.rdml")
    assert detect_format(path) == "rdml"
    t = read_plate(path, "STEP", None, SETTINGS)
    assert len(t) == 24
    assert t["role"].value_counts().to_dict() == {"standard": 15, "unknown": 6, "ntc": 3}
    assert sorted(t["quantity"].dropna().unique()) == [625.0, 1250.0, 2500.0, 5000.0, 10000.0]
    # <react id="A1"><sample id="NTC_RNase P"/>...<cq>40.0</cq>: StepOne's sentinel
    assert t[t.role == "ntc"]["ct"].isna().all()
    a04 = well(t, "A04")
    assert (a04.target, a04.sample, a04.ct) == ("RNase P", "pop1_RNase P", 28.96287)
    # <react id="C8"> STD 625.0, cq 31.035166
    assert well(t, "C08").ct == pytest.approx(31.035166)
    assert well(t, "C08").quantity == 625.0


@pytest.mark.shared
def test_rdml_biorad_v1_1_member_name_and_missing_cq():
    path = shared("rdml_v1_1_biorad_cfxmanager3.rdml")
    assert detect_format(path) == "rdml"
    t = read_plate(path, "CFXRDML", None, SETTINGS)
    # two runs (FAM, Cy5) x 30 reactions: one row per well and target
    assert len(t) == 60
    assert t["role"].value_counts().to_dict() == {"other": 36, "unknown": 12, "ntc": 12}
    # react id 37 on an 8x12 plate is D01
    d01 = well(t, "D01", "EvaGreen")
    assert d01.ct == pytest.approx(10.1244311147873) and d01.sample == "Alm12"
    assert well(t, "A01", "EvaGreen").ct == pytest.approx(27.7514537682101)
    # react 8 EvaGreen has no <cq>: undetermined; the whole Cy5 run has none
    assert math.isnan(well(t, "A08", "EvaGreen").ct)
    assert t[t.fluor == "Cy5"]["ct"].isna().all()
    assert well(t, "D10", "EvaGreen").ct == pytest.approx(39.3137019214124)


# --------------------------------------------------------------- crafted dialects

ICYCLER_ROWS = [
    ("A01", "Std", "GUS_IM9", "22.10", "1.000E+00"),
    ("A02", "Std", "GUS_IM9", "25.40", "1.000E-01"),
    ("A03", "Unkn", "BCL-2_P01pos", "27.35", "0.000E+00"),
    ("A04", "Unkn", "BCL-2_P01pos", "N/A", "0.000E+00"),
    ("A05", "NTC", "GUS_NTC", "N/A", "0.000E+00"),
]


def icycler_text(sep: str = ",", decimal: str = ".", lead: bool = True, quote: bool = False):
    def cell(x: str) -> str:
        x = x.replace(".", decimal) if x[:1].isdigit() else x
        return f'"{x}"' if quote else x

    head = ICYCLER_HEADER.split(",")
    if not lead:
        head = head[1:]
    lines = [sep.join(head)]
    groups: dict[tuple[str, str, str], int] = {}  # Replicate #: one per type, name, SQ
    for w, typ, ident, ct, sq in ICYCLER_ROWS:
        rep = groups.setdefault((typ, ident, sq), len(groups) + 1)
        fields = [w, "FAM", typ, ident, str(rep), ct, "00.00", "N/A", sq, "-1#,INF", "#####", "0"]
        fields = [cell(f) for f in fields] + ["N/A"]
        lines.append(sep.join(([""] if lead else []) + fields))
    return "\n".join(lines) + "\n"


def check_icycler_table(t):
    assert list(t["well"]) == ["A01", "A02", "A03", "A04", "A05"]
    assert list(t["role"]) == ["standard", "standard", "unknown", "unknown", "ntc"]
    assert list(t["target"]) == ["GUS", "GUS", "BCL2", "BCL2", "GUS"]  # alias BCL-2 -> BCL2
    assert list(t["sample"][:4]) == ["IM9", "IM9", "P01pos", "P01pos"]
    assert t["ct"].iloc[0] == pytest.approx(22.10)
    assert t["ct"].iloc[2] == pytest.approx(27.35)
    assert math.isnan(t["ct"].iloc[3]) and math.isnan(t["ct"].iloc[4])
    assert list(t["quantity"][:2]) == [1.0, 0.1]
    assert t["quantity"][2:].isna().all()
    assert list(t["replicate_group"]) == ["GUS|std|1", "GUS|std|0.1", "BCL2|P01pos"] * 1 + [
        "BCL2|P01pos",
        "GUS|ntc",
    ]
    assert set(t["unit"]) == {"relative"}


@pytest.mark.parametrize(
    ("sep", "decimal", "lead", "quote", "newline"),
    [
        (",", ".", True, False, "\r\n"),  # software original, CRLF
        (",", ",", True, True, "\n"),  # Excel re-save in a comma-decimal locale
        (";", ",", True, False, "\r\n"),  # semicolon + decimal comma
        (";", ",", False, False, "\n"),  # no leading empty column
        ("\t", ",", False, False, "\r\n"),  # tab separated
        ("\t", ".", True, True, "\n"),
    ],
)
def test_icycler_dialects(tmp_path, sep, decimal, lead, quote, newline):
    text = icycler_text(sep, decimal, lead, quote)
    path = write(tmp_path, "plate.csv", text, newline)
    assert detect_format(path) == "icycler"
    check_icycler_table(read_plate(path, "X", None, SETTINGS))


def test_missing_value_spellings_and_debris(tmp_path):
    text = (
        "Well;Target;Content;Sample;Cq;Cq Mean;Starting Quantity (SQ);Log Starting Quantity\n"
        "A1;GUS;Unkn-01;S1;Undetermined;0;NaN;#####\n"
        "A2;GUS;Unkn-01;S1;NaN;0;;-1#,INF\n"
        "A3;GUS;Unkn-01;S1;;0;#####;1.#IND\n"
        "A4;GUS;Unkn-01;S1;N/A;0;N/A;N/A\n"
        "A5;GUS;Unkn-01;S1;30,5;0;-1#,INF;x\n"
    )
    t = read_plate(write(tmp_path, "cq.csv", text, "\r\n"), "X", "cfx", SETTINGS)
    assert t["ct"].isna().sum() == 4
    assert t["ct"].iloc[4] == pytest.approx(30.5)
    assert list(t["well"]) == ["A01", "A02", "A03", "A04", "A05"]


def test_parse_number():
    assert parse_number("1,000E+03", decimal_comma=True) == 1000.0
    assert parse_number("19,03", decimal_comma=True) == pytest.approx(19.03)
    assert parse_number("1.234,5", decimal_comma=True) == pytest.approx(1234.5)
    assert math.isnan(parse_number("Undetermined"))
    assert math.isnan(parse_number(" n/a "))
    for debris in ("#####", "-1#,INF", "1.#IND", "-1.#INF"):
        with pytest.raises(ValueError, match="debris"):
            parse_number(debris)
    with pytest.raises(ValueError):
        parse_number("abc")


def test_ct_max_sentinel_is_undetermined(tmp_path):
    text = "well,target,sample,role,ct,quantity\nA1,GUS,S1,unknown,40.0,\nA2,GUS,S1,unknown,39.9,\n"
    t = read_plate(write(tmp_path, "g.csv", text), "X", "generic", SETTINGS)
    assert math.isnan(t["ct"].iloc[0]) and t["ct"].iloc[1] == pytest.approx(39.9)


def test_generic_and_copies_unit(tmp_path):
    text = (
        "plate,well,target,sample,role,replicate_group,ct,quantity,unit\n"
        "X,A01,ETV6-RUNX1,std,standard,,20.0,100000,copies\n"
        "X,A02,TEL-AML1,P06pos,unknown,,25.0,,copies\n"
        "X,A03,GUSB,P06pos,unknown,,24.0,,copies\n"
        "X,A04,GUS,,ntc,,,,\n"
    )
    path = write(tmp_path, "g.tsv", text.replace(",", "\t"))
    assert detect_format(path) == "generic"
    t = read_plate(path, "FUS", None, SETTINGS)
    assert list(t["target"]) == ["TEL-AML1", "TEL-AML1", "GUS", "GUS"]
    assert set(t["unit"]) == {"copies"}
    assert t["quantity"].iloc[0] == 1e5
    assert read_plate(path, "FUS", None, SETTINGS, unit="relative")["unit"].iloc[0] == ("relative")
    with pytest.raises(QPCRFormatError) as err:  # plates.tsv checks it; a library caller too
        read_plate(path, "FUS", None, SETTINGS, unit="Relative")
    assert str(err.value) == f"{path}: plate unit 'Relative' is not one of relative, copies"


def test_cfx_xlsx(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(
        [None, "Well", "Fluor", "Target", "Content", "Sample", "Cq", "Starting Quantity (SQ)"]
    )
    sheet.append([None, "A01", "FAM", "GUS", "Std", None, 22.5, 1])
    sheet.append([None, "A02", "FAM", "GUS", "Unkn-01", "P01pos", 25.25, None])
    sheet.append([None, "A03", "FAM", "GUS", "NTC-1", None, "NaN", None])
    path = tmp_path / "cq.xlsx"
    book.save(path)
    assert detect_format(path) == "cfx"
    t = read_plate(path, "X", None, SETTINGS)
    assert list(t["role"]) == ["standard", "unknown", "ntc"]
    assert t["ct"].iloc[1] == 25.25 and math.isnan(t["ct"].iloc[2])


def test_layout_overrides_and_completes(tmp_path):
    export = (
        ICYCLER_HEADER + "\n"
        ",A01,FAM,Unkn,well1,1,22.0,00.00,N/A,0.000E+00,N/A,0,0,N/A\n"
        ",A02,FAM,Unkn,well2,2,26.0,00.00,N/A,0.000E+00,N/A,0,0,N/A\n"
        ",A03,FAM,Unkn,GUS_P01pos,3,27.0,00.00,N/A,0.000E+00,N/A,0,0,N/A\n"
    )
    layout = (
        "well\ttarget\tsample\trole\tquantity\nA1\tGUS\tIM9\tstandard\t1\nA2\tGUS\tP01neg\t\t\n"
    )
    t = read_plate(
        write(tmp_path, "e.csv", export),
        "X",
        "icycler",
        SETTINGS,
        layout=write(tmp_path, "layout.tsv", layout),
    )
    assert list(t["role"]) == ["standard", "unknown", "unknown"]
    assert list(t["sample"]) == ["IM9", "P01neg", "P01pos"]
    assert t["quantity"].iloc[0] == 1.0


# --------------------------------------------------------------------- bad input


def test_missing_column(tmp_path):
    text = ",Well,Fluor,Type,Identifier,Ct Mean\n,A01,FAM,Unkn,GUS_S,22.0\n"
    with pytest.raises(QPCRFormatError, match=r"missing column.*Threshold Cycle \(Ct\)"):
        read_plate(write(tmp_path, "m.csv", text), "X", "icycler", SETTINGS)


def test_non_numeric_ct_names_line_well_and_column(tmp_path):
    text = (
        ICYCLER_HEADER + "\n,A01,FAM,Unkn,GUS_S,1,22.0,,,,,,,\n,B07,FAM,Unkn,GUS_S,1,2x.5,,,,,,,\n"
    )
    path = write(tmp_path, "n.csv", text)
    with pytest.raises(QPCRFormatError) as err:
        read_plate(path, "X", "icycler", SETTINGS)
    msg = str(err.value)
    assert str(path) in msg and "line 3" in msg and "B07" in msg
    assert "Threshold Cycle (Ct)" in msg and "'2x.5'" in msg


def test_debris_in_ct_is_an_error_not_undetermined(tmp_path):
    text = ICYCLER_HEADER + "\n,A01,FAM,Unkn,GUS_S,1,#####,,,,,,,\n"
    with pytest.raises(QPCRFormatError, match="debris"):
        read_plate(write(tmp_path, "d.csv", text), "X", "icycler", SETTINGS)


def test_duplicate_well(tmp_path):
    text = (
        ICYCLER_HEADER + "\n,A01,FAM,Unkn,GUS_S,1,22.0,,,,,,,\n,A1,FAM,Unkn,GUS_S,1,22.1,,,,,,,\n"
    )
    with pytest.raises(QPCRFormatError, match=r"line 3.*duplicate well A01.*line 2"):
        read_plate(write(tmp_path, "dup.csv", text), "X", "icycler", SETTINGS)


def test_standard_without_quantity(tmp_path):
    text = ICYCLER_HEADER + "\n,C04,FAM,Std,GUS_IM9,1,22.0,,,N/A,,,,\n"
    with pytest.raises(QPCRFormatError, match=r"line 2, well C04.*Starting Quantity"):
        read_plate(write(tmp_path, "s.csv", text), "X", "icycler", SETTINGS)


def test_unknown_format(tmp_path):
    path = write(tmp_path, "x.csv", "Well,Colour,Height\nA1,red,3\n")
    with pytest.raises(QPCRFormatError, match="unknown qPCR export format"):
        read_plate(path, "X", None, SETTINGS)
    with pytest.raises(QPCRFormatError, match="unknown format 'lightcycler'"):
        read_plate(path, "X", "lightcycler", SETTINGS)


def rdml_zip(tmp_path: Path, xml: str, member: str = "data.xml") -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(member, xml)
    path = tmp_path / "plate.rdml"
    path.write_bytes(buffer.getvalue())
    return path


def test_entity_bomb_rdml_is_refused(tmp_path):
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE rdml [\n<!ENTITY a "aaaaaaaaaa">\n'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">\n]>\n'
        '<rdml xmlns="http://www.rdml.org" version="1.2"><sample id="&c;"/></rdml>'
    )
    path = rdml_zip(tmp_path, bomb)
    with pytest.raises(XMLSecurityError, match="DTD or entities") as err:
        read_plate(path, "X", "rdml", SETTINGS)
    assert str(path) in str(err.value)


def test_rdml_1_3_per_target_type_and_quantity(tmp_path):
    xml = """<rdml xmlns="http://www.rdml.org" version="1.3">
      <sample id="IM9-1"><type>std</type>
        <quantity><value>1</value><unit>other</unit></quantity></sample>
      <sample id="P01pos"><type>unkn</type></sample>
      <sample id="water"><type>ntc</type></sample>
      <target id="GUS"><type>ref</type><dyeId id="FAM"/></target>
      <experiment id="e"><run id="r"><pcrFormat><rows>8</rows><columns>12</columns>
      <rowLabel>ABC</rowLabel><columnLabel>123</columnLabel></pcrFormat>
      <react id="1"><sample id="IM9-1"/><data><tar id="GUS"/><cq>22.5</cq></data></react>
      <react id="13"><sample id="P01pos"/><data><tar id="GUSB"/><cq>24.75</cq></data></react>
      <react id="96"><sample id="water"/><data><tar id="GUS"/></data></react>
      </run></experiment></rdml>"""
    t = read_plate(rdml_zip(tmp_path, xml, "whatever_name.xml"), "R", None, SETTINGS)
    assert list(t["well"]) == ["A01", "B01", "H12"]
    assert list(t["role"]) == ["standard", "unknown", "ntc"]
    assert list(t["target"]) == ["GUS", "GUS", "GUS"]
    assert t["quantity"].iloc[0] == 1.0 and t["ct"].iloc[1] == 24.75
    assert math.isnan(t["ct"].iloc[2])


def test_read_plate_job_path_does_not_import_pandas():
    """The read_plate job builds and writes its well rows without pandas."""

    root = Path(__file__).resolve().parents[1]
    export = root / "resources" / "demo" / "qpcr" / "EXPR01.csv"
    code = (
        "import sys\n"
        "from sortpcr.qpcr.readers import read_plate_records\n"
        + qpcr_settings_source()
        + f"rows = read_plate_records({str(export)!r}, 'EXPR01', 'icycler', settings)\n"
        "assert rows and rows[0]['plate'] == 'EXPR01'\n"
        "print('pandas' in sys.modules)\n"
    )
    assert fresh_python(code) == "False"


# ------------------------------------------------- two samples under one name (issue 13)

DEMO_QPCR = Path(__file__).resolve().parents[1] / "resources" / "demo" / "qpcr"


def test_demo_export_with_two_samples_under_one_name_stops_the_plate(tmp_path):
    # the reproduction: `sed 's/_P02pos,/_P01pos,/'` on a copy of EXPR01.csv
    text = (DEMO_QPCR / "EXPR01.csv").read_text().replace("_P02pos,", "_P01pos,")
    path = write(tmp_path, "EXPR01.csv", text)
    with pytest.raises(QPCRFormatError) as err:
        read_plate(path, "EXPR01", None, SETTINGS)
    message = str(err.value)
    assert message.startswith(f"{path}: wells D05, D06, F01, F02: ")
    assert "sample 'P01pos' (target BCL2) is in 2 replicate groups of the export" in message
    assert "Replicate # 21 (wells D05, D06) and Replicate # 31 (wells F01, F02)" in message
    assert "two samples under one name?" in message
    # the untouched export reads
    assert len(read_plate(DEMO_QPCR / "EXPR01.csv", "EXPR01", None, SETTINGS)) == 85


def test_plate_map_that_names_the_wells_apart_resolves_the_collision(tmp_path):
    text = (DEMO_QPCR / "EXPR01.csv").read_text().replace("_P02pos,", "_P01pos,")
    path = write(tmp_path, "EXPR01.csv", text)
    wells = ["F01", "F02", "F03", "F04", "F05", "F06", "F07", "F08", "F09", "F10"]
    layout = write(tmp_path, "map.tsv", "well\tsample\n" + "".join(f"{w}\tP02pos\n" for w in wells))
    t = read_plate(path, "EXPR01", None, SETTINGS, layout=layout)
    assert set(t.loc[t["well"].isin(wells), "sample"]) == {"P02pos"}


CFX_HEADER = ",Well,Fluor,Target,Content,Sample,Biological Set Name,Cq,Starting Quantity (SQ)\n"


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        # CFX Content numbers are the replicate groups
        ([("A01", "Unkn-01", "S1", ""), ("A02", "Unkn-01", "S1", ""),
          ("A03", "Unkn-02", "S1", ""), ("A04", "Unkn-02", "S1", ""),
          ("A05", "Unkn-03", "S2", ""), ("A06", "Unkn-03", "S2", "")],
         "Content Unkn-01 (wells A01, A02) and Content Unkn-02 (wells A03, A04)"),
        # two biological sets under one sample name
        ([("A01", "Unkn", "S1", "liver"), ("A02", "Unkn", "S1", "liver"),
          ("A03", "Unkn", "S1", "blood"), ("A04", "Unkn", "S1", "blood")],
         "Biological Set Name liver (wells A01, A02) and Biological Set Name blood"),
    ],
)  # fmt: skip
def test_cfx_sample_in_two_replicate_groups_stops_the_plate(rows, words, tmp_path):
    text = CFX_HEADER + "".join(
        f",{w},SYBR,GUS,{content},{sample},{bset},22.{i},\n"
        for i, (w, content, sample, bset) in enumerate(rows)
    )
    path = write(tmp_path, "cfx.csv", text)
    with pytest.raises(QPCRFormatError, match="sample 'S1' \\(target GUS\\) is in 2 replicate"):
        read_plate(path, "P", "cfx", SETTINGS)
    with pytest.raises(QPCRFormatError) as err:
        read_plate(path, "P", "cfx", SETTINGS)
    assert words in str(err.value)


def test_cfx_unnumbered_and_numbered_wells_of_one_sample_are_not_a_collision():
    # the real early CFX export has 12 'Unkn' and 3 'Unkn-1' wells of sample 'small':
    # wells without a group number state no group
    t = read_plate(shared("biorad_cfxmanager_early_std_tab.txt"), "C", None, SETTINGS)
    assert (t["sample"] == "small").sum() == 15


def test_generic_sample_with_more_wells_than_the_replicate_count_stops_the_plate(tmp_path):
    rows = [("A01", "S1"), ("A02", "S1"), ("A03", "S2"), ("A04", "S2"),
            ("A05", "S3"), ("A06", "S3"), ("A07", "S3"), ("A08", "S3")]  # fmt: skip
    text = "well,target,sample,role,ct\n" + "".join(
        f"{w},GUS,{s},unknown,2{i}.0\n" for i, (w, s) in enumerate(rows)
    )
    path = write(tmp_path, "generic.csv", text)
    with pytest.raises(QPCRFormatError) as err:
        read_plate(path, "P", "generic", SETTINGS)
    assert str(err.value) == (
        f"{path}: wells A05, A06, A07, A08: sample 'S3' has 4 wells for target GUS (wells "
        "A05, A06, A07, A08) where the plate's samples have 2 (its replicate count for GUS): "
        "two samples under one name? Correct the sample names in the instrument software and "
        "re-export, or give the plate a layout naming each well's sample"
    )
    # three wells beside pairs: a triplicate on a plate of duplicates is refused too, while
    # a plate whose samples all have four wells reads
    even = "well,target,sample,role,ct\n" + "".join(
        f"{w},GUS,S{i // 4},unknown,2{i}.0\n" for i, (w, _) in enumerate(rows)
    )
    assert len(read_plate(write(tmp_path, "even.csv", even), "P", "generic", SETTINGS)) == 8


def test_rdml_sample_in_more_reacts_than_the_replicate_count_stops_the_plate(tmp_path):
    from tests.fuzzkit import rdml_document, rdml_zip

    samples = "".join(f'<sample id="{s}"><type>unkn</type></sample>' for s in ("S1", "S2", "S3"))
    placed = ["S1", "S1", "S2", "S2", "S3", "S3", "S1", "S1"]
    reacts = "".join(
        f'<react id="{i}"><sample id="{s}"/><data><tar id="GUS"/><cq>2{i}.5</cq></data></react>'
        for i, s in enumerate(placed, start=1)
    )
    path = tmp_path / "run.rdml"
    path.write_bytes(rdml_zip({"run.xml": rdml_document(reacts, samples)}))
    with pytest.raises(QPCRFormatError, match="sample 'S1' has 4 wells for target GUS"):
        read_plate(path, "P", "rdml", SETTINGS)


# --------------------------------------------------- readers as real exports show them


CFX_NO_TARGET = (
    "Well,Fluor,Content,Sample,C(t)\n"
    "A01,FAM,Std-01,,22.10\n"
    "A02,FAM,Std-02,,25.45\n"
    "A03,FAM,Unkn-03,P01pos,27.30\n"
    "A04,FAM,Unkn-03,P01pos,27.41\n"
    "A05,FAM,NTC,,N/A\n"
)


def test_plate_map_supplies_the_target_column_a_cfx_export_lacks(tmp_path):
    export = write(tmp_path, "cfx.csv", CFX_NO_TARGET)
    with pytest.raises(QPCRFormatError, match="missing column\\(s\\) 'Target' in the header"):
        read_plate(export, "P", None, SETTINGS)  # no plate map: the old message
    layout = write(
        tmp_path,
        "map.tsv",
        "well\ttarget\tquantity\nA01\tGUS\t1\nA02\tGUS\t0.1\nA03\tBCL-2\t\nA04\tBCL-2\t\n"
        "A05\tGUS\t\n",
    )
    t = read_plate(export, "P", None, SETTINGS, layout=layout)
    assert list(t["target"]) == ["GUS", "GUS", "BCL2", "BCL2", "GUS"]
    assert list(t["role"]) == ["standard", "standard", "unknown", "unknown", "ntc"]
    assert list(t["quantity"][:2]) == [1.0, 0.1]
    assert t["ct"].iloc[2] == pytest.approx(27.30)
    assert list(t["replicate_group"][:4]) == ["GUS|std|1", "GUS|std|0.1", "BCL2|P01pos"] * 1 + [
        "BCL2|P01pos"
    ]


def test_plate_map_that_misses_a_well_of_the_absent_column_names_it(tmp_path):
    export = write(tmp_path, "cfx.csv", CFX_NO_TARGET)
    layout = write(tmp_path, "map.tsv", "well\ttarget\tquantity\nA01\tGUS\t1\nA02\tGUS\t0.1\n")
    with pytest.raises(QPCRFormatError) as err:
        read_plate(export, "P", None, SETTINGS, layout=layout)
    assert "line 4, well A03: the unknown well has no target or no sample" in str(err.value)
    assert "the export has no 'Target' column and the plate map gives none" in str(err.value)


def rdml_plate(tmp_path, samples: str, reacts: str, name: str = "run.rdml") -> Path:
    from tests.fuzzkit import rdml_document, rdml_zip

    path = tmp_path / name
    path.write_bytes(rdml_zip({"run.xml": rdml_document(reacts, samples)}))
    return path


RDML_COPY_STANDARDS = (
    "".join(
        f'<sample id="STD{q}"><type>std</type><quantity><value>{q}</value><unit>cop</unit>'
        "</quantity></sample>"
        for q in (100000, 10000, 1000)
    )
    + '<sample id="P01pos"><type>unkn</type></sample>'
)
RDML_REACTS = "".join(
    f'<react id="{i}"><sample id="{s}"/><data><tar id="GUS"/><cq>{ct}</cq></data></react>'
    for i, (s, ct) in enumerate(
        [("STD100000", 20.1), ("STD10000", 23.5), ("STD1000", 26.9), ("P01pos", 24.0)], start=1
    )
)


def test_rdml_copy_unit_makes_the_plate_copies(tmp_path):
    path = rdml_plate(tmp_path, RDML_COPY_STANDARDS, RDML_REACTS)
    t = read_plate(path, "P", "rdml", SETTINGS)  # GUS alone: would be `relative`
    assert set(t["unit"]) == {"copies"}
    assert read_plate(path, "P", "rdml", SETTINGS, unit="copies")["unit"].iloc[0] == "copies"
    with pytest.raises(QPCRFormatError) as err:
        read_plate(path, "P", "rdml", SETTINGS, unit="relative")
    assert str(err.value) == (
        f"{path}: experiment 'exp', run 'run', react 1: plates.tsv gives this plate the unit "
        "'relative', but its standards' <quantity><unit> is 'cop' (copies); correct one of them"
    )


def test_rdml_standard_without_quantity_names_the_rdml_element(tmp_path):
    samples = '<sample id="STD-A"><type>std</type></sample>'
    reacts = '<react id="1"><sample id="STD-A"/><data><tar id="GUS"/><cq>20</cq></data></react>'
    path = rdml_plate(tmp_path, samples, reacts)
    with pytest.raises(QPCRFormatError) as err:
        read_plate(path, "P", "rdml", SETTINGS)
    message = str(err.value)
    assert message == (
        f"{path}: experiment 'exp', run 'run', react 1: standard <sample id='STD-A'> has no "
        "positive <quantity><value> for target 'GUS' (nor does the react's <data><quantity>); "
        "give it in the RDML file or in the plate layout's 'quantity' column"
    )
    assert "Starting Quantity (SQ)" not in message


# --------------------------------------- the dialect contract (issue 15): one file per format


def _toy_read(path: Path, settings, supplied) -> list:
    """A made-up instrument: ``TOY`` then ``well target sample role ct [quantity]`` lines."""
    from sortpcr.qpcr.readers.contract import at_line

    out = []
    for line, text in enumerate(path.read_text().splitlines()[1:], start=2):
        well_, target, sample, role, ct, *quantity = text.split()
        out.append(
            {
                "well": normalise_well(well_),
                "target": target,
                "sample": "" if sample == "-" else sample,
                "role": role,
                "ct": float(ct),
                "quantity": float(quantity[0]) if quantity else math.nan,
                "fluor": "",
                "_matched": True,
                **at_line(line, normalise_well(well_)),
            }
        )
    return out


def _toy(**changes) -> Dialect:
    fields = {
        "name": "toy",
        "read": _toy_read,
        "duplicate_key": "target",
        "sniff_file": lambda zipped, text: text.startswith("TOY\n"),
        "missing_quantity": lambda rec: ("toy standard lacks its dilution", rec["_where"]),
    }
    return Dialect(**{**fields, **changes})


def test_a_new_dialect_is_one_registry_record(tmp_path, monkeypatch):
    """A dialect added to the registry alone is detected, read and checked by the shared
    steps: aliases, ct_max, replicate groups, the unit, its own duplicate key and message."""
    monkeypatch.setitem(DIALECTS, "toy", _toy())
    path = write(tmp_path, "run.toy", "TOY\nA1 GUSB P01 unknown 24.5\nB2 GUS - standard 20 1e3\n")
    assert detect_format(path) == "toy"
    rows = read_plate_records(path, "T1", None, replace(SETTINGS, ct_max=22.0))
    assert [(r["well"], r["target"], r["role"], r["replicate_group"]) for r in rows] == [
        ("A01", "GUS", "unknown", "GUS|P01"),
        ("B02", "GUS", "standard", "GUS|std|1000"),
    ]
    assert math.isnan(rows[0]["ct"]) and rows[1]["ct"] == 20.0  # 24.5 >= ct_max 22
    assert rows[0]["unit"] == "relative" and math.isnan(rows[0]["quantity"])

    twice = write(tmp_path, "dup.toy", "TOY\nA1 GUS P01 unknown 24\nA01 GUS P02 unknown 25\n")
    with pytest.raises(QPCRFormatError) as err:
        read_plate_records(twice, "T1", None, SETTINGS)
    assert str(err.value) == f"{twice}: line 3: duplicate well A01 (GUS): also at line 2"
    # one row per well and fluor instead: the same file is then a duplicate ("" fluor)
    monkeypatch.setitem(DIALECTS, "toy", _toy(duplicate_key="fluor"))
    with pytest.raises(QPCRFormatError, match=r"line 3: duplicate well A01: also at line 2"):
        read_plate_records(twice, "T1", "toy", SETTINGS)

    bare = write(tmp_path, "std.toy", "TOY\nC3 GUS - standard 20\n")
    with pytest.raises(QPCRFormatError) as err:
        read_plate_records(bare, "T1", "toy", SETTINGS)
    assert str(err.value) == f"{bare}: line 2, well C03: toy standard lacks its dilution"


def test_shared_post_read_steps_name_no_format():
    """plate.py, checks.py and layout.py ask the dialect record: no format name in them."""
    import ast

    folder = Path(__file__).resolve().parents[1] / "sortpcr" / "qpcr" / "readers"
    for name in ("plate.py", "checks.py", "layout.py"):
        tree = ast.parse((folder / name).read_text())
        strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
        assert not strings & set(FORMATS), name
