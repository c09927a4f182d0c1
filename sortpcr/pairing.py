"""Pair a patient's sorted fractions with their qPCR quantities and flow verdicts.

One row per sorted fraction x plate x target: the quantity row of the fraction's
``qpcr_sample`` on that plate (quantities in the plate's unit: IM-9 relative units on an
expression plate, copies on a fusion plate), joined to the fraction's purity verdict and the
pre-sort CD34 heterogeneity verdict from the flow step. Nothing is computed here; the point
is that every later number can be traced to a plate, a sample name and a gate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

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
]

SORTED_FRACTIONS: tuple[str, ...] = ("CD34pos", "CD34neg")


def _as_frame(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    return rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))


def _text(value: Any) -> str:
    """A cell as text; missing -> empty string."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _flow_verdicts(patient: str, flow: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """fraction -> {status, reason, purity, pct_cd34pos}; missing rows -> not_evaluable."""
    out: dict[str, dict[str, Any]] = {}
    rows = flow[flow["patient"].astype(str) == patient] if len(flow) else flow
    for fraction in ("presort", *SORTED_FRACTIONS):
        match = rows[rows["fraction"] == fraction] if len(rows) else rows
        if len(match) == 0:
            out[fraction] = {
                "status": "not_evaluable",
                "reason": f"no flow result for {patient} {fraction}",
                "purity": np.nan,
                "pct_cd34pos": np.nan,
            }
            continue
        row = match.iloc[0]
        out[fraction] = {
            "status": _text(row.get("status")) or "not_evaluable",
            "reason": _text(row.get("reason")),
            "purity": row.get("purity", np.nan),
            "pct_cd34pos": row.get("pct_cd34pos", np.nan),
        }
    return out


def _curve_ranges(curves: Mapping[str, pd.DataFrame] | None) -> dict[tuple[str, str], tuple]:
    """(plate, target) -> (range_low, range_high) of the fitted standards."""
    out: dict[tuple[str, str], tuple] = {}
    for plate, table in (curves or {}).items():
        for _, row in table.iterrows():
            out[(str(plate), str(row["target"]))] = (
                row.get("range_low", np.nan),
                row.get("range_high", np.nan),
            )
    return out


def pair_patient(
    patient: str,
    units: pd.DataFrame | Iterable[Mapping[str, Any]],
    quantities: Mapping[str, pd.DataFrame],
    flow: pd.DataFrame | Iterable[Mapping[str, Any]],
    curves: Mapping[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Pair one patient's sorted fractions with their quantities and flow verdicts.

    Parameters
    ----------
    patient:
        Patient ID from the sample sheet.
    units:
        Rows of ``config/units.tsv`` (``patient, fraction, sorted_fcs, plate, qpcr_sample``);
        other patients' rows are ignored. A fraction may have several rows (one per plate).
    quantities:
        plate ID -> that plate's ``quantities.tsv`` (quantity in the plate's unit: IM-9
        relative units or copies).
    flow:
        Flow rows (``results/flow/{patient}.tsv`` or the cohort ``flow.tsv``).
    curves:
        Optional plate ID -> ``curves.tsv``; gives each target's standards range
        (``range_low``/``range_high``, same unit as the quantity), used downstream as the
        detection limit of an undetected target.

    Returns
    -------
    One row per fraction x plate x target with :data:`PAIR_COLUMNS`. A unit whose
    ``qpcr_sample`` is absent from its plate gives rows (one per target on that plate) with
    status ``not_evaluable`` and a reason naming the sample and the plate.
    """
    unit_rows = _as_frame(units)
    unit_rows = unit_rows[unit_rows["patient"].astype(str) == patient]
    verdicts = _flow_verdicts(patient, _as_frame(flow))
    ranges = _curve_ranges(curves)
    records: list[dict[str, Any]] = []
    for _, unit in unit_rows.iterrows():
        fraction = str(unit["fraction"])
        plate = str(unit["plate"])
        sample = str(unit["qpcr_sample"])
        table = quantities.get(plate)
        base = {"patient": patient, "fraction": fraction, "plate": plate, "sample": sample}
        if table is None or len(table) == 0:
            matched = pd.DataFrame()
            missing = f"plate {plate} has no quantities for any sample (unit {fraction})"
        else:
            matched = table[table["sample"].astype(str) == sample]
            missing = (
                f"sample {sample!r} ({patient} {fraction}) is not on plate {plate}; "
                f"samples there: {', '.join(sorted(table['sample'].astype(str).unique()))}"
            )
        if len(matched) == 0:
            targets = sorted(table["target"].astype(str).unique()) if table is not None else []
            plate_units = (
                sorted(table["unit"].dropna().astype(str).unique()) if table is not None else []
            )
            for target in targets or [""]:
                record = dict(base, target=target)
                record.update({c: np.nan for c in _QUANTITY_COLUMNS})
                record.update(
                    unit=plate_units[0] if len(plate_units) == 1 else "",
                    n_wells=0,
                    n_used=0,
                    status="not_evaluable",
                    flags="",
                    reason=missing,
                )
                records.append(record)
        else:
            for _, q in matched.iterrows():
                record = dict(base, target=str(q["target"]))
                for column in _QUANTITY_COLUMNS:
                    record[column] = q.get(column, np.nan)
                record["flags"] = _text(record["flags"])
                record["reason"] = _text(record["reason"])
                records.append(record)
    for record in records:
        low, high = ranges.get((record["plate"], record["target"]), (np.nan, np.nan))
        own = verdicts.get(record["fraction"]) or {
            "status": "not_evaluable",
            "reason": f"unknown fraction {record['fraction']!r}",
            "purity": np.nan,
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
    result = pd.DataFrame.from_records(records, columns=PAIR_COLUMNS)
    return result.sort_values(["fraction", "plate", "target"], kind="mergesort").reset_index(
        drop=True
    )
