"""Normalise target quantities to GUS: expression (IM-9 units) and fusion transcripts (EAC).

Expression (kind ``expression``)
    value = target quantity / GUS quantity of the same sample on the same plate, both in IM-9
    relative units, i.e. arbitrary units (AU) relative to IM-9 (IM-9 itself is 1). On a plate
    measured in copies the ratio is copies/copies and the unit column says ``copies``.
Fusion (kind ``fusion``; targets in ``fusion_targets``, TEL-AML1)
    value = fusion copies / GUS copies x ``fusion_scale`` (EAC reports per 100 GUS copies), the
    normalised copy number (NCN). Classes after Gabert 2003 / Beillard 2003: ``negative``
    (no amplification, adequate GUS), ``positive_not_quantifiable`` (below the lowest
    standard), ``quantifiable``, ``inevaluable`` (GUS copies < ``gus_copies_min`` or a QC
    failure of the measurement).

Uncertainty is carried in log10 space: SE(log10 ratio) = sqrt(SE_target^2 + SE_GUS^2), the
two quantities' SEs (replicate spread and standard-curve error, from the quantify step) being
independent. A fraction measured on several plates is combined per gene and unit by the
inverse-variance weighted mean of the per-plate log10 values (weights 1/SE^2; combined SE =
1/sqrt(sum of weights)); when a plate lacks an SE the plain mean of log10 values is used and
the row is flagged ``unweighted_mean``. Per-plate rows are kept; combined rows carry
``plate = combined``.

Quantities outside their standards' range (status below_range/above_range from quantify)
are extrapolated and used, flagged ``target_above_range``, ``gus_below_range`` and so on, as
the study did (its highest MDR1 values lie above the IM-9 standards). With
``use_out_of_range = False`` such rows become ``not_evaluable`` (fusion: ``inevaluable``;
fusion below the lowest standard stays ``positive_not_quantifiable`` without a value).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sortpcr.io import Rows, as_records, cell_float, cell_text, group_rows

COMBINED = "combined"

#: Output columns, in order (contract), followed by carried-along columns.
EXPRESSION_COLUMNS: list[str] = [
    "patient",
    "fraction",
    "plate",
    "gene",
    "kind",
    "unit",
    "target_quantity",
    "gus_quantity",
    "value",
    "log10_value",
    "log10_se",
    "status",
    "flags",
    "reason",
]
EXTRA_COLUMNS: list[str] = [
    "detection_limit",
    "flow_status",
    "flow_reason",
    "presort_status",
    "presort_reason",
]

#: Statuses whose value may be used (expression and fusion).
USABLE = frozenset({"ok", "quantifiable", "positive_not_quantifiable"})
OUT_OF_RANGE = frozenset({"below_range", "above_range"})


@dataclass(frozen=True)
class NormaliseSettings:
    """Plain settings of the normalisation step (from config sections qpcr/normalisation).

    gus_copies_min: GUS copies below which a copies-plate sample is inevaluable (EAC).
    fusion_scale: NCN is reported per this many GUS copies (EAC x100).
    use_out_of_range: use extrapolated quantities outside the standards' range (flagged).
    """

    reference_gene: str = "GUS"
    fusion_targets: tuple[str, ...] = ("TEL-AML1",)
    gus_copies_min: float = 10000.0
    fusion_scale: float = 100.0
    use_out_of_range: bool = True
    fractions: tuple[str, ...] = field(default=("CD34pos", "CD34neg"))

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> NormaliseSettings:
        """Build from the whole config dict (keys qpcr.*, normalisation.*, classification.*)."""
        qpcr = config.get("qpcr", {}) or {}
        norm = config.get("normalisation", {}) or {}
        classification = config.get("classification", {}) or {}
        return cls(
            reference_gene=str(qpcr.get("reference_gene", "GUS")),
            fusion_targets=tuple(qpcr.get("copy_targets", ["TEL-AML1"])),
            gus_copies_min=float(norm.get("gus_copies_min", 10000)),
            fusion_scale=float(norm.get("fusion_scale", 100)),
            use_out_of_range=bool(classification.get("use_out_of_range", True)),
        )


def _join(parts: list[str], sep: str = ";") -> str:
    seen: list[str] = []
    for part in parts:
        for piece in part.split(sep) if part else []:
            piece = piece.strip()
            if piece and piece not in seen:
                seen.append(piece)
    return sep.join(seen)


def ratio_log10_se(se_target: float, se_gus: float) -> float:
    """SE of log10(target/GUS) from the two independent SEs of log10 quantities."""
    return math.sqrt(se_target**2 + se_gus**2)


def combine_log10(values: list[float], ses: list[float]) -> tuple[float, float, bool]:
    """Combine per-plate log10 values: inverse-variance weighted mean and its SE.

    Returns (mean, se, weighted). If any SE is missing or not positive, returns the plain
    mean with SE NaN and ``weighted = False`` (a single value keeps its own SE).
    """
    if len(values) == 1:
        return values[0], ses[0], True
    if all(math.isfinite(s) and s > 0 for s in ses):
        weights = [1.0 / s**2 for s in ses]
        total = sum(weights)
        mean = sum(w * v for w, v in zip(weights, values, strict=True)) / total
        return mean, 1.0 / math.sqrt(total), True
    return sum(values) / len(values), math.nan, False


def _range_flags(role: str, row: Mapping[str, Any]) -> list[str]:
    status = cell_text(row.get("status"))
    flags = [f"{role}_{status}"] if status in OUT_OF_RANGE else []
    for flag in cell_text(row.get("flags")).split(";"):
        if flag.strip():
            flags.append(f"{role}:{flag.strip()}")
    return flags


def _normalise_one(
    target: Mapping[str, Any],
    gus: Mapping[str, Any] | None,
    settings: NormaliseSettings,
) -> dict[str, Any]:
    """One target row against the GUS row of the same sample and plate."""
    gene = str(target["target"])
    kind = "fusion" if gene in settings.fusion_targets else "expression"
    unit = cell_text(target.get("unit"))
    scale = settings.fusion_scale if kind == "fusion" else 1.0
    where = f"{target['patient']} {target['fraction']} plate {target['plate']}"
    out: dict[str, Any] = {
        "patient": target["patient"],
        "fraction": target["fraction"],
        "plate": target["plate"],
        "gene": gene,
        "kind": kind,
        "unit": unit,
        "target_quantity": cell_float(target.get("quantity")),
        "gus_quantity": math.nan,
        "value": math.nan,
        "log10_value": math.nan,
        "log10_se": math.nan,
        "detection_limit": math.nan,
        "flow_status": cell_text(target.get("flow_status")),
        "flow_reason": cell_text(target.get("flow_reason")),
        "presort_status": cell_text(target.get("presort_status")),
        "presort_reason": cell_text(target.get("presort_reason")),
    }
    bad = "inevaluable" if kind == "fusion" else "not_evaluable"
    flags = _range_flags("target", target)
    reasons: list[str] = []

    def finish(status: str, reason: str = "") -> dict[str, Any]:
        out["status"] = status
        out["flags"] = _join(flags)
        out["reason"] = reason
        return out

    # --- the reference gene -----------------------------------------------------------
    if gus is None:
        return finish(bad, f"{where}: no {settings.reference_gene} measured for this sample")
    gus_status = cell_text(gus.get("status"))
    gus_q = cell_float(gus.get("quantity"))
    out["gus_quantity"] = gus_q
    flags += _range_flags("gus", gus)
    if cell_text(gus.get("unit")) != unit:
        return finish(
            bad,
            f"{where}: {gene} in {unit!r} but {settings.reference_gene} in "
            f"{cell_text(gus.get('unit'))!r}; a ratio needs the same standard units",
        )
    if gus_status not in {"ok", *OUT_OF_RANGE} or not (gus_q > 0):
        return finish(
            bad,
            f"{where}: {settings.reference_gene} {gus_status or 'missing'}"
            + (f" ({cell_text(gus.get('reason'))})" if cell_text(gus.get("reason")) else ""),
        )
    if unit == "copies" and gus_q < settings.gus_copies_min:
        return finish(
            bad,
            f"{where}: {settings.reference_gene} {gus_q:.4g} copies < "
            f"{settings.gus_copies_min:.4g} (normalisation.gus_copies_min)",
        )
    if gus_status in OUT_OF_RANGE:
        if not settings.use_out_of_range:
            return finish(
                bad,
                f"{where}: {settings.reference_gene} {gus_status.replace('_', ' ')} "
                "(classification.use_out_of_range is false)",
            )
        reasons.append(f"{settings.reference_gene} {gus_status.replace('_', ' ')}, extrapolated")

    # --- the target ---------------------------------------------------------------------
    t_status = cell_text(target.get("status"))
    range_low = cell_float(target.get("range_low"))
    if t_status == "undetected":
        if math.isfinite(range_low) and range_low > 0:
            out["detection_limit"] = range_low / gus_q * scale
        if kind == "fusion":
            return finish(
                "negative", f"{where}: {gene} not amplified, {settings.reference_gene} adequate"
            )
        return finish("undetected", f"{where}: {gene} not amplified in any replicate")
    if t_status not in {"ok", *OUT_OF_RANGE}:
        detail = cell_text(target.get("reason"))
        return finish(
            bad, f"{where}: {gene} {t_status or 'missing'}" + (f" ({detail})" if detail else "")
        )
    t_q = out["target_quantity"]
    if not (t_q > 0):
        return finish(bad, f"{where}: {gene} has status {t_status} but no positive quantity")
    value = t_q / gus_q * scale
    t_se = cell_float(target.get("log10_quantity_se"))
    g_se = cell_float(gus.get("log10_quantity_se"))
    status = "ok"
    if kind == "fusion":
        status = "positive_not_quantifiable" if t_status == "below_range" else "quantifiable"
    if t_status in OUT_OF_RANGE:
        if not settings.use_out_of_range:
            if kind == "fusion" and t_status == "below_range":
                return finish(status, f"{where}: {gene} below the lowest standard")
            return finish(
                bad,
                f"{where}: {gene} {t_status.replace('_', ' ')} "
                "(classification.use_out_of_range is false)",
            )
        reasons.append(f"{gene} {t_status.replace('_', ' ')}, extrapolated")
    out["value"] = value
    out["log10_value"] = math.log10(value)
    out["log10_se"] = ratio_log10_se(t_se, g_se)
    return finish(status, "; ".join(reasons))


def _combine(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``combined`` row of one fraction x gene x unit from its per-plate rows."""
    first = rows[0]
    out = {key: first[key] for key in ("patient", "fraction", "gene", "kind", "unit")}
    out.update(
        plate=COMBINED,
        target_quantity=math.nan,
        gus_quantity=math.nan,
        value=math.nan,
        log10_value=math.nan,
        log10_se=math.nan,
        detection_limit=math.nan,
    )
    for key in ("flow_status", "flow_reason", "presort_status", "presort_reason"):
        out[key] = first[key]
    plates = [str(r["plate"]) for r in rows]
    usable = [r for r in rows if r["status"] in USABLE and math.isfinite(r["log10_value"])]
    if len(rows) == 1:
        single = dict(rows[0])
        single["plate"] = COMBINED
        return single
    if usable:
        mean, se, weighted = combine_log10(
            [r["log10_value"] for r in usable], [r["log10_se"] for r in usable]
        )
        out["log10_value"], out["log10_se"] = mean, se
        out["value"] = 10.0**mean
        if first["kind"] == "fusion":
            quant = any(r["status"] == "quantifiable" for r in usable)
            out["status"] = "quantifiable" if quant else "positive_not_quantifiable"
        else:
            out["status"] = "ok"
        used = [str(r["plate"]) for r in usable]
        flags = [r["flags"] for r in usable] + [f"combined_from:{','.join(used)}"]
        if not weighted:
            flags.append("unweighted_mean")
        left = [r for r in rows if r not in usable]
        flags += [f"not_used:{r['plate']}:{r['status']}" for r in left]
        out["flags"] = _join(flags)
        method = "inverse-variance weighted mean" if weighted else "plain mean (SE missing)"
        out["reason"] = "; ".join(
            [f"{method} of log10 values over plates {', '.join(used)}"]
            + [r["reason"] for r in usable + left if r["reason"]]
        )
        return out
    # nothing usable: undetected / negative wins over a QC failure (it is a measurement)
    for status in ("undetected", "negative"):
        hits = [r for r in rows if r["status"] == status]
        if hits:
            limits = [r["detection_limit"] for r in hits if math.isfinite(r["detection_limit"])]
            out["detection_limit"] = min(limits) if limits else math.nan
            out["status"] = status
            out["flags"] = _join([r["flags"] for r in rows])
            out["reason"] = "; ".join(r["reason"] for r in rows if r["reason"])
            return out
    out["status"] = first["status"]
    out["flags"] = _join([r["flags"] for r in rows])
    out["reason"] = f"no plate usable ({', '.join(plates)}): " + "; ".join(
        r["reason"] for r in rows if r["reason"]
    )
    return out


def _sort_key(row: Mapping[str, Any]) -> tuple:
    """Output order: kind, gene, fraction, unit, per-plate rows before combined, plate."""
    plate = row["plate"]
    return (row["kind"], row["gene"], row["fraction"], row["unit"], plate == COMBINED, plate)


def normalise_patient(
    pairs: Rows, settings: NormaliseSettings | Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Normalise one patient's paired quantities (:func:`sortpcr.pairing.pair_patient`).

    ``pairs``: dict rows (or a DataFrame) of :data:`sortpcr.pairing.PAIR_COLUMNS`. Returns
    dict rows, one per fraction x plate x gene (every target but the reference gene) and a
    ``combined`` row per fraction x gene x unit, keys :data:`EXPRESSION_COLUMNS` +
    :data:`EXTRA_COLUMNS`. ``value``: AU relative to IM-9 (unit ``relative``) or NCN per
    ``fusion_scale`` GUS copies (fusion); ``log10_se`` in log10 units; ``detection_limit``
    (for undetected targets, when the standards' range is known) = lowest standard / GUS, in
    the value's units.
    """
    if settings is None:
        settings = NormaliseSettings()
    elif not isinstance(settings, NormaliseSettings):
        settings = NormaliseSettings.from_config(settings)
    by_sample = group_rows(as_records(pairs), ("fraction", "plate"))
    per_plate: list[dict[str, Any]] = []
    for key in sorted(by_sample):
        rows = by_sample[key]
        gus_rows = [r for r in rows if str(r["target"]) == settings.reference_gene]
        gus = gus_rows[0] if gus_rows else None
        for row in rows:
            if str(row["target"]) in {settings.reference_gene, ""}:
                continue
            per_plate.append(_normalise_one(row, gus, settings))
    by_gene = group_rows(per_plate, ("fraction", "gene", "unit"))
    combined = [_combine(by_gene[key]) for key in sorted(by_gene)]
    columns = EXPRESSION_COLUMNS + EXTRA_COLUMNS
    table = sorted(per_plate + combined, key=_sort_key)
    return [{c: row.get(c) for c in columns} for row in table]


def usable_value(status: str) -> bool:
    """True when a normalised row's value may enter folds and statistics."""
    return status in USABLE


__all__ = [
    "COMBINED",
    "EXPRESSION_COLUMNS",
    "EXTRA_COLUMNS",
    "NormaliseSettings",
    "combine_log10",
    "normalise_patient",
    "ratio_log10_se",
    "usable_value",
]
