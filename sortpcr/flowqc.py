"""Flow QC of one patient: pre-sort heterogeneity and post-sort purity verdicts.

One call per patient (:func:`analyse_patient`) reads the pre-sort FCS file and the two
sorted re-analysis files once, gates them with the patient's strategy and returns a
JSON-able dict:

* counts after every gate for every file, the compensation applied, the markers found;
* the pre-sort % CD34+ of gated blasts (the gate of ``gating.fraction_gates["CD34pos"]``
  over the gate ``gating.blast_gate``) and the heterogeneity verdict against
  ``qc.cd34_range`` (fractions, inclusive: 0.10-0.90 passes 10 % and 90 %);
* for each sorted file the purity with three denominators - all events, cells (the
  population the blast gate is drawn in: the scatter gate, or the singlet gate where there
  is one) and gated blasts - the verdict on the declared one (``qc.purity_denominator``,
  default ``blasts``) against ``qc.purity_min`` (pass when purity >= purity_min), and the
  contamination by the other fraction(s) (their gate over gated blasts);
* ``not_evaluable`` for a file with fewer gated blasts than ``gating.min_blast_events``;
* whether a singlet gate exists above the blast gate (CellQuest files have no FSC-A, so
  their strategy has none; its absence is recorded, not hidden).

Units: counts are events; ``pct_cd34pos`` is a percentage (0-100); purities and shares
are fractions (0-1).

Bad input policy:

* a problem with one patient's *file* - missing, truncated or corrupt, not FCS, zero events,
  several data sets, a marker channel that cannot be found, strategy channels the file lacks -
  makes that file's row ``status=fail`` with the reason (the sheet's path string and the
  problem); the rest of the patient and of the cohort go on;
* a problem with the *configuration or strategy* - unreadable or unsafe strategy XML, gate IDs
  named in ``gating.blast_gate``/``gating.fraction_gates`` absent from the strategy (or from
  a FlowJo workspace's sample) - raises :class:`GatingError`/:class:`XMLSecurityError`:
  it would be wrong for every patient, so the run stops with the message.

Privacy: FCS keywords never reach the result; files are named by the sample sheet's path
string (``labels``), never by ``$FIL`` or the resolved path.

Adaptive gates (see :mod:`sortpcr.gating`): the pre-sort file is gated first and its
searches place the gates (blast cluster, CD34 valley or its fallback); the two sorted tubes
are then gated with exactly those coordinates (a sorted tube has no valley to find).
``gating`` in the result records the mode (``adaptive``; ``template`` when the pre-sort file
could not be read, so the sorted tubes got the template's coordinates; ``fixed`` for a
strategy without searches), the file the gates were adapted on and every search's record
(coordinates, template, shift, evidence); the flow table carries the summary columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import FCSError, GatingError, InputError
from .fcs import FCSData, read_fcs, resolve_markers
from .gating import (
    GatingResult,
    Strategy,
    applied_gatingml,
    check_gate_ids,
    evaluate,
    load_strategy,
    require_gates,
)
from .settings import FlowQCSettings

__all__ = [
    "FLOW_COLUMNS",
    "PatientEvents",
    "analyse_patient",
    "analyse_patient_with_events",
    "applied_gates_text",
    "flow_records",
    "flow_rows",
    "gating_summary",
    "heterogeneity_verdict",
    "purity_verdict",
]

FLOW_COLUMNS = [
    "patient",
    "fraction",
    "file",
    "events",
    "cells",
    "blasts",
    "pct_cd34pos",
    "purity",
    "purity_all_events",
    "purity_cells",
    "compensation",
    "status",
    "reason",
    "gating_mode",
    "blast_shift_decades",
    "blast_scale",
    "blast_cluster_events",
    "cd34_cut",
    "cd34_cut_shift_decades",
    "cd34_cut_method",
    "valley_depth",
]


@dataclass
class PatientEvents:
    """What the figure needs, kept from the single read of each file: the strategy as applied
    (adapted coordinates), the template it came from and, per file label (``presort``,
    ``CD34pos``, ``CD34neg``), the FCS data and gating result."""

    patient: str
    strategy: Strategy
    settings: FlowQCSettings
    files: dict[str, tuple[FCSData, GatingResult]] = field(default_factory=dict)
    template: Strategy | None = None


# --------------------------------------------------------------------------- verdicts


def _ratio(num: int | None, den: int | None) -> float | None:
    if num is None or not den:
        return None
    return num / den


def heterogeneity_verdict(
    blasts: int, positive: int, cd34_range: tuple[float, float], min_blasts: int
) -> dict[str, Any]:
    """Pre-sort verdict: share of the positive fraction among gated blasts within range.

    ``blasts`` and ``positive`` are event counts; returns ``share`` (0-1), ``pct_cd34pos``
    (percent), ``status`` (pass|fail|not_evaluable) and ``reason``.
    """
    lo, hi = cd34_range
    if blasts < min_blasts:
        return {
            "share": _ratio(positive, blasts),
            "pct_cd34pos": None if not blasts else 100.0 * positive / blasts,
            "status": "not_evaluable",
            "reason": f"only {blasts} gated blasts (fewer than gating.min_blast_events "
            f"{min_blasts})",
        }
    share = positive / blasts
    pct = 100.0 * share
    if lo <= share <= hi:
        status, reason = "pass", ""
    else:
        status = "fail"
        reason = (
            f"CD34+ {pct:.1f} % of gated blasts is outside the heterogeneity range "
            f"{100 * lo:g}-{100 * hi:g} %"
        )
    return {"share": share, "pct_cd34pos": pct, "status": status, "reason": reason}


def purity_verdict(
    in_gate: int,
    events: int,
    cells: int,
    blasts: int,
    contamination: Mapping[str, int],
    *,
    denominator: str,
    purity_min: float,
    min_blasts: int,
    fraction: str,
) -> dict[str, Any]:
    """Sorted-file verdict: purity = events in the fraction's gate / declared denominator.

    Counts are events; purities and contamination are fractions (0-1). ``contamination``
    maps the other fraction(s) to their gate counts (over gated blasts).
    """
    purity = {
        "all_events": _ratio(in_gate, events),
        "cells": _ratio(in_gate, cells),
        "blasts": _ratio(in_gate, blasts),
    }
    contam = {f: _ratio(c, blasts) for f, c in contamination.items()}
    declared = purity[denominator]
    out: dict[str, Any] = {
        "in_gate": in_gate,
        "purity_all_events": purity["all_events"],
        "purity_cells": purity["cells"],
        "purity_blasts": purity["blasts"],
        "denominator": denominator,
        "purity": declared,
        "contamination": contam,
    }
    if blasts < min_blasts:
        out["status"] = "not_evaluable"
        out["reason"] = (
            f"only {blasts} gated blasts (fewer than gating.min_blast_events {min_blasts})"
        )
    elif declared is not None and declared >= purity_min:
        out["status"], out["reason"] = "pass", ""
    else:
        others = ", ".join(f"{f} {100 * (v or 0):.1f} %" for f, v in contam.items())
        shown = "NA" if declared is None else f"{100 * declared:.1f} %"
        out["status"] = "fail"
        out["reason"] = (
            f"{fraction} purity {shown} of {denominator.replace('_', ' ')} is below "
            f"{100 * purity_min:g} % (contamination: {others})"
        )
    return out


# --------------------------------------------------------------------------- analysis


def _singlet_gate(strategy: Strategy, blast_gate: str, parents: Mapping[str, str | None]):
    """The singlet gate above the blast gate, or None: a gate whose two dimensions are the
    same scatter detector's area/height/width (FSC-A vs FSC-H), or named like one."""
    gate = parents.get(blast_gate)
    while gate is not None:
        g = strategy.gates.get(gate)
        names = [d.name or "" for d in g.dims] if g is not None else []
        stems = {n.rsplit("-", 1)[0].upper() for n in names if n}
        if len(names) == 2 and len(stems) == 1 and stems <= {"FSC", "SSC"}:
            return gate
        if "singlet" in gate.lower() or "doublet" in gate.lower():
            return gate
        gate = parents.get(gate)
    return None


def _file_error(label: str, err: InputError) -> str:
    """A reason naming the sheet's path string (never the resolved path or FCS keywords)."""
    where = f"{err.where}: " if err.where else ""
    return f"{label}: {where}{err.what}"


def _analyse_file(
    strategy: Strategy,
    path: str | Path,
    label: str,
    cfg: FlowQCSettings,
    comp: Mapping[str, str],
    adapt: bool = True,
) -> tuple[dict[str, Any], FCSData | None, GatingResult | None]:
    info: dict[str, Any] = {"file": label, "ok": False, "error": None}
    try:
        data = read_fcs(path, compensation=comp.get("choice"))
        info.update(
            version=data.version,
            events=data.n_events,
            compensation=data.compensation
            if data.compensation != "matrix"
            else f"matrix {comp.get('label')}",
            notes=list(data.notes),
        )
        info["markers"] = resolve_markers(data, cfg.markers)
        result = evaluate(strategy, data, sample=Path(str(path)).name, adapt=adapt)
    except (FCSError, GatingError) as err:
        if isinstance(err, GatingError) and err.where == "samples":
            raise  # a workspace without the sample: a strategy problem, stop
        info["error"] = _file_error(label, err)
        return info, None, None
    needed = [cfg.blast_gate, *cfg.fraction_gates.values()]
    check_gate_ids(strategy.path, needed, list(result.memberships), f"the configuration ({label})")
    info["ok"] = True
    info["counts"] = dict(result.counts)
    info["gate_paths"] = {g: "/".join(p) for g, p in result.gate_paths.items()}
    info["engine"] = result.engine
    return info, data, result


def analyse_patient_with_events(
    patient: str,
    presort_path: str | Path,
    sorted_paths: Mapping[str, str | Path],
    labels: Mapping[str, str],
    strategy_path: str | Path,
    cfg: FlowQCSettings,
    compensation: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], PatientEvents]:
    """:func:`analyse_patient` plus the events and gating results for the figure."""
    comp = dict(compensation or {})
    strategy = load_strategy(strategy_path)
    blast_gate = cfg.blast_gate
    fraction_gates = cfg.fraction_gates
    require_gates(strategy, [blast_gate, *fraction_gates.values()])
    unknown = sorted(set(sorted_paths) - set(fraction_gates))
    if unknown:
        raise GatingError(
            None,
            f"sorted fraction(s) {', '.join(unknown)} have no gate in gating.fraction_gates",
            "config gating.fraction_gates",
        )
    paths = {"presort": presort_path, **dict(sorted_paths)}
    events = PatientEvents(patient, strategy, cfg, template=strategy)
    files: dict[str, dict[str, Any]] = {}
    singlet = None
    cells_gate = None
    applied = strategy
    gating = {"mode": "adaptive" if strategy.adaptive else "fixed", "adapted_on": None,
              "reason": "", "gates": {}}  # fmt: skip
    for fraction, path in paths.items():
        label = str(labels.get(fraction, path))
        presort = fraction == "presort"
        info, data, result = _analyse_file(applied, path, label, cfg, comp, adapt=presort)
        files[fraction] = info
        if presort and strategy.adaptive:
            if result is not None and result.applied is not None:
                applied = result.applied
                gating.update(adapted_on=label, gates=result.adaptations)
            else:
                gating["mode"] = "template"
                gating["reason"] = (
                    "the pre-sort file was not gated: the sorted tubes were gated with the "
                    "template's coordinates"
                )
        if result is None:
            continue
        events.files[fraction] = (data, result)
        cells_gate = result.parents.get(blast_gate)
        info["cells_gate"] = cells_gate
        info["cells"] = result.counts[cells_gate] if cells_gate else data.n_events
        info["blasts"] = result.counts[blast_gate]
        found = _singlet_gate(result.applied or strategy, blast_gate, result.parents)
        info["singlet_gate"] = found
        singlet = singlet or found
    events.strategy = applied

    lo_hi = cfg.cd34_range
    positive_fraction = "CD34pos" if "CD34pos" in fraction_gates else next(iter(fraction_gates))
    pre = files["presort"]
    if pre["ok"]:
        het = heterogeneity_verdict(
            pre["blasts"],
            pre["counts"][fraction_gates[positive_fraction]],
            lo_hi,
            cfg.min_blast_events,
        )
        het["blasts"] = pre["blasts"]
        het["fractions"] = {
            f: _ratio(pre["counts"][g], pre["blasts"]) for f, g in fraction_gates.items()
        }
    else:
        het = {"status": "fail", "reason": pre["error"], "pct_cd34pos": None, "share": None}
    het["range"] = list(lo_hi)
    het["positive_fraction"] = positive_fraction

    purity: dict[str, dict[str, Any]] = {}
    for fraction in sorted_paths:
        info = files[fraction]
        if not info["ok"]:
            purity[fraction] = {"status": "fail", "reason": info["error"]}
            continue
        gate = fraction_gates[fraction]
        contamination = {f: info["counts"][g] for f, g in fraction_gates.items() if f != fraction}
        verdict = purity_verdict(
            info["counts"][gate],
            info["events"],
            info["cells"],
            info["blasts"],
            contamination,
            denominator=cfg.purity_denominator,
            purity_min=cfg.purity_min,
            min_blasts=cfg.min_blast_events,
            fraction=fraction,
        )
        verdict["gate"] = gate
        purity[fraction] = verdict

    statuses = [het["status"]] + [p["status"] for p in purity.values()]
    overall = (
        "fail" if "fail" in statuses else "not_evaluable" if "not_evaluable" in statuses else "pass"
    )
    result = {
        "patient": patient,
        "strategy": {
            "path": str(strategy_path),
            "kind": strategy.kind,
            "engine": strategy.engine,
            "fallback_reason": strategy.fallback_reason or None,
            "blast_gate": blast_gate,
            "fraction_gates": dict(fraction_gates),
            "cells_gate": cells_gate,
            "singlet_gate": singlet,
            "singlet_gate_present": singlet is not None,
        },
        "settings": {
            "purity_min": cfg.purity_min,
            "purity_denominator": cfg.purity_denominator,
            "cd34_range": list(lo_hi),
            "min_blast_events": cfg.min_blast_events,
        },
        "files": files,
        "heterogeneity": het,
        "purity": purity,
        "gating": gating,
        "status": overall,
    }
    return _json_clean(result), events


def analyse_patient(
    patient: str,
    presort_path: str | Path,
    sorted_paths: Mapping[str, str | Path],
    labels: Mapping[str, str],
    strategy_path: str | Path,
    settings: FlowQCSettings,
    compensation: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Gate one patient's pre-sort and sorted files; return the JSON-able QC result.

    ``sorted_paths``: fraction (``CD34pos``, ``CD34neg``) -> FCS path; ``labels``:
    ``presort``/fraction -> the sheet's path string (used in ``file`` and in reasons);
    ``settings``: the flow QC settings (config ``gating`` and ``qc``); ``compensation``:
    the patient's samples.tsv choice, ``{"choice": "" | "none" | matrix path, "label": as
    written}`` (None: as the files say).
    """
    result, _ = analyse_patient_with_events(
        patient, presort_path, sorted_paths, labels, strategy_path, settings, compensation
    )
    return result


def applied_gates_text(result: Mapping[str, Any], events: PatientEvents) -> str:
    """``results/flow/{patient}.gating.xml``: the gates applied to this patient as Gating-ML
    2.0 (adapted coordinates, each search's record in ``<sortpcr:applied>``; no search left),
    which gates the patient's files as they were gated here - in sortpcr or in FlowKit - and
    can be corrected and named in the patient's ``gating`` column of samples.tsv."""
    gating = result.get("gating") or {}
    where = f", adapted on {gating['adapted_on']}" if gating.get("adapted_on") else ""
    note = (
        f"sortpcr: the gates applied to patient {result['patient']} "
        f"({gating.get('mode', 'fixed')}{where}). Correct them in any Gating-ML 2.0 tool and "
        "name this file in the patient's gating column of samples.tsv to gate with them as "
        "they are."
    )
    first = next(iter(events.files.values()), None)
    return applied_gatingml(events.strategy, first[0] if first is not None else None, note)


def _json_clean(value: Any) -> Any:
    """Plain JSON types only: NaN -> None, numpy scalars -> Python, tuples -> lists."""
    if isinstance(value, dict):
        return {str(k): _json_clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------- table rows


def gating_summary(result: Mapping[str, Any]) -> dict[str, Any]:
    """The flow table's gating columns of one patient (the same on its three rows: the
    sorted tubes are gated with the pre-sort file's gates).

    ``blast_shift_decades``: shift of the blast gate along its first dimension (CD45), in
    decades of intensity; ``blast_scale``: factor on its second (SSC); ``blast_cluster_events``:
    pre-sort events in the moved gate; ``cd34_cut``: the CD34 cut in the channel's scale
    units (FACSDiva units, CellQuest scale values), ``cd34_cut_shift_decades`` from the
    template's, ``cd34_cut_method`` (valley, negative_population, template) and
    ``valley_depth`` (valley density / lower mode density, 0-1).
    """
    gating = result.get("gating") or {}
    strategy = result.get("strategy") or {}
    out: dict[str, Any] = {"gating_mode": gating.get("mode")}
    records = gating.get("gates") or {}
    blast = records.get(strategy.get("blast_gate") or "")
    if blast is not None and blast.get("kind") == "cluster":
        out["blast_shift_decades"] = (blast.get("shift_decades") or [None])[0]
        out["blast_scale"] = (blast.get("scale") or [None, None])[1]
        out["blast_cluster_events"] = blast.get("events_in_gate")
    positive = (result.get("heterogeneity") or {}).get("positive_fraction")
    cut = records.get((strategy.get("fraction_gates") or {}).get(positive or "", ""))
    if cut is not None and cut.get("kind") == "valley":
        out["cd34_cut"] = cut.get("cut_value")
        out["cd34_cut_shift_decades"] = cut.get("shift_decades")
        out["cd34_cut_method"] = cut.get("method")
        out["valley_depth"] = cut.get("depth")
    return out


def flow_records(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of ``results/qc/flow.tsv`` for one patient (presort first, then fractions), as
    dicts over :data:`FLOW_COLUMNS` (no pandas: the gating job writes them directly).

    Presort row: status from the heterogeneity verdict, ``pct_cd34pos`` in percent.
    Sorted rows: status from the purity verdict, ``purity`` on the declared denominator.
    """
    rows = []
    files = result["files"]
    het = result["heterogeneity"]
    summary = gating_summary(result)
    order = ["presort"] + [f for f in files if f != "presort"]
    for fraction in order:
        info = files[fraction]
        row: dict[str, Any] = dict.fromkeys(FLOW_COLUMNS)
        row.update(
            patient=result["patient"],
            fraction=fraction,
            file=info["file"],
            events=info.get("events"),
            cells=info.get("cells"),
            blasts=info.get("blasts"),
            compensation=info.get("compensation"),
        )
        row.update(summary)
        if fraction == "presort":
            row["pct_cd34pos"] = het.get("pct_cd34pos")
            row["status"], row["reason"] = het["status"], het.get("reason") or ""
        else:
            p = result["purity"][fraction]
            row["purity"] = p.get("purity")
            row["purity_all_events"] = p.get("purity_all_events")
            row["purity_cells"] = p.get("purity_cells")
            row["status"], row["reason"] = p["status"], p.get("reason") or ""
        rows.append(row)
    return rows


def flow_rows(result: Mapping[str, Any]):
    """:func:`flow_records` as a typed DataFrame (counts Int64, fractions float)."""
    import pandas as pd

    table = pd.DataFrame(flow_records(result), columns=FLOW_COLUMNS)
    for col in ("events", "cells", "blasts", "blast_cluster_events"):
        table[col] = table[col].astype("Int64")
    floats = ("pct_cd34pos", "purity", "purity_all_events", "purity_cells", "blast_shift_decades",
              "blast_scale", "cd34_cut", "cd34_cut_shift_decades", "valley_depth")  # fmt: skip
    for col in floats:
        table[col] = table[col].astype(float)
    return table
