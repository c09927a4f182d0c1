"""Pair a patient's sorted fractions with their qPCR quantities and flow verdicts.

One row per sorted fraction x plate x target: the quantity row of the fraction's
``qpcr_sample`` on that plate (quantities in the plate's unit: IM-9 relative units on an
expression plate, copies on a fusion plate), joined to the fraction's purity verdict and the
pre-sort CD34 heterogeneity verdict from the flow step. Nothing is computed here; the point
is that every later number can be traced to a plate, a sample name and a gate.

Tables are lists of dict rows ("records", as :func:`sortpcr.io.read_records` gives them); a
pandas DataFrame is accepted too. The per-patient steps (pair, normalise, classify) import
neither pandas nor numpy: their own cost is small next to pandas' import time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sortpcr.io import Rows, as_records, cell_text, is_missing
from sortpcr.qpcr.quantify import QUANTITY_COLUMNS

#: the per-sample columns of quantities.tsv carried into each pair row
_QUANTITY_COLUMNS = [c for c in QUANTITY_COLUMNS if c not in ("plate", "target", "sample")]

#: Columns of the pairs table, in order.
PAIR_COLUMNS: list[str] = [
    "patient",
    "fraction",
    "plate",
    "sample",
    "target",
    *_QUANTITY_COLUMNS,
    "range_low",
    "range_high",
    "flow_status",
    "flow_reason",
    "purity",
    "presort_status",
    "presort_reason",
    "pct_cd34pos",
    "cdna",
]

SORTED_FRACTIONS: tuple[str, ...] = ("CD34pos", "CD34neg")


def _flow_verdicts(patient: str, flow: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """fraction -> {status, reason, purity, pct_cd34pos}; missing rows -> not_evaluable.

    ``purity`` (fraction of events, 0-1) and ``pct_cd34pos`` (%) are carried as read.
    """
    out: dict[str, dict[str, Any]] = {}
    rows = [r for r in flow if str(r.get("patient")) == patient]
    for fraction in ("presort", *SORTED_FRACTIONS):
        match = [r for r in rows if r.get("fraction") == fraction]
        if not match:
            out[fraction] = {
                "status": "not_evaluable",
                "reason": f"no flow result for {patient} {fraction}",
                "purity": math.nan,
                "pct_cd34pos": math.nan,
            }
            continue
        row = match[0]
        out[fraction] = {
            "status": cell_text(row.get("status")) or "not_evaluable",
            "reason": cell_text(row.get("reason")),
            "purity": row.get("purity", math.nan),
            "pct_cd34pos": row.get("pct_cd34pos", math.nan),
        }
    return out


def _curve_ranges(curves: Mapping[str, Rows] | None) -> dict[tuple[str, str], tuple]:
    """(plate, target) -> (range_low, range_high) of the fitted standards (plate's unit)."""
    out: dict[tuple[str, str], tuple] = {}
    for plate, table in (curves or {}).items():
        for row in as_records(table):
            out[(str(plate), str(row["target"]))] = (
                row.get("range_low", math.nan),
                row.get("range_high", math.nan),
            )
    return out


def _missing_rows(
    base: dict[str, Any], table: list[dict[str, Any]] | None, missing: str
) -> list[dict[str, Any]]:
    """Rows for a unit whose sample is absent from its plate: one per target on the plate,
    ``not_evaluable`` with ``missing`` as the reason (one row with no target if none)."""
    table = table or []
    targets = sorted({str(q["target"]) for q in table})
    plate_units = sorted({str(q["unit"]) for q in table if not is_missing(q.get("unit"))})
    rows = []
    for target in targets or [""]:
        record = dict(base, target=target)
        record.update(dict.fromkeys(_QUANTITY_COLUMNS, math.nan))
        record.update(
            unit=plate_units[0] if len(plate_units) == 1 else "",
            n_wells=0,
            n_used=0,
            status="not_evaluable",
            flags="",
            reason=missing,
        )
        rows.append(record)
    return rows


def pair_patient(
    patient: str,
    units: Rows,
    quantities: Mapping[str, Rows],
    flow: Rows,
    curves: Mapping[str, Rows] | None = None,
) -> list[dict[str, Any]]:
    """Pair one patient's sorted fractions with their quantities and flow verdicts.

    Parameters
    ----------
    patient:
        Patient ID from the sample sheet.
    units:
        Rows of ``config/units.tsv`` (``patient, fraction, sorted_fcs, plate, qpcr_sample``,
        optional ``cdna``: the cDNA preparation, for the RT-variation component); other
        patients' rows are ignored. A fraction may have several rows (one per plate).
    quantities:
        plate ID -> that plate's ``quantities.tsv`` rows (quantity in the plate's unit: IM-9
        relative units or copies).
    flow:
        Flow rows (``results/flow/{patient}.tsv`` or the cohort ``flow.tsv``).
    curves:
        Optional plate ID -> ``curves.tsv`` rows; gives each target's standards range
        (``range_low``/``range_high``, same unit as the quantity), used downstream as the
        detection limit of an undetected target.

    Returns
    -------
    Dict rows, one per fraction x plate x target, keys :data:`PAIR_COLUMNS` in that order,
    sorted by fraction, plate, target. A unit whose ``qpcr_sample`` is absent from its plate
    gives rows (one per target on that plate) with status ``not_evaluable`` and a reason
    naming the sample and the plate.
    """
    unit_rows = [u for u in as_records(units) if str(u["patient"]) == patient]
    verdicts = _flow_verdicts(patient, as_records(flow))
    ranges = _curve_ranges(curves)
    tables = {str(plate): as_records(table) for plate, table in quantities.items()}
    records: list[dict[str, Any]] = []
    for unit in unit_rows:
        fraction = str(unit["fraction"])
        plate = str(unit["plate"])
        sample = str(unit["qpcr_sample"])
        table = tables.get(plate)
        base = {"patient": patient, "fraction": fraction, "plate": plate, "sample": sample}
        base["cdna"] = cell_text(unit.get("cdna"))
        if not table:
            records += _missing_rows(
                base, table, f"plate {plate} has no quantities for any sample (unit {fraction})"
            )
            continue
        matched = [q for q in table if str(q["sample"]) == sample]
        if not matched:
            samples = ", ".join(sorted({str(q["sample"]) for q in table}))
            records += _missing_rows(
                base,
                table,
                f"sample {sample!r} ({patient} {fraction}) is not on plate {plate}; "
                f"samples there: {samples}",
            )
            continue
        for q in matched:
            record = dict(base, target=str(q["target"]))
            for column in _QUANTITY_COLUMNS:
                record[column] = q.get(column, math.nan)
            for column in ("flags", "reason", "censor", "log10_budget"):
                record[column] = cell_text(record[column])
            records.append(record)
    for record in records:
        low, high = ranges.get((record["plate"], record["target"]), (math.nan, math.nan))
        own = verdicts.get(record["fraction"]) or {
            "status": "not_evaluable",
            "reason": f"unknown fraction {record['fraction']!r}",
            "purity": math.nan,
        }
        record.update(
            range_low=low,
            range_high=high,
            flow_status=own["status"],
            flow_reason=own["reason"],
            purity=own["purity"],
            presort_status=verdicts["presort"]["status"],
            presort_reason=verdicts["presort"]["reason"],
            pct_cd34pos=verdicts["presort"]["pct_cd34pos"],
        )
    records.sort(key=lambda r: (r["fraction"], r["plate"], r["target"]))
    return [{c: r.get(c) for c in PAIR_COLUMNS} for r in records]
