"""The report's own pages: the front page (the answer), one page per patient, and the
pages of the result tables. Each function returns a whole self-contained HTML document.

Units: expression in AU relative to IM-9 (target/GUS), TEL-AML1 in EAC % (copies/GUS copies
x 100), folds CD34+/CD34- as ratios; intervals are those of the tables (the fold's
``fold_low``/``fold_high``), or for a fraction's value ``value`` x/÷ 10^(z x log10_se) at
the stated level when the table has no bounds.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from statistics import NormalDist

import pandas as pd

from sortpcr.classify import GROUP_WORDS
from sortpcr.io import cell_text
from sortpcr.report.html import cell, columns_html, data_uri, page, table_html
from sortpcr.report.journal import (
    JOURNAL_STYLE,
    LINEAGE_WORDS,
    TITLE1,
    TITLE2,
    journal_html,
    table1_journal,
    table2_journal,
)

#: marker around the part of the front page the report's landing page shows
LANDING = "<!--landing-->"
CALL_WORDS = {
    "CD34pos_higher": "higher in CD34+",
    "CD34neg_higher": "higher in CD34−",
    "no_difference": "no difference",
    "not_evaluable": "not evaluable",
}


def _e(value: object) -> str:
    return html.escape(cell_text(value))


def _column(table: pd.DataFrame, name: str) -> pd.Series:
    return table[name] if name in table.columns else pd.Series([""] * len(table), index=table.index)


def gene_counts(calls: pd.DataFrame) -> pd.DataFrame:
    """Per gene and lineage: patients per call (the study's per-gene counts)."""
    rows = []
    for (gene, lineage), part in calls.groupby(["gene", "lineage"], sort=False):
        row = {"gene": gene, "lineage": lineage, "n": len(part)}
        for call, words in CALL_WORDS.items():
            row[words] = int((part["call"] == call).sum())
        rows.append(row)
    table = pd.DataFrame(rows)
    if len(table):
        table = table.sort_values(["lineage", "gene"], kind="stable").reset_index(drop=True)
    return table


def _p(value: object) -> str:
    number = pd.to_numeric(value, errors="coerce")
    if pd.isna(number):
        return "n/a"
    return "< 0.001" if number < 0.001 else f"{number:.3f}"


def statistics_sentences(statistics: pd.DataFrame) -> list[str]:
    """One sentence per gene and lineage of the statistics table."""
    out = []
    for _, r in statistics.iterrows():
        lineage = LINEAGE_WORDS.get(cell_text(r["lineage"]), cell_text(r["lineage"]))
        fold = pd.to_numeric(r.get("median_fold"), errors="coerce")
        fold_text = "n/a" if pd.isna(fold) else f"{fold:.2f}"
        out.append(
            f"{cell_text(r['gene'])} in {lineage} ({cell(r.get('n'))} paired patients): "
            f"median fold CD34+/CD34− {fold_text}; higher in CD34+ in "
            f"{cell(r.get('n_cd34pos_higher'))}, in CD34− in {cell(r.get('n_cd34neg_higher'))}, "
            f"no difference in {cell(r.get('n_no_difference'))}, not evaluable "
            f"{cell(r.get('n_not_evaluable'))}; paired t-test on log2 values p = "
            f"{_p(r.get('p_t_log2'))} (Benjamini–Hochberg {_p(r.get('p_t_log2_bh'))}), "
            f"Wilcoxon p = {_p(r.get('p_wilcoxon'))}."
        )
    return out


def exclusions(
    groups: pd.DataFrame, calls: pd.DataFrame, curves: pd.DataFrame | None = None
) -> pd.DataFrame:
    """What was left out of the answer and why: excluded patients, calls not evaluable,
    standard curves that did not pass."""
    rows = []
    for _, r in groups[groups["group"] == "excluded"].iterrows():
        rows.append(
            {"what": "patient", "patient": r["patient"], "gene": "", "reason": r.get("reason")}
        )
    bad = calls[
        (calls["call"] == "not_evaluable")
        & ~calls["patient"].isin(groups.loc[groups["group"] == "excluded", "patient"])
    ]
    for _, r in bad.iterrows():
        rows.append(
            {"what": "call", "patient": r["patient"], "gene": r["gene"], "reason": r.get("reason")}
        )
    if curves is not None and len(curves):
        for _, r in curves[curves["status"] != "pass"].iterrows():
            rows.append(
                {
                    "what": f"standard curve {cell_text(r['plate'])} ({cell_text(r['status'])})",
                    "patient": "",
                    "gene": r["target"],
                    "reason": r.get("reason"),
                }
            )
    return pd.DataFrame(rows, columns=["what", "patient", "gene", "reason"])


def flagged_calls(calls: pd.DataFrame) -> pd.DataFrame:
    """Calls that stand but carry a flag (interval crossing the threshold, a bound, …)."""
    crosses = _column(calls, "ci_crosses_threshold").map(lambda v: cell_text(v) == "True")
    flags = _column(calls, "flags").map(cell_text)
    mine = calls[(crosses | (flags != "")) & (calls["call"] != "not_evaluable")]
    columns = [c for c in ("patient", "gene", "call", "fold", "fold_low", "fold_high", "flags")
               if c in calls.columns]  # fmt: skip
    return mine[columns].reset_index(drop=True)


def _claims_html(claims: pd.DataFrame | None) -> str:
    if claims is None:
        return '<p class="note">The claims table (results/cohort/claims.tsv) was not built.</p>'
    rows = []
    # the claims that differ first: they are what a reader of the study needs to see
    order = claims["agree"].map(cell_text).map({"False": 0, "True": 2}).fillna(1)
    for _, r in claims.iloc[order.argsort(kind="stable")].iterrows():
        agree = cell_text(r.get("agree"))
        mark = (
            '<span class="pass">agrees</span>'
            if agree == "True"
            else '<span class="fail">differs</span>'
            if agree == "False"
            else _e(agree)
        )
        rows.append(
            f"<tr><td>{_e(r.get('section'))}</td><td>{_e(r.get('statement'))}</td>"
            f"<td>{_e(r.get('study_value'))}</td><td>{_e(r.get('computed_value'))}</td>"
            f"<td>{mark}</td><td>{_e(r.get('note'))}</td></tr>"
        )
    n_agree = int((claims["agree"].map(cell_text) == "True").sum()) if len(claims) else 0
    return (
        f"<p>{n_agree} of {len(claims)} claims of the study agree with what these files give."
        "</p><table><thead><tr><th>section</th><th>the study says</th><th>study</th>"
        "<th>ours</th><th></th><th>note</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def front_page(
    groups: pd.DataFrame,
    calls: pd.DataFrame,
    statistics: pd.DataFrame,
    claims: pd.DataFrame | None,
    curves: pd.DataFrame | None,
    fold_threshold: float,
) -> str:
    """The answer: Table 2, per-gene counts, the study's claims beside ours, the statistics
    in a sentence each, what was excluded and why, and the list of patient pages."""
    table2, notes = table2_journal(groups)
    counts = gene_counts(calls)
    n = len(groups)
    n_excluded = int((groups["group"] == "excluded").sum())
    summary = ", ".join(
        f"{int((groups['group'] == g).sum())} of {n} {words}"
        for g, words in GROUP_WORDS.items()
        if g != "excluded" and (groups["group"] == g).any()
    )
    starred = [cell_text(p) for p, f in zip(groups["patient"], _column(groups, "group_flag"),
               strict=True) if cell_text(f) == "*"]  # fmt: skip
    short_note = (
        f'<p class="note">* the group rests on a flagged call (e.g. a fold interval crossing '
        f"the threshold): {', '.join(starred)}; the footnotes are on the answer page.</p>"
        if starred
        else ""
    )
    landing = (
        f"<p><b>{n} patients</b> ({n_excluded} excluded). A subpopulation counts as "
        f"“resistant” when at least one gene is ≥ {fold_threshold:g}-fold higher in it: "
        f"{summary}.</p>" + journal_html(table2, TITLE2) + short_note
    )
    full = journal_html(table2, TITLE2, notes)
    excluded = exclusions(groups, calls, curves)
    flagged = flagged_calls(calls)
    patients = groups[["patient", "lineage", "group"]].copy()
    patients["group"] = [
        GROUP_WORDS.get(g, g) + ("*" if cell_text(f) == "*" else "")
        for g, f in zip(groups["group"], _column(groups, "group_flag"), strict=True)
    ]
    patients["page"] = [f"patient_{p}.html" for p in groups["patient"]]
    body = (
        f"<style>{JOURNAL_STYLE}</style>"
        # the report's start page shows the landing part (resources/report/workflow.rst)
        f"<h2>Resistance groups</h2><template>{LANDING}{landing}{LANDING}</template>{full}"
        "<h2>Per gene: patients by call</h2>"
        f"<p>A call is a fold CD34+/CD34− of at least {fold_threshold:g} either way.</p>"
        + table_html(counts, "genes", interactive=False)
        + "<h2>The study's claims beside ours</h2>"
        + _claims_html(claims)
        + "<h2>Statistics, one sentence each</h2><ul>"
        + "".join(f"<li>{html.escape(s)}</li>" for s in statistics_sentences(statistics))
        + "</ul><h2>Excluded, and why</h2>"
        + (
            table_html(excluded, "excluded", interactive=False)
            if len(excluded)
            else "<p>Nothing was excluded: every patient and every call is evaluable.</p>"
        )
        + "<h2>Calls that stand but carry a flag</h2>"
        + (
            table_html(flagged, "flagged", interactive=False)
            if len(flagged)
            else "<p>No call is flagged.</p>"
        )
        + "<h2>Patients</h2><p>Each patient has a page (category <b>Patients</b> of the "
        "report, or the links on its start page): flow QC, the standard curves of the "
        "patient's plates, expression with intervals, calls, group and every flag.</p>"
        + table_html(patients, "patients")
    )
    return page("sortpcr: the answer", body)


def _interval(value: object, se: object, z: float) -> tuple[str, str]:
    v, s = pd.to_numeric(value, errors="coerce"), pd.to_numeric(se, errors="coerce")
    if pd.isna(v) or pd.isna(s):
        return "", ""
    factor = 10 ** (z * float(s))
    return cell(float(v) / factor), cell(float(v) * factor)


def expression_with_intervals(expression: pd.DataFrame, level: float) -> pd.DataFrame:
    """The patient's combined expression per fraction and gene with a ``level`` interval
    (value x/÷ 10^(z x log10_se)); ``censor`` ("<"/">") kept where a value is a bound."""
    z = NormalDist().inv_cdf(0.5 + level / 2)
    rows = []
    combined = expression[expression["plate"].map(cell_text) == "combined"]
    for _, r in combined.iterrows():
        low, high = _interval(r.get("value"), r.get("log10_se"), z)
        rows.append(
            {
                "gene": r["gene"],
                "fraction": r["fraction"],
                "unit": r.get("unit"),
                "censor": cell_text(r.get("censor")),
                "value": r.get("value"),
                f"low ({level:.0%})": low,
                f"high ({level:.0%})": high,
                "status": r.get("status"),
                "flags": r.get("flags"),
                "reason": r.get("reason"),
            }
        )
    return pd.DataFrame(rows)


def patient_flags(
    patient: str,
    flow: pd.DataFrame,
    expression: pd.DataFrame,
    calls: pd.DataFrame,
    group: pd.DataFrame,
) -> list[str]:
    """Every flag of one patient with its reason, in words."""
    out = []
    for _, r in flow.iterrows():
        if cell_text(r.get("status")) not in ("pass", ""):
            out.append(
                f"flow {cell_text(r['fraction'])}: {cell_text(r['status'])} — "
                f"{cell_text(r.get('reason'))}"
            )
    for _, r in expression.iterrows():
        flags, reason = cell_text(r.get("flags")), cell_text(r.get("reason"))
        if flags or (reason and cell_text(r.get("status")) != "ok"):
            out.append(
                f"expression {cell_text(r['gene'])} {cell_text(r['fraction'])} "
                f"({cell_text(r['plate'])}): {cell_text(r.get('status'))}"
                + (f" [{flags}]" if flags else "")
                + (f" — {reason}" if reason else "")
            )
    for _, r in calls.iterrows():
        flags = cell_text(r.get("flags"))
        crosses = cell_text(r.get("ci_crosses_threshold")) == "True"
        reason = cell_text(r.get("reason"))
        if flags or crosses or reason:
            words = [flags] if flags else []
            if crosses and "ci_crosses_threshold" not in flags and "interval" not in reason:
                words.append("the fold's interval crosses the threshold")
            call = cell_text(r["call"])
            out.append(
                f"call {cell_text(r['gene'])}: {CALL_WORDS.get(call, call)}"
                + (f" [{'; '.join(words)}]" if words else "")
                + (f" — {reason}" if reason else "")
            )
    for _, r in group.iterrows():
        if cell_text(r.get("reason")):
            out.append(f"group: {cell_text(r['group'])} — {cell_text(r['reason'])}")
        if cell_text(r.get("group_flag")) == "*":
            out.append(f"group rests on a flagged call (*): {cell_text(r.get('footnote'))}")
    return out


def _calls_view(calls: pd.DataFrame) -> pd.DataFrame:
    """A patient's calls, the columns a reader wants first in front, the rest after."""
    first = ["gene", "call", "fold", "fold_low", "fold_high", "cd34pos", "cd34neg", "unit"]
    first += [c for c in ("fold_censor", "flags", "reason") if c in calls.columns]
    first = [c for c in first if c in calls.columns]
    rest = [c for c in calls.columns if c not in first and c not in ("patient", "lineage")]
    return calls[first + rest]


def patient_page(
    patient: str,
    sample: Mapping[str, object],
    flow: pd.DataFrame,
    expression: pd.DataFrame,
    calls: pd.DataFrame,
    group: pd.DataFrame,
    fusion: pd.DataFrame,
    pairs: pd.DataFrame,
    flow_png: str | Path | None,
    plate_pngs: Mapping[str, str | Path],
    level: float,
) -> str:
    """One patient whole: characteristics, group, every flag, flow QC figure and table,
    the standard curves of the patient's plates, expression with intervals, calls."""
    grp = cell_text(group["group"].iloc[0]) if len(group) else "not classified"
    flag = "*" if len(group) and cell_text(_column(group, "group_flag").iloc[0]) == "*" else ""
    flags = patient_flags(patient, flow, expression, calls, group)
    facts = "; ".join(
        f"{k} {cell_text(sample.get(k))}"
        for k in ("lineage", "age", "status", "fusion", "markers")
        if cell_text(sample.get(k))
    )
    samples = (
        pairs[["fraction", "plate", "sample"]].drop_duplicates().sort_values(["plate", "fraction"])
        if len(pairs)
        else pd.DataFrame(columns=["fraction", "plate", "sample"])
    )
    body = [
        f"<p>{_e(facts)}</p>",
        f"<h2>Group: {_e(GROUP_WORDS.get(grp, grp))}{flag}</h2>",
        "<h3>Flags and reasons</h3>",
        "<ul>" + "".join(f"<li class='flag'>{html.escape(f)}</li>" for f in flags) + "</ul>"
        if flags
        else "<p>No flag: every step passed.</p>",
        "<h2>Calls (fold = CD34+ / CD34−)</h2>",
        table_html(_calls_view(calls), "calls", False),
        f"<h2>Expression with {level:.0%} intervals (combined over plates)</h2>",
        table_html(expression_with_intervals(expression, level), "expression", False),
    ]
    if len(fusion):
        body += [
            "<h2>TEL-AML1</h2>",
            table_html(fusion.drop(columns=["patient"], errors="ignore"), "fusion", False),
        ]
    body += [
        "<h2>Flow QC</h2>",
        table_html(flow.drop(columns=["patient"], errors="ignore"), "flow", False),
    ]
    if flow_png is not None:
        body.append(f'<img alt="gating of {_e(patient)}" src="{data_uri(flow_png)}">')
    body += [
        "<h2>Standard curves of the patient's plates</h2>",
        "<p>The patient's samples: "
        + ", ".join(
            f"{_e(r['sample'])} ({_e(r['fraction'])}, plate {_e(r['plate'])})"
            for _, r in samples.iterrows()
        )
        + ". Each unknown is named by its sample in the figures.</p>",
    ]
    for plate, png in plate_pngs.items():
        body.append(
            f"<h3>Plate {_e(plate)}</h3>"
            f"<img alt='standard curves {_e(plate)}' src='{data_uri(png)}'>"
        )
    body.append(columns_html(list(calls.columns)))
    return page(f"Patient {patient}", "\n".join(body))


def journal_page(table1: pd.DataFrame, groups: pd.DataFrame) -> str:
    """Table 1 and Table 2 as the study prints them, on one page."""
    table2, notes = table2_journal(groups)
    body = (
        f"<style>{JOURNAL_STYLE}</style>"
        + journal_html(table1_journal(table1), TITLE1)
        + '<p class="note">CD34, %: CD34+ among gated blasts of the pre-sort sample '
        "(integer); purity: the sorted tube re-analysed with the same gates, percent of "
        "the configured denominator (one decimal).</p>" + journal_html(table2, TITLE2, notes)
    )
    return page("Tables 1 and 2 as the study prints them", body)
