"""Checks on a plate's wells after the plate map: the unit its standards state, and one
sample name standing for two samples."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sortpcr.errors import QPCRFormatError

from .cells import _well_order
from .contract import RawWell


def stated_unit(path: Path, records: Sequence[RawWell]) -> tuple[str, str, str] | None:
    """The unit the standards' quantities state (RDML ``<unit>``): (our unit, the export's
    text, where), or None; standards stating two of our units are an error."""
    found: dict[str, tuple[str, str]] = {}
    for rec in records:
        if rec["role"] == "standard" and rec.get("_unit"):
            found.setdefault(rec["_unit"], (rec["_unit_text"], rec["_at"]))
    if len(found) > 1:
        shown = " and ".join(f"{t!r} ({w})" for t, w in found.values())
        raise QPCRFormatError(
            path, f"the standards' <quantity><unit> are {shown}: one plate has one unit"
        )
    for ours, (text, where) in found.items():
        return ours, text, where
    return None


def _wells_text(records: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(sorted({r["well"] for r in records}, key=_well_order))


def check_sample_collisions(path: str | Path, records: Sequence[Mapping[str, Any]]) -> None:
    """Stop a plate on which one sample name stands for two samples.

    Two checks on the unknown wells of each target (after the plate map is applied):

    * the export's own replicate groups (iCycler/MyiQ ``Replicate #``; CFX ``Content``
      number ``Unkn-01``, ``Biological Set Name``, ``Replicate``): one sample name in two
      groups is two samples typed under one name;
    * the plate's replicate count for the target (the most common number of wells per
      sample, the larger one on a tie): a sample with more wells than that holds wells of
      another sample (RDML and generic tables, which state no groups, are caught here).

    Raises :class:`QPCRFormatError` naming the sample, the target, the groups and the wells.
    """
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for rec in records:
        if rec["role"] == "unknown":
            groups.setdefault((rec["target"], rec["sample"]), []).append(rec)
    fix = (
        ": two samples under one name? Correct the sample names in the instrument software "
        "and re-export, or give the plate a layout naming each well's sample"
    )
    for (target, sample), wells in groups.items():
        by_label: dict[str, list[Mapping[str, Any]]] = {}
        for rec in wells:
            if rec.get("_replicate"):
                by_label.setdefault(rec["_replicate"], []).append(rec)
        if len(by_label) > 1:
            shown = " and ".join(
                f"{label} (wells {_wells_text(recs)})" for label, recs in by_label.items()
            )
            raise QPCRFormatError(
                path,
                f"sample {sample!r} (target {target}) is in {len(by_label)} replicate groups "
                f"of the export: {shown}{fix}",
                f"wells {_wells_text(wells)}",
            )
    sizes: dict[str, dict[int, int]] = {}
    for (target, _), wells in groups.items():
        n = len({r["well"] for r in wells})
        sizes.setdefault(target, {})
        sizes[target][n] = sizes[target].get(n, 0) + 1
    for (target, sample), wells in groups.items():
        counts = sizes[target]
        usual = max(counts, key=lambda n: (counts[n], n))
        n = len({r["well"] for r in wells})
        if n > usual:
            raise QPCRFormatError(
                path,
                f"sample {sample!r} has {n} wells for target {target} (wells "
                f"{_wells_text(wells)}) where the plate's samples have {usual} "
                f"(its replicate count for {target}){fix}",
                f"wells {_wells_text(wells)}",
            )
