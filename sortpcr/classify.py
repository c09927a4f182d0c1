"""Per-gene CD34+/CD34- calls, their confidence intervals, and the patient's resistance group.

fold = expression in CD34pos / expression in CD34neg (AU relative to IM-9, the ``combined``
rows of :func:`sortpcr.normalise.normalise_patient`). The call follows the study's rule
("differences in expression level ... in >=two-fold we considered as significant"):

* ``CD34pos_higher`` if fold >= threshold (2.0: exactly 2.0 counts as different),
* ``CD34neg_higher`` if fold <= 1/threshold,
* ``no_difference`` otherwise,
* ``not_evaluable`` with the reason when QC failed: pre-sort CD34 heterogeneity, purity of
  either sorted fraction, a failed measurement (standard curve, GUS, missing sample), or the
  target undetected in both fractions.

Ties with the threshold are judged with a relative tolerance of 1e-9, so that a fold which is
2.0 in decimal arithmetic (0.6/0.3 = 1.9999999999999998 in binary) counts as 2.0.

Bounds (censored values, see normalise): a fraction whose value is a bound (``<`` below the
LOQ or undetected, ``>`` above the top standard when extrapolation is off) gives a bounded
fold: CD34pos ``<`` b with CD34neg n gives fold ``<`` b/n (``fold_censor`` ``<``, the bound in
``fold``), and so on; both fractions bounded in opposite directions bound the fold too. A call
is made from a bound only when the bound alone decides it (fold ``<=`` bound ``<=``
1/threshold, or fold ``>=`` bound ``>=`` threshold), flagged ``bound``; otherwise
``not_evaluable`` with the bound in the reason.

Confidence interval of a fold: the two fractions' error budgets are subtracted
(:mod:`sortpcr.uncertainty`): components shared by both fractions (the same standard curve's
level, which cancels; its slope, which scales with the difference of the two log10
quantities) are netted exactly, the rest add in quadrature. Interval
10^(log10 fold +- t * SE) with the Student t quantile at the Welch-Satterthwaite ``df`` and
two-sided ``ci_level``. ``ci_crosses_threshold`` is true when the interval's two ends would get
different calls (the call is not robust to the measurement error).

Resistance group (study's Table 2) from the genes in ``genes``: ``CD34pos_only``,
``CD34neg_only``, ``both``, ``none``; ``excluded`` when flow QC failed or no gene is
evaluable. A group built from fewer genes than configured says so in its reason. The group
stays one of these names (for counting); ``group_flag`` is ``*`` when it rests on a flagged
call (an interval crossing a threshold, or a call from a bound) and ``footnote`` names the
genes and why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sortpcr.censored import fold_censor
from sortpcr.io import Rows, as_records, cell_float, cell_text
from sortpcr.normalise import COMBINED, USABLE
from sortpcr.settings import ClassifySettings
from sortpcr.uncertainty import budget_df, combine, from_text, t_quantile, variance
from sortpcr.uncertainty import interval as budget_interval

CALLS = ("CD34pos_higher", "CD34neg_higher", "no_difference", "not_evaluable")
GROUPS = ("CD34pos_only", "CD34neg_only", "both", "none", "excluded")
#: the resistance groups in words, in the study's row order (tables, report, figures)
GROUP_WORDS: dict[str, str] = {
    "CD34pos_only": "higher in CD34+ blasts only",
    "CD34neg_only": "higher in CD34− blasts only",
    "both": "higher in CD34+ and in CD34− blasts (different genes)",
    "none": "no difference between CD34+ and CD34− blasts",
    "excluded": "excluded (quality control failed)",
}
TIE_TOLERANCE = 1e-9

CALL_COLUMNS: list[str] = [
    "patient",
    "lineage",
    "gene",
    "cd34pos",
    "cd34neg",
    "fold",
    "fold_low",
    "fold_high",
    "call",
    "reason",
    "log2_fold",
    "ci_crosses_threshold",
    "unit",
    "cd34pos_log10_se",
    "cd34neg_log10_se",
    "flags",
    "fold_censor",
    "cd34pos_censor",
    "cd34neg_censor",
    "df",
    "fold_se_log10",
]
GROUP_COLUMNS: list[str] = [
    "patient",
    "lineage",
    "group",
    "genes_pos",
    "genes_neg",
    "reason",
    "group_flag",
    "footnote",
]
FUSION_COLUMNS: list[str] = [
    "patient",
    "lineage",
    "gene",
    "fraction",
    "value",
    "value_low",
    "value_high",
    "log10_se",
    "eac_class",
    "higher",
    "fold",
    "fold_low",
    "fold_high",
    "reason",
    "detection_limit",
]


PREFERRED_UNIT = "relative"
"""The expression unit a call uses when both fractions have it (AU relative to IM-9)."""


@dataclass(frozen=True)
class PatientCalls:
    """Result of :func:`classify_patient`: per-gene calls, the group row, fusion rows, each
    a list of dict rows (keys :data:`CALL_COLUMNS`, :data:`GROUP_COLUMNS`,
    :data:`FUSION_COLUMNS`)."""

    calls: list[dict[str, Any]]
    group: list[dict[str, Any]]
    fusion: list[dict[str, Any]]


def call_fold(fold: float, threshold: float) -> str:
    """Call a fold (CD34pos/CD34neg, > 0): at or beyond the threshold either way = different."""
    if not (isinstance(fold, int | float) and math.isfinite(fold) and fold > 0):
        return "not_evaluable"
    if fold >= threshold * (1.0 - TIE_TOLERANCE):
        return "CD34pos_higher"
    if fold <= (1.0 / threshold) * (1.0 + TIE_TOLERANCE):
        return "CD34neg_higher"
    return "no_difference"


def fold_interval(
    log10_fold: float, se: float, ci_level: float, df: float = math.inf
) -> tuple[float, float]:
    """Two-sided t interval of a fold from its log10 value, SE and degrees of freedom
    (``df = inf``: the normal quantile)."""
    if not (math.isfinite(log10_fold) and math.isfinite(se)):
        return math.nan, math.nan
    t = t_quantile(0.5 + ci_level / 2.0, df)
    return 10.0 ** (log10_fold - t * se), 10.0 ** (log10_fold + t * se)


def fold_budget(pos: Mapping[str, Any], neg: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """Error budget of log10(CD34pos / CD34neg) from the two rows' ``log10_budget``
    (older tables without one: one independent term per fraction from ``log10_se``)."""

    def own(row: Mapping[str, Any], name: str) -> dict[str, tuple[float, float]]:
        budget = from_text(cell_text(row.get("log10_budget")))
        se = cell_float(row.get("log10_se"))
        if not budget and math.isfinite(se) and se > 0:
            budget = {f"se/{name}#value": (se, math.inf)}
        return budget

    return combine([(1.0, own(pos, "CD34pos")), (-1.0, own(neg, "CD34neg"))])


def ci_crosses(fold_low: float, fold_high: float, threshold: float) -> bool | None:
    """True when the interval's ends would be called differently; None if unknown."""
    if not (math.isfinite(fold_low) and math.isfinite(fold_high)):
        return None
    return call_fold(fold_low, threshold) != call_fold(fold_high, threshold)


def _flow_problems(expression: list[dict[str, Any]], fractions: tuple[str, ...]) -> list[str]:
    """Flow QC failures carried on the expression rows (pre-sort and each sorted fraction)."""
    if not expression:
        return []
    problems: list[str] = []
    first = expression[0]
    presort = cell_text(first.get("presort_status"))
    # a file that could not be read or gated is not a heterogeneity or purity verdict
    if presort and presort != "pass":
        why = cell_text(first.get("presort_reason"))
        check = "CD34 heterogeneity" if _is_verdict(why) else "file"
        problems.append(f"pre-sort {check} {presort}" + (f": {why}" if why else ""))
    for fraction in fractions:
        rows = [r for r in expression if r["fraction"] == fraction]
        if not rows:
            continue
        status = cell_text(rows[0].get("flow_status"))
        if status and status != "pass":
            why = cell_text(rows[0].get("flow_reason"))
            check = "purity" if _is_verdict(why) else "file"
            problems.append(f"{fraction} {check} {status}" + (f": {why}" if why else ""))
    return problems


def _is_verdict(reason: str) -> bool:
    """True for the reason of a flow QC verdict (flowqc: purity, CD34+ share, gated blasts),
    False for a file that could not be read or gated (its reason names the file)."""
    return not reason or any(word in reason for word in ("purity", "blasts", "CD34+"))


def _pick(
    combined: list[dict[str, Any]], gene: str, kind: str, preferred_unit: str
) -> tuple[dict | None, dict | None, str]:
    """The CD34pos and CD34neg combined rows of one gene, in one shared unit."""
    rows = [r for r in combined if r["gene"] == gene and r["kind"] == kind]
    units = sorted({str(r["unit"]) for r in rows})
    by_unit: dict[str, dict[str, dict]] = {}
    for row in rows:
        by_unit.setdefault(str(row["unit"]), {})[str(row["fraction"])] = row
    both = [u for u in units if {"CD34pos", "CD34neg"} <= set(by_unit[u])]
    if preferred_unit in both:
        unit = preferred_unit
    elif both:
        unit = both[0]
    elif preferred_unit in by_unit:
        unit = preferred_unit
    else:
        unit = units[0] if units else ""
    chosen = by_unit.get(unit, {})
    return chosen.get("CD34pos"), chosen.get("CD34neg"), unit


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _number(row: Mapping[str, Any]) -> bool:
    return row["status"] in USABLE and not cell_text(row.get("censor"))


def _bounded(row: Mapping[str, Any]) -> bool:
    value = cell_float(row.get("value"))
    return cell_text(row.get("censor")) in ("<", ">") and math.isfinite(value) and value > 0


def _bound_call(
    gene: str, pos: dict, neg: dict, out: dict, thr: float, ci_level: float
) -> dict[str, Any] | None:
    """The fold bound when at least one fraction is a bound (``None`` if no bound exists)."""
    p_val, n_val = cell_float(pos["value"]), cell_float(neg["value"])
    p_c, n_c = cell_text(pos.get("censor")), cell_text(neg.get("censor"))
    direction = fold_censor(p_c, n_c)  # "<" on pos or ">" on neg bounds pos/neg from above
    if not direction:
        return None
    point = p_val / n_val
    # conservative: move the bound outward by the one-sided t quantile (the end of the
    # two-sided ci_level interval) times the SE of what is known (the other fraction's value,
    # the references, RT)
    budget = fold_budget(pos, neg)
    se, df = math.sqrt(variance(budget)), budget_df(budget)
    t = t_quantile(0.5 + ci_level / 2.0, df) if se > 0 else 0.0
    bound = point * 10.0 ** (t * se if direction == "<" else -t * se)
    out.update(fold=bound, fold_censor=direction, log2_fold=math.log2(bound))
    out.update(df=df if se > 0 else math.nan, fold_se_log10=se if se > 0 else math.nan)
    out["fold_high" if direction == "<" else "fold_low"] = bound
    parts = [f"{f} {c} {_fmt(v)}" if c else f"{f} {_fmt(v)}"
             for f, c, v in (("CD34pos", p_c, p_val), ("CD34neg", n_c, n_val))]  # fmt: skip
    text = f"{gene}: {', '.join(parts)}: fold {direction} {_fmt(point)}"
    if bound != point:
        text += f" ({direction} {_fmt(bound)} at the {ci_level:.0%} interval's end)"
    decided = call_fold(bound, thr)
    if direction == "<" and decided == "CD34neg_higher":
        call = decided
    elif direction == ">" and decided == "CD34pos_higher":
        call = decided
    else:
        return dict(out, call="not_evaluable", reason=text + ", which does not decide the call")
    flags = [f for f in out["flags"].split(";") if f] + ["bound"]
    return dict(out, call=call, flags=";".join(flags), reason=text + "; the call rests on a bound")


def _gene_call(
    gene: str, pos: dict | None, neg: dict | None, settings: ClassifySettings
) -> dict[str, Any]:
    """The call of one gene from its two combined rows (flow QC already passed)."""
    thr = settings.fold_threshold
    out: dict[str, Any] = {
        "gene": gene,
        "cd34pos": math.nan,
        "cd34neg": math.nan,
        "fold": math.nan,
        "fold_low": math.nan,
        "fold_high": math.nan,
        "log2_fold": math.nan,
        "ci_crosses_threshold": None,
        "cd34pos_log10_se": math.nan,
        "cd34neg_log10_se": math.nan,
        "flags": "",
        "fold_censor": "",
        "cd34pos_censor": "",
        "cd34neg_censor": "",
        "df": math.nan,
        "fold_se_log10": math.nan,
    }
    missing = [f for f, r in (("CD34pos", pos), ("CD34neg", neg)) if r is None]
    if missing:
        return dict(
            out,
            call="not_evaluable",
            reason=f"no {gene} measurement for {' and '.join(missing)}",
        )
    assert pos is not None and neg is not None
    for fraction, row in (("cd34pos", pos), ("cd34neg", neg)):
        if _number(row) or _bounded(row):
            out[fraction] = cell_float(row["value"])
            out[f"{fraction}_censor"] = cell_text(row.get("censor"))
        if _number(row):
            out[f"{fraction}_log10_se"] = cell_float(row["log10_se"])
    flag_parts = [
        f"{f}:{flag}"
        for f, r in (("CD34pos", pos), ("CD34neg", neg))
        for flag in cell_text(r.get("flags")).split(";")
        if flag
    ]
    out["flags"] = ";".join(flag_parts)
    notes = [
        f"{f}: {cell_text(r.get('reason'))}"
        for f, r in (("CD34pos", pos), ("CD34neg", neg))
        if cell_text(r.get("reason")) and _number(r)
    ]
    if _number(pos) and _number(neg):
        log10_fold = cell_float(pos["log10_value"]) - cell_float(neg["log10_value"])
        fold = 10.0**log10_fold
        low, high, se, df = budget_interval(log10_fold, fold_budget(pos, neg), settings.ci_level)
        crosses = ci_crosses(low, high, thr)
        call = call_fold(fold, thr)
        if crosses:
            notes.append(
                f"{settings.ci_level:.0%} interval {_fmt(low)}-{_fmt(high)} crosses a threshold"
            )
        return dict(
            out,
            fold=fold,
            fold_low=low,
            fold_high=high,
            log2_fold=math.log2(fold),
            ci_crosses_threshold=crosses,
            df=df,
            fold_se_log10=se,
            call=call,
            reason="; ".join(notes),
        )
    undetected = {"undetected", "negative"}
    if pos["status"] in undetected and neg["status"] in undetected:
        return dict(out, call="not_evaluable", reason=f"{gene} undetected in both fractions")
    if (_number(pos) or _bounded(pos)) and (_number(neg) or _bounded(neg)):
        result = _bound_call(gene, pos, neg, out, thr, settings.ci_level)
        if result is not None:
            return result
        return dict(
            out,
            call="not_evaluable",
            reason=f"{gene}: both fractions are bounds in the same direction: the fold is "
            "unbounded",
        )
    for absent, a_row, p_row in (("CD34pos", pos, neg), ("CD34neg", neg, pos)):
        if a_row["status"] in undetected and _number(p_row):
            return dict(
                out,
                call="not_evaluable",
                reason=f"{gene} undetected in {absent} only and no detection limit known "
                f"(standards' range missing): the fold is unbounded",
            )
    reasons = [
        f"{f}: {r['status']}"
        + (f" ({cell_text(r.get('reason'))})" if cell_text(r.get("reason")) else "")
        for f, r in (("CD34pos", pos), ("CD34neg", neg))
        if not (_number(r) or _bounded(r))
    ]
    return dict(out, call="not_evaluable", reason="; ".join(reasons))


def group_footnote(calls: Rows, genes: tuple[str, ...], ci_level: float) -> tuple[str, str]:
    """(``group_flag``, ``footnote``): ``*`` and the genes whose evaluable call is flagged
    (interval crossing a threshold, or a call resting on a bound), and a note when the
    patient's reference genes disagree between the fractions (normalise's
    ``reference_disagreement``)."""
    notes = []
    records = as_records(calls)
    if any(
        "reference_disagreement" in cell_text(r.get("flags"))
        for r in records
        if r["gene"] in genes and r["call"] in CALLS[:3]
    ):
        notes.append("reference genes disagree between CD34+ and CD34- (see expression)")
    for row in records:
        if row["gene"] not in genes or row["call"] not in CALLS[:3]:
            continue
        flags = cell_text(row.get("flags")).split(";")
        if row.get("ci_crosses_threshold") is True:
            notes.append(
                f"{row['gene']}: {ci_level:.0%} interval {_fmt(cell_float(row['fold_low']))}-"
                f"{_fmt(cell_float(row['fold_high']))} crosses a threshold"
            )
        elif "bound" in flags:
            notes.append(
                f"{row['gene']}: call from a bound (fold {cell_text(row.get('fold_censor'))} "
                f"{_fmt(cell_float(row['fold']))})"
            )
    return ("*" if notes else ""), "; ".join(notes)


def resistance_group(
    calls: Rows, genes: tuple[str, ...], flow_problems: list[str] | None = None
) -> tuple[str, list[str], list[str], str]:
    """(group, genes_pos, genes_neg, reason) from a patient's per-gene calls (dict rows or a
    DataFrame with ``gene`` and ``call``)."""
    if flow_problems:
        return "excluded", [], [], "flow QC failed: " + "; ".join(flow_problems)
    by_gene = {str(r["gene"]): str(r["call"]) for r in as_records(calls) if r["gene"] in genes}
    pos = [g for g in genes if by_gene.get(g) == "CD34pos_higher"]
    neg = [g for g in genes if by_gene.get(g) == "CD34neg_higher"]
    evaluable = [g for g in genes if by_gene.get(g) in CALLS[:3]]
    if not evaluable:
        return "excluded", [], [], "no gene evaluable"
    group = {(True, True): "both", (True, False): "CD34pos_only", (False, True): "CD34neg_only"}
    name = group.get((bool(pos), bool(neg)), "none")
    missing = [g for g in genes if g not in evaluable]
    reason = ""
    if missing:
        reason = f"from {len(evaluable)} of {len(genes)} genes; not evaluable: {', '.join(missing)}"
    return name, pos, neg, reason


def compare_fusion(
    expression: Rows,
    lineage: str,
    flow_problems: list[str] | None,
    ci_level: float,
) -> list[dict[str, Any]]:
    """TEL-AML1 (any fusion target) per fraction with its EAC class and which fraction is higher.

    ``value`` = normalised copy number (fusion copies per ``fusion_scale`` GUS copies) with
    its interval ``value_low``-``value_high``; ``higher`` = CD34pos, CD34neg,
    equal, neither (negative in both) or not_evaluable; ``fold`` = NCN CD34pos / CD34neg
    when both are positive (no threshold: the study only says which is higher). Returns dict
    rows with keys :data:`FUSION_COLUMNS`, two per fusion gene.
    """
    combined = [
        r for r in as_records(expression) if r["plate"] == COMBINED and r["kind"] == "fusion"
    ]
    records: list[dict[str, Any]] = []
    for gene in sorted({str(r["gene"]) for r in combined}):
        pos, neg, _unit = _pick(combined, gene, "fusion", "copies")
        rows = {"CD34pos": pos, "CD34neg": neg}
        fold = low = high = math.nan
        reason = ""
        if flow_problems:
            higher, reason = "not_evaluable", "flow QC failed: " + "; ".join(flow_problems)
        elif pos is None or neg is None:
            higher, reason = "not_evaluable", "fusion measured in one fraction only"
        elif "inevaluable" in (pos["status"], neg["status"]):
            higher = "not_evaluable"
            reason = "; ".join(
                cell_text(r["reason"]) for r in (pos, neg) if r["status"] == "inevaluable"
            )
        elif pos["status"] == "negative" and neg["status"] == "negative":
            higher = "neither"
        elif pos["status"] == "negative":
            higher = "CD34neg"
        elif neg["status"] == "negative":
            higher = "CD34pos"
        elif "positive_not_quantifiable" in (pos["status"], neg["status"]):
            # EAC: no number for a positive, not quantifiable fraction; it enters no fold
            pnq = [f for f, r in rows.items() if r["status"] == "positive_not_quantifiable"]
            if len(pnq) == 2:
                higher, reason = "not_evaluable", "positive, not quantifiable in both fractions"
            else:
                other = "CD34neg" if pnq[0] == "CD34pos" else "CD34pos"
                limit = cell_float(rows[pnq[0]].get("detection_limit"))
                if cell_float(rows[other]["value"]) > limit:
                    higher = other
                    reason = (
                        f"{pnq[0]} positive, not quantifiable (< {_fmt(limit)}); {other} "
                        "quantifiable above that bound"
                    )
                else:
                    higher = "not_evaluable"
                    reason = f"{pnq[0]} positive, not quantifiable; no fold (EAC)"
        else:
            log10_fold = cell_float(pos["log10_value"]) - cell_float(neg["log10_value"])
            fold = 10.0**log10_fold
            low, high, _se, _df = budget_interval(log10_fold, fold_budget(pos, neg), ci_level)
            higher = "CD34pos" if fold > 1 else "CD34neg" if fold < 1 else "equal"
        patient = str(combined[0]["patient"])
        for fraction in ("CD34pos", "CD34neg"):
            row = rows[fraction]
            value = cell_float(row["value"]) if row is not None else math.nan
            se = cell_float(row["log10_se"]) if row is not None else math.nan
            df = cell_float(row.get("df")) if row is not None else math.nan
            n_low, n_high = (
                fold_interval(math.log10(value), se, ci_level, df if df > 0 else math.inf)
                if row is not None and value > 0
                else (math.nan, math.nan)
            )
            records.append(
                {
                    "patient": patient,
                    "lineage": lineage,
                    "gene": gene,
                    "fraction": fraction,
                    "value": value,
                    "value_low": n_low,
                    "value_high": n_high,
                    "log10_se": se,
                    "eac_class": row["status"] if row is not None else "not_measured",
                    "higher": higher,
                    "fold": fold,
                    "fold_low": low,
                    "fold_high": high,
                    "detection_limit": (
                        cell_float(row.get("detection_limit")) if row is not None else math.nan
                    ),
                    "reason": "; ".join(
                        p
                        for p in (reason, cell_text(row["reason"]) if row is not None else "")
                        if p
                    ),
                }
            )
    return records


def classify_patient(
    expression: Rows,
    lineage: str,
    settings: ClassifySettings,
    patient: str | None = None,
) -> PatientCalls:
    """Calls, group and fusion comparison of one patient from its normalised table.

    ``expression``: the output of :func:`sortpcr.normalise.normalise_patient`, dict rows or
    a DataFrame (values in AU relative to IM-9; the ``combined`` rows are used). ``lineage``:
    BCP or T, from the sample sheet. Returns :class:`PatientCalls` with dict rows of
    :data:`CALL_COLUMNS` (one row per gene in ``settings.genes``), :data:`GROUP_COLUMNS` (one
    row) and :data:`FUSION_COLUMNS`.
    """
    expression = as_records(expression)
    if patient is None:
        if not expression:
            raise ValueError("classify_patient: empty expression table and no patient given")
        patient = str(expression[0]["patient"])
    problems = _flow_problems(expression, ("CD34pos", "CD34neg"))
    combined = [r for r in expression if r["plate"] == COMBINED]
    records: list[dict[str, Any]] = []
    for gene in settings.genes:
        if combined:
            pos, neg, unit = _pick(combined, gene, "expression", PREFERRED_UNIT)
        else:
            pos, neg, unit = None, None, ""
        row = _gene_call(gene, pos, neg, settings)
        if problems:
            row.update(call="not_evaluable", reason="flow QC failed: " + "; ".join(problems))
            row["ci_crosses_threshold"] = None
        row.update(patient=patient, lineage=lineage, unit=unit)
        records.append({c: row.get(c) for c in CALL_COLUMNS})
    group, genes_pos, genes_neg, reason = resistance_group(records, settings.genes, problems)
    if not expression:
        reason = "no qPCR results for this patient"
    flag, footnote = (
        ("", "")
        if group == "excluded"
        else group_footnote(records, settings.genes, settings.ci_level)
    )
    group_row = {
        "patient": patient,
        "lineage": lineage,
        "group": group,
        "genes_pos": ",".join(genes_pos),
        "genes_neg": ",".join(genes_neg),
        "reason": reason,
        "group_flag": flag,
        "footnote": footnote,
    }
    fusion = compare_fusion(expression, lineage, problems, settings.ci_level)
    return PatientCalls(calls=records, group=[group_row], fusion=fusion)
