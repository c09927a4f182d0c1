"""Normalise target quantities to the reference gene(s): expression (AU) and fusion (EAC).

Expression (kind ``expression``)
    value = target quantity / reference quantity of the same sample on the same plate, both
    in IM-9 relative units, i.e. arbitrary units (AU) relative to IM-9 (IM-9 itself is 1).
    With several reference genes (``qpcr.reference_genes``, default ``[GUS]`` as the study)
    the reference quantity is their geometric mean, and every one of them must be measured
    for the sample on a relative plate (a missing one makes the row ``not_evaluable``).
Fusion (kind ``fusion``; targets in ``fusion_targets``, TEL-AML1)
    value = fusion copies / reference copies x ``fusion_scale`` (EAC reports per 100 GUS
    copies), the normalised copy number (NCN), against the reference genes present on the
    copies plate. Classes after Gabert 2003 / Beillard 2003: ``negative`` (no amplification,
    adequate reference), ``positive_not_quantifiable`` (amplified, below the LOQ: *no value*,
    the bound is in ``detection_limit``), ``quantifiable``, ``inevaluable`` (reference copies
    < ``gus_copies_min`` or a QC failure of the measurement).

Reference adequacy: on a copies plate each reference needs ``gus_copies_min`` copies; on an
expression plate each needs at least ``reference_min`` (plate unit; 0 = no floor beyond its
LOQ). A reference below its LOQ, undetected, missing, or failing QC makes the row
``not_evaluable`` with the reason (a ratio to a bound is no measurement).

Censoring. A target below its LOQ (``below_range`` in quantify) gives ``status``
``below_loq``, ``censor`` ``<`` and ``value`` = LOQ / reference (an upper bound); undetected
gives ``undetected``, ``censor`` ``<`` and ``value`` = LOD / reference (the old
``detection_limit`` column keeps the same bound). Above the top standard the extrapolated
value is used and flagged (``target_above_range``), as the study did for MDR1 above IM-9;
with ``use_out_of_range = False`` it becomes a lower bound instead (``censor`` ``>``,
``value`` = top standard / reference, status ``above_range``). A value with a censor is never
a number to average: it only enters a call when the bound decides it (classify).

Uncertainty (:mod:`sortpcr.uncertainty`): the ratio's error budget is the target's budget
minus the mean of the reference genes' budgets, plus RT variation: one component per
fraction, cDNA preparation and gene (targets and references alike) with SD
``rt_sd_log2 x log10(2)`` (``qpcr.rt_sd_log2``, default 0: the study had no RT replicates).
The preparation is units.tsv's optional ``cdna`` column (default: one preparation per
fraction, so plates of one cDNA share that component). When that column names two or more
preparations and ``rt_sd_log2`` is 0, the RT SD is estimated from the patient's own
preparations (:func:`estimate_rt_sd`, method of moments, its df carried into the budgets)
and reported in the ``rt_sd_log2`` column and the reason. ``log10_se`` = root of the budget's
variance, ``df`` by Welch-Satterthwaite; the budget is serialised in ``log10_budget`` so that
classify can subtract the two fractions' budgets (a shared curve cancels).

Several plates per fraction are combined per gene and unit by a DerSimonian-Laird
random-effects mean of the per-plate log10 values (:func:`sortpcr.uncertainty.random_effects`):
the combined budget is the weighted sum of the plate budgets plus a between-plate component
(``tau2`` x sum of squared weights, df = plates - 1); the weights and ``tau2`` use only the
components that differ between plates (a cDNA's RT term shared by all stays whole);
``tau2``, ``i2`` and ``het_q`` report the heterogeneity. Censored plates are not averaged in
(``not_used:<plate>:<status>``); when every plate is censored the tightest bound is kept.
Combined rows carry ``plate = combined``.

Reference genes (two or more): rows of kind ``reference`` give each reference's ratio to the
references' geometric mean per fraction and plate (and combined); a patient whose reference
ratio differs between CD34+ and CD34- by more than ``reference_max_disagreement`` (a fold)
has every row flagged ``reference_disagreement``. :func:`genorm_m` and :func:`pairwise_v`
give geNorm's stability measure M and pairwise variation V over a cohort.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sortpcr.io import Rows, as_records, cell_float, cell_text, group_rows
from sortpcr.settings import NormaliseSettings
from sortpcr.uncertainty import (
    budget_df,
    combine,
    component,
    from_text,
    random_effects,
    to_text,
    variance,
)

COMBINED = "combined"
LOG10_2 = math.log10(2.0)

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
    "censor",
    "reference_genes",
    "df",
    "tau2",
    "i2",
    "het_q",
    "log10_budget",
    "rt_sd_log2",
]

#: Statuses whose value may be used as a number (expression and fusion).
USABLE = frozenset({"ok", "quantifiable"})
#: Statuses whose value is a bound (see the ``censor`` column).
CENSORED = frozenset({"below_loq", "undetected", "above_range"})
OUT_OF_RANGE = frozenset({"below_range", "above_range"})


def _join(parts: list[str], sep: str = ";") -> str:
    seen: list[str] = []
    for part in parts:
        for piece in part.split(sep) if part else []:
            piece = piece.strip()
            if piece and piece not in seen:
                seen.append(piece)
    return sep.join(seen)


def ratio_log10_se(se_target: float, se_gus: float) -> float:
    """SE of log10(target/GUS) from two independent SEs of log10 quantities (no shared
    error: quantities on different curves)."""
    return math.sqrt(se_target**2 + se_gus**2)


def combine_log10(values: list[float], ses: list[float]) -> tuple[float, float, bool]:
    """Combine per-plate log10 values by a fixed-effect inverse-variance mean and its SE.

    Returns (mean, se, weighted). If any SE is missing or not positive, returns the plain
    mean with SE NaN and ``weighted = False`` (a single value keeps its own SE). The
    pipeline uses :func:`sortpcr.uncertainty.random_effects`; this is its tau2 = 0 case.
    """
    if len(values) == 1:
        return values[0], ses[0], True
    if all(math.isfinite(s) and s > 0 for s in ses):
        weights = [1.0 / s**2 for s in ses]
        total = sum(weights)
        mean = sum(w * v for w, v in zip(weights, values, strict=True)) / total
        return mean, 1.0 / math.sqrt(total), True
    return sum(values) / len(values), math.nan, False


def quantity_budget(row: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """A quantity row's error budget: its ``log10_budget``, or (older tables without one)
    one independent component of SD ``log10_quantity_se`` with infinite df."""
    budget = from_text(cell_text(row.get("log10_budget")))
    if budget:
        return budget
    se = cell_float(row.get("log10_quantity_se"))
    if math.isfinite(se) and se > 0:
        where = f"{row.get('plate')}/{row.get('target')}/{row.get('sample')}"
        return component(f"se/{where}", "quantity", se, math.inf)
    return {}


def rt_component(
    patient: str, fraction: str, prep: str, gene: str, rt_sd_log2: float, df: float = math.inf
) -> dict[str, tuple[float, float]]:
    """RT variation of one gene in one cDNA preparation (SD ``rt_sd_log2`` in log2 units;
    ``df`` inf when configured, that of the estimate when estimated from the data)."""
    if not rt_sd_log2 > 0:
        return {}
    return component(f"rt/{patient}/{fraction}/{prep}/{gene}", "rt", rt_sd_log2 * LOG10_2, df)


def estimate_rt_sd(
    per_plate: list[dict[str, Any]], preps: Mapping[tuple[str, str], str], n_refs: int
) -> tuple[float, int]:
    """RT SD (log2) and its df from one patient's cDNA preparations, by the method of moments.

    ``per_plate``: expression rows computed without RT; ``preps``: (fraction, plate) -> cDNA
    preparation. For every fraction x gene (x unit) measured in P >= 2 preparations, ``y_p`` = mean
    log10 value of preparation p and ``v_p`` its measurement variance (mean budget variance
    over its plates / their number); ``E[sum (y_p - ybar)^2] = (P - 1)/P sum v_p + (P - 1)
    sigma_b^2``. Pooled over groups: ``sigma_b^2 = max(0, sum (SS - (P-1)/P sum v) / sum
    (P - 1))``. ``sigma_b^2 = (1 + 1/m) sigma_RT^2`` (the target's RT plus the mean of m
    references'), so ``sigma_RT = sqrt(sigma_b^2 / (1 + 1/m)) / log10(2)`` log2 units.
    Returns ``(nan, 0)`` when no group has two preparations.
    """
    groups: dict[tuple[str, str, str], dict[str, list[tuple[float, float]]]] = {}
    for row in per_plate:
        if row["kind"] != "expression" or row["status"] not in USABLE or row["censor"]:
            continue
        prep = preps.get((str(row["fraction"]), str(row["plate"])), "")
        var = variance(from_text(row["log10_budget"]))
        key = (row["fraction"], row["gene"], row["unit"])  # as _combine: one unit per group
        groups.setdefault(key, {}).setdefault(prep, []).append((row["log10_value"], var))
    excess, df = 0.0, 0
    for by_prep in groups.values():
        if len(by_prep) < 2:
            continue
        ys = [sum(y for y, _ in vals) / len(vals) for vals in by_prep.values()]
        vs = [sum(v for _, v in vals) / len(vals) ** 2 for vals in by_prep.values()]
        n = len(ys)
        mean = sum(ys) / n
        excess += sum((y - mean) ** 2 for y in ys) - (n - 1) / n * sum(vs)
        df += n - 1
    if df == 0:
        return math.nan, 0
    sigma_b2 = max(0.0, excess / df)
    return math.sqrt(sigma_b2 / (1.0 + 1.0 / max(n_refs, 1))) / LOG10_2, df


def _range_flags(role: str, row: Mapping[str, Any]) -> list[str]:
    status = cell_text(row.get("status"))
    flags = [f"{role}_{status}"] if status in OUT_OF_RANGE else []
    for flag in cell_text(row.get("flags")).split(";"):
        if flag.strip():
            flags.append(f"{role}:{flag.strip()}")
    return flags


def _references(
    rows: list[dict[str, Any]], settings: NormaliseSettings
) -> tuple[list[dict[str, Any]], list[str]]:
    """The reference rows of one sample on one plate and the problems that forbid a ratio."""
    by_gene = {str(r["target"]): r for r in rows}
    unit = next((cell_text(r.get("unit")) for r in rows if cell_text(r.get("unit"))), "")
    found = [by_gene[g] for g in settings.reference_genes if g in by_gene]
    missing = [g for g in settings.reference_genes if g not in by_gene]
    problems: list[str] = []
    if not found:
        problems.append(f"no reference gene ({settings.reference_label}) measured for this sample")
    elif missing and unit != "copies":
        problems.append(f"reference gene(s) {', '.join(missing)} not measured on this plate")
    for ref in found:
        name = str(ref["target"])
        status = cell_text(ref.get("status"))
        q = cell_float(ref.get("quantity"))
        why = cell_text(ref.get("reason"))
        if status == "below_range":
            problems.append(f"reference {name} below its LOQ ({why})")
        elif status not in {"ok", "above_range"} or not (q > 0):
            problems.append(
                f"reference {name} {status or 'missing'}" + (f" ({why})" if why else "")
            )
        elif cell_text(ref.get("unit")) == "copies" and q < settings.gus_copies_min:
            problems.append(
                f"reference {name} {q:.4g} copies < {settings.gus_copies_min:.4g} "
                "(normalisation.gus_copies_min)"
            )
        elif cell_text(ref.get("unit")) != "copies" and q < settings.reference_min:
            problems.append(
                f"reference {name} {q:.4g} {cell_text(ref.get('unit'))} < "
                f"{settings.reference_min:.4g} (normalisation.reference_min)"
            )
        elif status == "above_range" and not settings.use_out_of_range:
            problems.append(
                f"reference {name} above range (classification.use_out_of_range is false)"
            )
    return found, problems


def _normalise_one(
    target: Mapping[str, Any],
    refs: list[dict[str, Any]],
    ref_problems: list[str],
    settings: NormaliseSettings,
) -> dict[str, Any]:
    """One target row against the reference rows of the same sample and plate."""
    gene = str(target["target"])
    kind = "fusion" if gene in settings.fusion_targets else "expression"
    unit = cell_text(target.get("unit"))
    scale = settings.fusion_scale if kind == "fusion" else 1.0
    patient, fraction = str(target["patient"]), str(target["fraction"])
    where = f"{patient} {fraction} plate {target['plate']}"
    names = [str(r["target"]) for r in refs]
    out: dict[str, Any] = {
        "patient": patient,
        "fraction": fraction,
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
        "censor": "",
        "reference_genes": ";".join(names),
        "df": math.nan,
        "tau2": math.nan,
        "i2": math.nan,
        "het_q": math.nan,
        "log10_budget": "",
    }
    bad = "inevaluable" if kind == "fusion" else "not_evaluable"
    flags = _range_flags("target", target)
    reasons: list[str] = []

    def finish(status: str, reason: str = "") -> dict[str, Any]:
        out["status"] = status
        out["flags"] = _join(flags)
        out["reason"] = reason
        return out

    # --- the reference gene(s) ----------------------------------------------------------
    for ref in refs:
        flags += _range_flags("gus" if len(refs) == 1 else f"ref_{ref['target']}", ref)
    if ref_problems:
        return finish(bad, f"{where}: " + "; ".join(ref_problems))
    if any(cell_text(r.get("unit")) != unit for r in refs):
        return finish(
            bad,
            f"{where}: {gene} in {unit!r} but reference in "
            f"{', '.join(sorted({cell_text(r.get('unit')) for r in refs}))!r}; a ratio needs "
            "the same standard units",
        )
    log_ref = sum(math.log10(cell_float(r["quantity"])) for r in refs) / len(refs)
    ref_q = 10.0**log_ref
    out["gus_quantity"] = ref_q
    for ref in refs:
        if cell_text(ref.get("status")) == "above_range":
            reasons.append(f"{ref['target']} above range, extrapolated")

    prep = cell_text(target.get("cdna")) or "cDNA"

    def budget_with(own: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        """Budget of log10(target / references): ``own`` (the target quantity's budget, or
        nothing for a bound), RT of target and references, minus the references' mean."""
        terms = [
            (1.0, own),
            (1.0, rt_component(patient, fraction, prep, gene, settings.rt_sd_log2, settings.rt_df)),
        ]
        for ref in refs:
            ref_rt = rt_component(
                patient, fraction, prep, str(ref["target"]), settings.rt_sd_log2, settings.rt_df
            )
            terms += [(-1.0 / len(refs), quantity_budget(ref)), (-1.0 / len(refs), ref_rt)]
        return combine(terms)

    def set_bound(value: float, censor: str) -> None:
        """A bound: its value, direction, and the budget of what is known about it (the
        references and RT), which classify uses to make a fold bound conservative."""
        out.update(value=value, censor=censor, log10_value=math.log10(value))
        out["log10_budget"] = to_text(budget_with({}))

    # --- the target ---------------------------------------------------------------------
    t_status = cell_text(target.get("status"))
    bound = cell_float(target.get("bound"))
    if t_status == "undetected":
        if not math.isfinite(bound):  # older tables: the lowest standard
            bound = cell_float(target.get("range_low"))
        if math.isfinite(bound) and bound > 0:
            out["detection_limit"] = bound / ref_q * scale
        if kind == "fusion":
            return finish(
                "negative", f"{where}: {gene} not amplified, {settings.reference_label} adequate"
            )
        if math.isfinite(out["detection_limit"]):
            set_bound(out["detection_limit"], "<")
        return finish("undetected", f"{where}: {gene} not amplified in any replicate")
    if t_status == "below_range":
        if math.isfinite(bound) and bound > 0:
            out["detection_limit"] = bound / ref_q * scale
        if kind == "fusion":
            return finish(
                "positive_not_quantifiable",
                f"{where}: {gene} amplified below the LOQ ({bound:g} copies); no number (EAC)",
            )
        if not math.isfinite(out["detection_limit"]):
            return finish(bad, f"{where}: {gene} below the LOQ and no LOQ known")
        set_bound(out["detection_limit"], "<")
        return finish("below_loq", f"{where}: {gene} below its LOQ: < {out['value']:.3g}")
    if t_status not in {"ok", "above_range"}:
        detail = cell_text(target.get("reason"))
        return finish(
            bad, f"{where}: {gene} {t_status or 'missing'}" + (f" ({detail})" if detail else "")
        )
    t_q = out["target_quantity"]
    if not (t_q > 0):
        return finish(bad, f"{where}: {gene} has status {t_status} but no positive quantity")
    status = "quantifiable" if kind == "fusion" else "ok"
    if t_status == "above_range":
        if not settings.use_out_of_range:
            top = cell_float(target.get("range_high"))
            if kind == "fusion" or not (top > 0):
                return finish(
                    bad, f"{where}: {gene} above range (classification.use_out_of_range is false)"
                )
            set_bound(top / ref_q * scale, ">")
            return finish(
                "above_range", f"{where}: {gene} above the top standard: > {out['value']:.3g}"
            )
        reasons.append(f"{gene} above range, extrapolated")
    budget = budget_with(quantity_budget(target))
    value = t_q / ref_q * scale
    out["value"] = value
    out["log10_value"] = math.log10(value)
    out["log10_budget"] = to_text(budget)
    if budget:
        out["log10_se"] = math.sqrt(variance(budget))
        out["df"] = budget_df(budget)
    return finish(status, "; ".join(reasons))


def _bound_row(rows: list[dict[str, Any]], out: dict[str, Any]) -> dict[str, Any] | None:
    """All plates censored the same way: the tightest bound (min of ``<``, max of ``>``)."""
    censors = {r["censor"] for r in rows}
    if len(censors) != 1 or "" in censors:
        return None
    direction = censors.pop()
    pick = min if direction == "<" else max
    best = pick(rows, key=lambda r: r["value"])
    out.update(
        value=best["value"],
        log10_value=best["log10_value"],
        censor=direction,
        detection_limit=best["detection_limit"],
        status=best["status"],
        flags=_join([r["flags"] for r in rows]),
        reason="; ".join(r["reason"] for r in rows if r["reason"]),
    )
    return out


def _combine(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``combined`` row of one fraction x gene x unit from its per-plate rows."""
    first = rows[0]
    if len(rows) == 1:
        single = dict(first)
        single["plate"] = COMBINED
        return single
    out = {key: first[key] for key in ("patient", "fraction", "gene", "kind", "unit")}
    out.update(
        plate=COMBINED,
        target_quantity=math.nan,
        gus_quantity=math.nan,
        value=math.nan,
        log10_value=math.nan,
        log10_se=math.nan,
        detection_limit=math.nan,
        censor="",
        reference_genes=first["reference_genes"],
        df=math.nan,
        tau2=math.nan,
        i2=math.nan,
        het_q=math.nan,
        log10_budget="",
        rt_sd_log2=first.get("rt_sd_log2", math.nan),
    )
    for key in ("flow_status", "flow_reason", "presort_status", "presort_reason"):
        out[key] = first[key]
    plates = [str(r["plate"]) for r in rows]
    usable = [
        r
        for r in rows
        if r["status"] in USABLE and not r["censor"] and math.isfinite(r["log10_value"])
    ]
    if usable:
        budgets = [from_text(r["log10_budget"]) for r in usable]
        # the random-effects weights see only what differs between plates: a component
        # shared by all of them (one cDNA's RT variation) does not average out and is kept
        # whole in the combined budget
        shared = set.intersection(*(set(b) for b in budgets)) if len(budgets) > 1 else set()
        variances = [variance({k: v for k, v in b.items() if k not in shared}) for b in budgets]
        values = [r["log10_value"] for r in usable]
        used = [str(r["plate"]) for r in usable]
        flags = [r["flags"] for r in usable] + [f"combined_from:{','.join(used)}"]
        if len(usable) == 1:
            mean, budget = values[0], budgets[0]
            method = f"plate {used[0]} only"
        elif all(v > 0 for v in variances):
            re = random_effects(values, variances)
            weights = list(re["weights"])  # type: ignore[arg-type]
            mean = float(re["mean"])  # type: ignore[arg-type]
            between = math.sqrt(float(re["tau2"]) * sum(w * w for w in weights))  # type: ignore[arg-type]
            parts = list(zip(weights, budgets, strict=True))
            if between > 0:
                where = f"between/{out['patient']}/{out['fraction']}/{out['gene']}"
                parts.append((1.0, component(where, "plates", between, len(usable) - 1)))
            budget = combine(parts)
            out.update(tau2=re["tau2"], i2=re["i2"], het_q=re["q"])
            method = "random-effects (DerSimonian-Laird) mean"
        else:
            mean, budget = sum(values) / len(values), {}
            flags.append("unweighted_mean")
            method = "plain mean (SE missing)"
        out["log10_value"] = mean
        out["value"] = 10.0**mean
        out["log10_budget"] = to_text(budget)
        if budget:
            out["log10_se"] = math.sqrt(variance(budget))
            out["df"] = budget_df(budget)
        out["status"] = "quantifiable" if first["kind"] == "fusion" else "ok"
        left = [r for r in rows if r not in usable]
        flags += [f"not_used:{r['plate']}:{r['status']}" for r in left]
        out["flags"] = _join(flags)
        out["reason"] = "; ".join(
            [f"{method} of log10 values over plates {', '.join(used)}"]
            + [r["reason"] for r in usable + left if r["reason"]]
        )
        return out
    bounded = [r for r in rows if r["censor"]]
    if bounded and _bound_row(bounded, out) is not None:
        return out
    # nothing usable: undetected / negative wins over a QC failure (it is a measurement)
    for status in ("undetected", "negative", "positive_not_quantifiable"):
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


def _reference_rows(
    key: tuple[Any, ...], refs: list[dict[str, Any]], problems: list[str]
) -> list[dict[str, Any]]:
    """Rows of kind ``reference``: each reference's ratio to the references' geometric mean."""
    if problems or len(refs) < 2:
        return []
    fraction, plate = key
    logs = {str(r["target"]): math.log10(cell_float(r["quantity"])) for r in refs}
    mean = sum(logs.values()) / len(logs)
    first = refs[0]
    return [
        {
            "patient": first["patient"],
            "fraction": fraction,
            "plate": plate,
            "gene": gene,
            "kind": "reference",
            "unit": cell_text(first.get("unit")),
            "target_quantity": 10.0**lq,
            "gus_quantity": 10.0**mean,
            "value": 10.0 ** (lq - mean),
            "log10_value": lq - mean,
            "log10_se": math.nan,
            "status": "ok",
            "flags": "",
            "reason": "",
            "censor": "",
            "reference_genes": ";".join(logs),
            "flow_status": cell_text(first.get("flow_status")),
            "flow_reason": cell_text(first.get("flow_reason")),
            "presort_status": cell_text(first.get("presort_status")),
            "presort_reason": cell_text(first.get("presort_reason")),
        }
        for gene, lq in logs.items()
    ]


def reference_disagreement(reference_rows: list[dict[str, Any]], max_fold: float) -> list[str]:
    """Reference genes whose share of the references' mean differs between CD34pos and
    CD34neg by more than ``max_fold`` (per-plate ratios averaged in log10 per fraction)."""
    by: dict[tuple[str, str], list[float]] = {}
    for row in reference_rows:
        if row["plate"] == COMBINED:
            continue
        by.setdefault((str(row["gene"]), str(row["fraction"])), []).append(row["log10_value"])
    out = []
    for gene in sorted({g for g, _ in by}):
        pos, neg = by.get((gene, "CD34pos")), by.get((gene, "CD34neg"))
        if not pos or not neg:
            continue
        diff = sum(pos) / len(pos) - sum(neg) / len(neg)
        if abs(diff) > math.log10(max_fold) + 1e-12:
            out.append(f"{gene} {10**diff:.3g}x (CD34pos/CD34neg share of the references' mean)")
    return out


def _sort_key(row: Mapping[str, Any]) -> tuple:
    """Output order: kind, gene, fraction, unit, per-plate rows before combined, plate."""
    plate = row["plate"]
    return (row["kind"], row["gene"], row["fraction"], row["unit"], plate == COMBINED, plate)


def normalise_patient(pairs: Rows, settings: NormaliseSettings) -> list[dict[str, Any]]:
    """Normalise one patient's paired quantities (:func:`sortpcr.pairing.pair_patient`).

    ``pairs``: dict rows (or a DataFrame) of :data:`sortpcr.pairing.PAIR_COLUMNS`. Returns
    dict rows, one per fraction x plate x gene (every target but the reference genes), a
    ``combined`` row per fraction x gene x unit, and with two or more reference genes rows
    of kind ``reference``; keys :data:`EXPRESSION_COLUMNS` + :data:`EXTRA_COLUMNS`.
    ``value``: AU relative to IM-9 (unit ``relative``) or NCN per ``fusion_scale``
    reference copies (fusion), a bound when ``censor`` is set; ``log10_se`` in log10 units.
    """
    records = as_records(pairs)
    by_sample = group_rows(records, ("fraction", "plate"))
    preps = {(str(r["fraction"]), str(r["plate"])): cell_text(r.get("cdna")) for r in records}
    rt_note = f"rt_sd_log2 {settings.rt_sd_log2:g} (configured)"

    def per_plate_rows(use: NormaliseSettings) -> tuple[list[dict], list[dict]]:
        per_plate: list[dict[str, Any]] = []
        reference: list[dict[str, Any]] = []
        for key in sorted(by_sample):
            rows = by_sample[key]
            refs, problems = _references(rows, use)
            reference += _reference_rows(key, refs, problems)
            for row in rows:
                if str(row["target"]) in {*use.reference_genes, ""}:
                    continue
                per_plate.append(_normalise_one(row, refs, problems, use))
        return per_plate, reference

    per_plate, reference = per_plate_rows(settings)
    if not settings.rt_sd_log2 > 0 and len({p for p in preps.values() if p}) >= 2:
        sd, df = estimate_rt_sd(per_plate, preps, len(settings.reference_genes))
        if df > 0:
            settings = replace(settings, rt_sd_log2=sd, rt_df=float(df))
            per_plate, reference = per_plate_rows(settings)
            rt_note = f"rt_sd_log2 {sd:.3g} estimated from the cDNA preparations ({df} df)"
    for row in per_plate:
        row["rt_sd_log2"] = settings.rt_sd_log2
        if settings.rt_df < math.inf and row["log10_budget"]:
            row["reason"] = "; ".join(p for p in (row["reason"], rt_note) if p)
    by_gene = group_rows(per_plate, ("fraction", "gene", "unit"))
    combined = [_combine(by_gene[key]) for key in sorted(by_gene)]
    ref_groups = group_rows(reference, ("fraction", "gene", "unit"))
    for key in sorted(ref_groups):
        group = ref_groups[key]
        mean = sum(r["log10_value"] for r in group) / len(group)
        row = dict(group[0], plate=COMBINED, log10_value=mean, value=10.0**mean)
        row.update(target_quantity=math.nan, gus_quantity=math.nan)
        combined.append(row)
    disagree = reference_disagreement(reference, settings.reference_max_disagreement)
    table = per_plate + combined + reference
    if disagree:
        note = (
            f"reference genes disagree between fractions by more than "
            f"{settings.reference_max_disagreement:g}-fold: {', '.join(disagree)}"
        )
        for row in table:
            row["flags"] = _join([row["flags"], "reference_disagreement"])
            row["reason"] = "; ".join(p for p in (row["reason"], note) if p)
    columns = EXPRESSION_COLUMNS + EXTRA_COLUMNS
    table = sorted(table, key=_sort_key)
    return [{c: row.get(c) for c in columns} for row in table]


# --- geNorm over a cohort ----------------------------------------------------------------


def genorm_m(log2_levels: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """geNorm gene-stability measure M of each reference gene (Vandesompele 2002).

    ``log2_levels``: gene -> log2 quantity per sample (same samples, same order, every
    value finite). For genes j, k: ``V_jk`` = sample SD (n - 1) over samples of
    ``log2 q_j - log2 q_k``; ``M_j`` = mean of ``V_jk`` over the other genes k. Lower is more
    stable. Needs two genes and two samples.
    """
    genes = list(log2_levels)
    if len(genes) < 2:
        raise ValueError("geNorm M needs at least two reference genes")
    n = len(log2_levels[genes[0]])
    if n < 2 or any(len(v) != n for v in log2_levels.values()):
        raise ValueError("geNorm M needs the same two or more samples for every gene")

    def sd(values: list[float]) -> float:
        mean = sum(values) / len(values)
        return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))

    pair_sd = {
        (a, b): sd([x - y for x, y in zip(log2_levels[a], log2_levels[b], strict=True)])
        for a in genes
        for b in genes
        if a != b
    }
    return {a: sum(pair_sd[(a, b)] for b in genes if b != a) / (len(genes) - 1) for a in genes}


def pairwise_v(log2_levels: Mapping[str, Sequence[float]], order: Sequence[str]) -> list[float]:
    """geNorm pairwise variation ``V_n/n+1`` for ``n = 2 .. len(order) - 1``.

    ``order``: genes from most to least stable (e.g. by :func:`genorm_m`). ``V_n/n+1`` =
    sample SD over samples of ``log2 NF_n - log2 NF_n+1``, with ``NF_n`` the geometric mean
    of the first n genes (a mean of log2 values). Below 0.15 the (n+1)th gene adds little.
    """
    n_samples = len(log2_levels[order[0]])

    def nf(n: int) -> list[float]:
        return [sum(log2_levels[g][i] for g in order[:n]) / n for i in range(n_samples)]

    out = []
    for n in range(2, len(order)):
        diff = [a - b for a, b in zip(nf(n), nf(n + 1), strict=True)]
        mean = sum(diff) / len(diff)
        out.append(math.sqrt(sum((d - mean) ** 2 for d in diff) / (len(diff) - 1)))
    return out


__all__ = [
    "CENSORED",
    "COMBINED",
    "EXPRESSION_COLUMNS",
    "EXTRA_COLUMNS",
    "NormaliseSettings",
    "combine_log10",
    "genorm_m",
    "normalise_patient",
    "pairwise_v",
    "ratio_log10_se",
    "reference_disagreement",
]
