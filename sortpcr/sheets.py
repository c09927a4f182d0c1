"""Load the configuration and the three sample sheets, and cross-check them.

Every problem is collected before anything is reported, so that a person fixing a
hand-edited sheet sees all of them at once (``snakemake.utils.validate`` stops at the
first one). Each problem names the file, the line (header = line 1), the column and
what is wrong. The JSON schemas in ``config/schemas/`` are the same ones the Snakefile
hands to ``snakemake.utils.validate``; here they are applied with ``jsonschema`` so
that every error of every row is listed.

Sheets (tab-separated, one header line):

* ``samples.tsv`` — one row per patient: ``patient, lineage, age, status, fusion,
  markers, presort_fcs`` and optional ``gating`` and ``compensation`` (empty or ``file``:
  the FCS files' own matrix; ``none``; or a spillover matrix file).
* ``units.tsv`` — one row per sorted fraction and plate: ``patient, fraction,
  sorted_fcs, plate, qpcr_sample``.
* ``plates.tsv`` — one row per qPCR run: ``plate, path, format`` and optional
  ``layout``, ``unit``.

Paths inside a sheet are relative to the sheet's folder unless absolute; the loaded
tables carry both the path as written (``*_label`` columns, the only form that may
appear in results) and the resolved path.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sortpcr.errors import SheetError

if TYPE_CHECKING:
    import pandas as pd

FRACTIONS = ("CD34pos", "CD34neg")

#: the schemas' pattern for IDs (patient, plate): they become file names
ID_PATTERN = "^[A-Za-z0-9_-]+$"

#: what every message about a sheet that cannot be read as a whole ends with
SAVE_AS = "save as UTF-8 (tab-separated)"

#: column -> whether it is required, per sheet (order = the documented order)
COLUMNS: dict[str, dict[str, bool]] = {
    "samples": {
        "patient": True,
        "lineage": True,
        "age": True,
        "status": True,
        "fusion": True,
        "markers": True,
        "presort_fcs": True,
        "gating": False,
        "compensation": False,
    },
    "units": {
        "patient": True,
        "fraction": True,
        "sorted_fcs": True,
        "plate": True,
        "qpcr_sample": True,
        "cdna": False,
    },
    "plates": {"plate": True, "path": True, "format": False, "layout": False, "unit": False},
}

#: path columns per sheet (resolved relative to the sheet's folder)
PATH_COLUMNS = {
    "samples": ("presort_fcs", "gating"),
    "units": ("sorted_fcs",),
    "plates": ("path", "layout"),
}


@dataclass(frozen=True)
class Sheets:
    """The validated sheets. Path columns hold resolved paths; ``<col>_label`` the path
    as written in the sheet."""

    samples: pd.DataFrame
    units: pd.DataFrame
    plates: pd.DataFrame

    @property
    def patients(self) -> list[str]:
        """Patient IDs in sheet order."""
        return list(self.samples["patient"])

    # Row lookups by ID, built once: the DAG asks for them several times per job, and a
    # boolean filter per call made planning quadratic in the number of patients.
    @cached_property
    def _samples_by_patient(self) -> dict[str, dict[str, Any]]:
        return {row["patient"]: row for row in self.samples.to_dict("records")}

    @cached_property
    def _units_by_patient(self) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in self.units.to_dict("records"):
            grouped.setdefault(row["patient"], []).append(row)
        return grouped

    @cached_property
    def _plates_by_id(self) -> dict[str, dict[str, Any]]:
        return {row["plate"]: row for row in self.plates.to_dict("records")}

    def sample(self, patient: str) -> dict[str, Any]:
        """The samples row of one patient."""
        return self._samples_by_patient[patient]

    def patient_units(self, patient: str) -> list[dict[str, Any]]:
        """The units rows of one patient, in sheet order."""
        return self._units_by_patient.get(patient, [])

    def plate(self, plate: str) -> dict[str, Any]:
        """The plates row of one plate."""
        return self._plates_by_id[plate]

    def sorted_fcs(self, patient: str, fraction: str) -> str:
        """Resolved path of the post-sort file of one fraction."""
        return next(
            str(row["sorted_fcs"])
            for row in self.patient_units(patient)
            if row["fraction"] == fraction
        )

    def plates_of(self, patient: str) -> list[str]:
        """Plates on which a patient's fractions were measured (sorted)."""
        return sorted({row["plate"] for row in self.patient_units(patient)})


def schema_dir() -> Path:
    """Folder of the JSON schemas shipped with the workflow."""
    return Path(__file__).resolve().parent.parent / "config" / "schemas"


def load_schema(name: str) -> dict[str, Any]:
    """Load ``config/schemas/<name>.schema.yaml``."""
    import yaml

    with open(schema_dir() / f"{name}.schema.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _validator(schema: dict[str, Any]) -> Any:
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def _error_text(error: Any) -> str:
    """One line for a jsonschema error: which field, what is wrong."""
    field = ".".join(str(p) for p in error.absolute_path)
    value = error.instance
    if error.validator == "required":
        what = error.message.replace("is a required property", "is required")
    elif error.validator == "enum":
        what = f"{value!r} is not one of {', '.join(map(str, error.validator_value))}"
    elif error.validator == "pattern":
        what = f"{value!r} does not match {error.validator_value}"
        if error.validator_value == ID_PATTERN:
            what += " (IDs: letters, digits, - and _)"
        elif isinstance(error.schema, dict) and error.schema.get("description"):
            what += f" ({error.schema['description']})"
    elif error.validator == "minLength":
        what = "must not be empty"
    else:
        what = error.message
    return f"{field}: {what}" if field else what


def check_config(config: dict[str, Any], source: str = "config") -> list[str]:
    """Every schema problem of the configuration (empty list = valid)."""
    validator = _validator(load_schema("config"))
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{source}: {_error_text(e)}" for e in errors]


def _decode_sheet(path: Path, raw: bytes, problems: list[str]) -> str | None:
    """The sheet's text (UTF-8, with or without BOM); else a problem naming the line and
    column of the first byte that is not UTF-8, and what to do."""
    unreadable = f"{path}: not a readable tab-separated sheet"
    if not raw.strip():
        problems.append(f"{unreadable}: the file is empty")
        return None
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or raw[:200].count(b"\x00") > 10:
        problems.append(f"{unreadable}: it is UTF-16 text; {SAVE_AS}")
        return None
    if raw[:4] == b"PK\x03\x04":
        problems.append(f"{unreadable}: it is a zip archive (an Excel workbook?); {SAVE_AS}")
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        start = raw.rfind(b"\n", 0, error.start) + 1
        line = raw.count(b"\n", 0, error.start) + 1
        field = raw.count(b"\t", start, error.start)
        header = raw.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").rstrip("\r")
        names = header.split("\t")
        column = f", column {names[field].strip()}" if line > 1 and field < len(names) else ""
        byte = raw[error.start : error.start + 1]
        guess = byte.decode("cp1252", errors="replace")
        problems.append(
            f"{path}, line {line}{column}: byte 0x{byte.hex().upper()} is not UTF-8 (Latin-1 or "
            f"Windows-1252 text, where it is {guess!r}?); {SAVE_AS}"
        )
        return None


def _sheet_rows(
    path: Path, text: str, problems: list[str]
) -> tuple[list[str], list[list[str]], list[int]] | None:
    """Header, data rows and the file line each row starts on (blank lines, rows of only
    tabs as Excel writes for an empty row, and quoted cells holding newlines counted)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    previous = 0
    try:
        for fields in reader:
            start, previous = previous + 1, reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if header is None:
                header = fields
                continue
            rows.append(fields)
            lines.append(start)
    except csv.Error as error:
        problems.append(
            f"{path}, line {reader.line_num}: not a readable tab-separated sheet ({error})"
        )
        return None
    if header is None:
        problems.append(f"{path}: not a readable tab-separated sheet: no header line")
        return None
    if len(header) == 1:
        for name, sep in (("comma", ","), ("semicolon", ";")):
            if header[0].count(sep) >= 2:
                problems.append(f"{path}, line 1: the separator is a {name}, not a tab; {SAVE_AS}")
                return None
    width = len(header)
    too_wide = False
    for fields, line in zip(rows, lines, strict=True):
        if any(f.strip() for f in fields[width:]):
            too_wide = True
            problems.append(
                f"{path}, line {line}: {len(fields)} fields but the header has {width} "
                "(a tab inside a cell?)"
            )
        del fields[width:]
        fields += [""] * (width - len(fields))
    if too_wide:
        return None
    return header, rows, lines


def read_sheet(path: str | Path, kind: str, problems: list[str]) -> pd.DataFrame | None:
    """Read one sheet as strings; collect column and schema problems into ``problems``.

    The table's index is the file line of each row less 2 (so ``index + 2`` is the real
    line, after blank lines and quoted newlines too)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        problems.append(f"{path}: {kind} sheet not found")
        return None
    try:
        raw = path.read_bytes()
    except OSError as error:
        problems.append(f"{path}: cannot be read ({error.strerror})")
        return None
    text = _decode_sheet(path, raw, problems)
    if text is None:
        return None
    parsed = _sheet_rows(path, text, problems)
    if parsed is None:
        return None
    header, rows, lines = parsed
    table = pd.DataFrame(rows, columns=header, index=[line - 2 for line in lines], dtype=str)
    table.columns = [str(c).strip() for c in table.columns]
    table = table.apply(lambda col: col.str.strip())
    expected = COLUMNS[kind]
    missing = [c for c, required in expected.items() if required and c not in table.columns]
    unknown = [c for c in table.columns if c not in expected]
    if missing:
        problems.append(f"{path}, line 1: missing column(s) {', '.join(missing)}")
    if unknown:
        problems.append(
            f"{path}, line 1: unknown column(s) {', '.join(unknown)} "
            f"(allowed: {', '.join(expected)})"
        )
    if table.columns.duplicated().any():
        problems.append(f"{path}, line 1: duplicated column names")
    for column, required in expected.items():
        if not required and column not in table.columns:
            table[column] = ""
    validator = _validator(load_schema(kind))
    for index, row in zip(table.index, table.to_dict("records"), strict=True):
        record = {k: v for k, v in row.items() if k in expected and (v != "" or k in missing)}
        record = {k: v for k, v in record.items() if not (v == "" and not expected[k])}
        for error in sorted(validator.iter_errors(record), key=lambda e: str(e.absolute_path)):
            if error.validator == "required" and any(m in error.message for m in missing):
                continue  # already reported once for the whole sheet
            problems.append(f"{path}, line {index + 2}: {_error_text(error)}")
    return table


def _resolve(sheet: Path, value: str) -> str:
    """A sheet path resolved against the sheet's folder (absolute paths kept)."""
    if not value or os.path.isabs(value):
        return value
    return os.path.normpath(os.path.join(sheet.parent, value))


def _resolve_paths(table: pd.DataFrame, kind: str, sheet: Path, problems: list[str]) -> None:
    for column in PATH_COLUMNS[kind]:
        if column not in table.columns:
            continue
        table[f"{column}_label"] = table[column]
        table[column] = [_resolve(sheet, v) for v in table[column]]
        for index, label, resolved in zip(
            table.index, table[f"{column}_label"], table[column], strict=True
        ):
            if label and not os.path.isfile(resolved):
                problems.append(
                    f"{sheet}, line {index + 2}, column {column}: file {label!r} not found "
                    f"(looked for {resolved})"
                )


def _resolve_compensation(table: pd.DataFrame, sheet: Path, problems: list[str]) -> None:
    """samples.tsv ``compensation``: empty or ``file`` (the FCS file's own matrix), ``none``
    (no compensation), or a spillover matrix file (resolved like the other paths, and read
    now so that a bad matrix is listed with the other problems)."""
    from sortpcr.errors import FCSError
    from sortpcr.fcs import COMPENSATION_CHOICES, read_spillover_table

    if "compensation" not in table.columns:
        return
    table["compensation_label"] = table["compensation"]
    resolved = []
    for index, label in zip(table.index, table["compensation"], strict=True):
        if label.lower() in COMPENSATION_CHOICES:
            resolved.append(label.lower())
            continue
        path = _resolve(sheet, label)
        resolved.append(path)
        where = f"{sheet}, line {index + 2}, column compensation"
        if not os.path.isfile(path):
            problems.append(
                f"{where}: {label!r} is neither 'none', 'file' nor an existing spillover "
                f"matrix file (looked for {path})"
            )
            continue
        try:
            read_spillover_table(path)
        except FCSError as error:
            problems.append(f"{where}: {error}")
    table["compensation"] = resolved


def _duplicates(table: pd.DataFrame, keys: list[str], sheet: Path, what: str) -> list[str]:
    if not set(keys) <= set(table.columns):
        return []
    dup = table[table.duplicated(keys, keep=False)]
    out = []
    for key, rows in dup.groupby(keys, sort=True):
        lines = ", ".join(str(i + 2) for i in rows.index)
        label = key if isinstance(key, str) else "/".join(map(str, key))
        out.append(f"{sheet}, lines {lines}: duplicate {what} {label!r}")
    return out


def cross_check(
    samples: pd.DataFrame | None,
    units: pd.DataFrame | None,
    plates: pd.DataFrame | None,
    paths: dict[str, Path],
) -> list[str]:
    """Problems between sheets: unique IDs, known patients and plates, both fractions."""
    problems: list[str] = []
    if samples is not None:
        problems += _duplicates(samples, ["patient"], paths["samples"], "patient")
    if plates is not None:
        problems += _duplicates(plates, ["plate"], paths["plates"], "plate")
    if units is None:
        return problems
    problems += _duplicates(units, ["patient", "fraction", "plate"], paths["units"], "unit")
    problems += _duplicates(units, ["plate", "qpcr_sample"], paths["units"], "plate/qpcr_sample")
    needed = {"patient", "fraction", "plate", "sorted_fcs"}
    if not needed <= set(units.columns):
        return problems
    # a sheet without its ID column is already reported (missing column)
    known_patients = None
    if samples is not None and "patient" in samples.columns:
        known_patients = set(samples["patient"])
    known_plates = None
    if plates is not None and "plate" in plates.columns:
        known_plates = set(plates["plate"])
    for index, row in units.iterrows():
        where = f"{paths['units']}, line {index + 2}"
        if known_patients is not None and row["patient"] not in known_patients:
            problems.append(f"{where}, column patient: {row['patient']!r} is not in samples.tsv")
        if known_plates is not None and row["plate"] not in known_plates:
            problems.append(f"{where}, column plate: {row['plate']!r} is not in plates.tsv")
    for (patient, fraction), rows in units.groupby(["patient", "fraction"], sort=True):
        if rows["sorted_fcs"].nunique() > 1:
            lines = ", ".join(str(i + 2) for i in rows.index)
            problems.append(
                f"{paths['units']}, lines {lines}: {patient} {fraction} names several "
                "sorted_fcs files (one post-sort file per fraction)"
            )
    if samples is not None and "patient" in samples.columns:
        for index, patient in samples["patient"].items():
            present = set(units.loc[units["patient"] == patient, "fraction"])
            absent = [f for f in FRACTIONS if f not in present]
            if absent:
                problems.append(
                    f"{paths['samples']}, line {index + 2}: patient {patient!r} has no "
                    f"{' and no '.join(absent)} row in units.tsv (both fractions are needed)"
                )
    return problems


def load(config: dict[str, Any], base: str | Path = ".") -> Sheets:
    """Validate the configuration and the three sheets; raise :class:`SheetError` listing
    every problem, or return the loaded sheets with resolved paths.

    ``base`` is the folder the config's sheet paths are relative to (the working directory
    Snakemake runs in).
    """
    problems = check_config(config)
    base = Path(base)
    paths = {kind: base / str(config.get(kind, "")) for kind in ("samples", "units", "plates")}
    tables: dict[str, pd.DataFrame | None] = {}
    for kind, path in paths.items():
        if not config.get(kind):
            tables[kind] = None
            continue
        table = read_sheet(path, kind, problems)
        if table is not None:
            _resolve_paths(table, kind, path, problems)
            if kind == "samples":
                _resolve_compensation(table, path, problems)
        tables[kind] = table
    problems += cross_check(tables["samples"], tables["units"], tables["plates"], paths)
    strategy = config.get("gating", {}).get("strategy")
    if strategy and not (base / strategy).is_file():
        problems.append(f"config: gating.strategy: file {strategy!r} not found")
    if problems:
        raise SheetError(problems)
    return Sheets(samples=tables["samples"], units=tables["units"], plates=tables["plates"])
