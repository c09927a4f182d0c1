"""Cohort tables: calls, resistance groups, the study's Tables 1 and 2, statistics (the
workbook is written by :mod:`sortpcr.workbook`).

Everything here aggregates per-patient outputs that already exist; nothing is re-measured.
Rows are sorted (patient ID, then gene in ``classification.genes`` order, fraction CD34pos
before CD34neg) so that reruns give identical files.

Statistics (``statistics.tsv``), per gene and lineage (each lineage of the sheet and ``all``):

* excluded patients (resistance group ``excluded``: flow QC failed or no gene evaluable) are
  left out entirely; ``n_patients`` counts the rest, and the call counts are over them;
* ``n`` = pairs that enter the tests: both fractions measured (call not ``not_evaluable``),
  plus the censored pairs, whose fold is a bound (``fold_censor`` ``<``/``>`` of the calls
  table, or one fraction's value a bound: ``cd34pos_censor``/``cd34neg_censor``; a fold with
  both fractions bounded the same way is open and left out); ``n_censored`` counts the latter.
  A bounded pair whose bound does not decide the call is ``not_evaluable`` as a call (and
  counted so) but still enters the tests at its bound. The medians and ranges per fraction
  (AU relative to IM-9; bounds at their bound, ``*_n_censored`` of them) and all tests use
  these pairs;
* Student's paired t-test as in the study, on log2 values (``t_log2``, ``p_t_log2``) and on
  the raw values (``t_raw``, ``p_t_raw``; the study's choice, dominated by the largest
  values); the Wilcoxon signed-rank test on the log2 folds (``p_wilcoxon``; exact for small
  n); all two-sided, none with fewer than two pairs. A censored fold enters at its bound:
  the conservative substitution, as the true fold lies further from 1 than a bound that
  decides the call;
* sensitivity to censoring: the t-test with every censored log2 fold moved 1 (2-fold) beyond
  its bound (``p_t_log2_censored_beyond``, i.e. a value below the lowest standard at half
  its bound) and without the censored pairs (``p_t_log2_censored_excluded``,
  ``p_wilcoxon_censored_excluded``); the exact sign test in which a censored fold counts
  with its sign whenever its bound decides it (``n_sign_pos``, ``n_sign_neg``, ``p_sign``);
  a Tobit (censored-normal maximum likelihood) mean of the log2 folds with its
  likelihood-ratio p (``mean_log2_fold_tobit``, ``p_tobit``; only when a pair is censored,
  as without censoring it is the t-test's mean with an asymptotic p); ``method`` and
  ``sensitivity`` say it in words;
* Benjamini-Hochberg adjusted p across the genes within each lineage group (``*_bh``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sortpcr.censored import censor_of, fold_censor, sign_test, tobit_mean
from sortpcr.classify import CALL_COLUMNS, CALLS, FUSION_COLUMNS, GROUP_COLUMNS, GROUPS
from sortpcr.io import cell_text
from sortpcr.normalise import COMBINED, EXPRESSION_COLUMNS, EXTRA_COLUMNS

ALL = "all"
FRACTION_ORDER = ("CD34pos", "CD34neg")

TABLE1_COLUMNS = [
    "patient",
    "age",
    "lineage",
    "status",
    "cd34_pct",
    "markers",
    "fusion",
    "heterogeneity",
    "purity_cd34pos_pct",
    "purity_cd34neg_pct",
    "flow_qc",
    "flow_reason",
]
TABLE2_COLUMNS = [
    "group",
    "lineage",
    "n",
    "n_lineage",
    "pct_lineage",
    "pct_all",
    "patients",
    "n_flagged",
    "footnote",
    "group_label",
]
#: Flag of a group resting on a flagged call (``group_flag`` of the groups table).
FLAG_MARK = "*"
STATISTICS_COLUMNS = [
    "lineage",
    "gene",
    "n_patients",
    "n",
    "cd34pos_median",
    "cd34pos_min",
    "cd34pos_max",
    "cd34neg_median",
    "cd34neg_min",
    "cd34neg_max",
    "n_cd34pos_higher",
    "n_cd34neg_higher",
    "n_no_difference",
    "n_not_evaluable",
    "median_fold",
    "mean_log2_fold",
    "t_log2",
    "p_t_log2",
    "p_t_log2_bh",
    "t_raw",
    "p_t_raw",
    "p_t_raw_bh",
    "wilcoxon_w",
    "p_wilcoxon",
    "p_wilcoxon_bh",
    # censoring (added columns; with no censored pair the columns above are unchanged)
    "n_censored",
    "cd34pos_n_censored",
    "cd34neg_n_censored",
    "method",
    "sensitivity",
    "p_t_log2_censored_beyond",
    "p_t_log2_censored_excluded",
    "p_wilcoxon_censored_excluded",
    "n_sign_pos",
    "n_sign_neg",
    "p_sign",
    "mean_log2_fold_tobit",
    "p_tobit",
]
REFERENCE_COLUMNS = ["unit", "measure", "gene", "rank", "value", "n_samples", "note"]
#: geNorm's usual cut-off for the pairwise variation V (Vandesompele et al. 2002).
GENORM_V_CUTOFF = 0.15


def _frame(tables: pd.DataFrame | Iterable[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Concatenate per-patient tables (or pass one through), keeping ``columns`` first."""
    if isinstance(tables, pd.DataFrame):
        frames = [tables]
    else:
        frames = [t for t in tables if t is not None and len(t)]
    if not frames:
        return pd.DataFrame(columns=columns)
    table = pd.concat(frames, ignore_index=True)
    extra = [c for c in table.columns if c not in columns]
    for column in columns:
        if column not in table:
            table[column] = np.nan
    return table[columns + extra]


def _records(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    return rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))


def _order(table: pd.DataFrame, column: str, order: Sequence[str]) -> pd.Series:
    """Sort key: position in ``order``, unknown values after, alphabetically."""
    rank = {value: i for i, value in enumerate(order)}
    return table[column].map(lambda v: (rank.get(v, len(rank)), str(v)))


def _sorted(table: pd.DataFrame, keys: list[tuple[str, Sequence[str] | None]]) -> pd.DataFrame:
    if len(table) == 0:
        return table.reset_index(drop=True)
    sort_cols = []
    work = table.copy()
    for i, (column, order) in enumerate(keys):
        key = f"_k{i}"
        work[key] = _order(work, column, order) if order else work[column].astype(str)
        sort_cols.append(key)
    work = work.sort_values(sort_cols, kind="mergesort")
    return work.drop(columns=sort_cols).reset_index(drop=True)


# --- per-patient tables, stacked ----------------------------------------------------------


def cohort_calls(
    calls: pd.DataFrame | Iterable[pd.DataFrame], genes: Sequence[str] = ()
) -> pd.DataFrame:
    """All patients' calls (``calls.tsv``): patient, then gene in ``genes`` order."""
    table = _frame(calls, CALL_COLUMNS)
    # a column of True/False/missing read back from TSVs may have become 1.0/0.0/NaN
    table["ci_crosses_threshold"] = table["ci_crosses_threshold"].map(_flag).astype(object)
    for column in ("reason", "flags"):
        table[column] = table[column].map(cell_text)
    return _sorted(table, [("patient", None), ("gene", list(genes))])


def _flag(value: Any) -> bool | None:
    """True/False from bools, 0/1 or their text; None when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        return {"true": True, "false": False, "1": True, "0": False}.get(text)
    return bool(value)


def cohort_groups(groups: pd.DataFrame | Iterable[pd.DataFrame]) -> pd.DataFrame:
    """All patients' resistance groups (``resistance_groups.tsv``), sorted by patient."""
    table = _frame(groups, GROUP_COLUMNS)
    for column in ("genes_pos", "genes_neg", "reason"):
        table[column] = table[column].map(cell_text)
    for column in ("group_flag", "footnote"):  # absent before classify flags groups
        table[column] = table[column].map(cell_text) if column in table else ""
    table["group_label"] = table["group"].map(cell_text) + table["group_flag"]
    return _sorted(table, [("patient", None)])


def cohort_expression(
    expression: pd.DataFrame | Iterable[pd.DataFrame], lineages: Mapping[str, str]
) -> pd.DataFrame:
    """Every normalised value, both fractions, per plate and combined (``expression.tsv``)."""
    table = _frame(expression, EXPRESSION_COLUMNS + EXTRA_COLUMNS)
    table.insert(1, "lineage", table["patient"].astype(str).map(lambda p: lineages.get(p, "")))
    table["_combined"] = table["plate"] == COMBINED
    table = _sorted(
        table,
        [
            ("patient", None),
            ("kind", None),
            ("gene", None),
            ("fraction", FRACTION_ORDER),
            ("unit", None),
            ("_combined", None),
            ("plate", None),
        ],
    )
    return table.drop(columns="_combined")


def cohort_fusion(fusion: pd.DataFrame | Iterable[pd.DataFrame]) -> pd.DataFrame:
    """TEL-AML1 (fusion) NCN per patient and fraction with the EAC class (``fusion.tsv``)."""
    table = _frame(fusion, FUSION_COLUMNS)
    return _sorted(table, [("patient", None), ("gene", None), ("fraction", FRACTION_ORDER)])


# --- Table 1 and Table 2 ------------------------------------------------------------------


def table1(samples: pd.DataFrame | Iterable[Mapping[str, Any]], flow: pd.DataFrame) -> pd.DataFrame:
    """Patient characteristics (the study's Table 1) with the measured CD34 % and purities.

    ``cd34_pct``: percent CD34+ among gated blasts of the pre-sort sample (flow step);
    ``heterogeneity``: its 10-90 % verdict; ``purity_*_pct``: purity of each sorted fraction
    in percent of the declared denominator; ``flow_qc``: pass if all three verdicts pass.
    """
    sheet = _records(samples)
    flow = flow.copy() if len(flow) else pd.DataFrame(columns=["patient", "fraction"])
    flow["patient"] = flow["patient"].astype(str)
    rows = []
    for _, sample in sheet.iterrows():
        patient = str(sample["patient"])
        mine = flow[flow["patient"] == patient].set_index("fraction")

        def get(fraction: str, column: str, mine: pd.DataFrame = mine) -> Any:
            if fraction in mine.index and column in mine.columns:
                return mine.loc[fraction, column]
            return np.nan

        verdicts = [
            cell_text(get(f, "status")) or "not_evaluable" for f in ("presort", *FRACTION_ORDER)
        ]
        reasons = [
            f"{f}: {cell_text(get(f, 'reason')) or 'no flow result'}"
            for f, v in zip(("presort", *FRACTION_ORDER), verdicts, strict=True)
            if v != "pass"
        ]
        purity = [get(f, "purity") for f in FRACTION_ORDER]
        rows.append(
            {
                "patient": patient,
                "age": cell_text(sample.get("age")),
                "lineage": cell_text(sample.get("lineage")),
                "status": cell_text(sample.get("status")),
                "cd34_pct": pd.to_numeric(get("presort", "pct_cd34pos"), errors="coerce"),
                "markers": cell_text(sample.get("markers")),
                "fusion": cell_text(sample.get("fusion")),
                "heterogeneity": verdicts[0],
                "purity_cd34pos_pct": pd.to_numeric(purity[0], errors="coerce") * 100.0,
                "purity_cd34neg_pct": pd.to_numeric(purity[1], errors="coerce") * 100.0,
                "flow_qc": "pass" if all(v == "pass" for v in verdicts) else "fail",
                "flow_reason": "; ".join(reasons),
            }
        )
    return _sorted(pd.DataFrame(rows, columns=TABLE1_COLUMNS), [("patient", None)])


def _percent(n: int, total: int) -> float:
    """n / total in percent, one decimal as the study reports (9/17 = 52.9)."""
    return round(100.0 * n / total, 1) if total else math.nan


def table2(groups: pd.DataFrame, lineage_order: Sequence[str] = ("BCP", "T")) -> pd.DataFrame:
    """The study's Table 2 in long form: group x lineage (and ``all``).

    ``n`` patients in the group; ``n_lineage`` evaluable (not excluded) patients of the
    lineage; ``pct_lineage`` = n / n_lineage and ``pct_all`` = n / all evaluable patients,
    in percent with one decimal (study: 9/17 = 52.9 %). For the ``excluded`` row the
    percentages are missing. ``patients``: comma-separated IDs, a ``*`` after a patient
    whose group rests on a flagged call (``group_flag`` of the groups table: an interval
    crossing a threshold, or a bound); ``n_flagged`` counts them and ``footnote`` gives
    their reasons (``P01*: ... | P07*: ...``); ``group_label`` is the group with a ``*`` when
    any of its patients is flagged (``CD34neg_only*``). Without a ``group_flag`` column
    nothing is flagged.
    """
    lineages = [lin for lin in lineage_order if lin in set(groups["lineage"])]
    lineages += sorted(set(groups["lineage"].astype(str)) - set(lineages))
    evaluable = groups[groups["group"] != "excluded"]
    n_all = len(evaluable)
    flags = {
        str(r["patient"]): (cell_text(r.get("group_flag")), cell_text(r.get("footnote")))
        for _, r in groups.iterrows()
    }
    rows = []
    for group in GROUPS:
        for lineage in [*lineages, ALL]:
            pool = groups if lineage == ALL else groups[groups["lineage"] == lineage]
            members = sorted(pool.loc[pool["group"] == group, "patient"].astype(str))
            n_lineage = int((pool["group"] != "excluded").sum())
            if group == "excluded" and not members:
                continue
            flagged = [p for p in members if flags.get(p, ("", ""))[0]]
            rows.append(
                {
                    "group": group,
                    "lineage": lineage,
                    "n": len(members),
                    "n_lineage": n_lineage,
                    "pct_lineage": math.nan
                    if group == "excluded"
                    else _percent(len(members), n_lineage),
                    "pct_all": math.nan if group == "excluded" else _percent(len(members), n_all),
                    "patients": ", ".join(p + flags.get(p, ("", ""))[0] for p in members),
                    "n_flagged": len(flagged),
                    "footnote": " | ".join(
                        f"{p}{flags[p][0]}: {flags[p][1] or 'flagged call'}" for p in flagged
                    ),
                    "group_label": group + (FLAG_MARK if flagged else ""),
                }
            )
    return pd.DataFrame(rows, columns=TABLE2_COLUMNS)


def table2_wide(table: pd.DataFrame) -> pd.DataFrame:
    """Table 2 laid out as the study prints it: one row per group, one column per lineage.

    A group with a flagged patient is shown as ``group*`` and its footnotes are in a
    ``footnote`` column (see :func:`table2`)."""
    rows = []
    for group, part in table.groupby("group", sort=False):
        flagged = "n_flagged" in part and bool((pd.to_numeric(part["n_flagged"]) > 0).any())
        row = {"group": f"{group}{FLAG_MARK}" if flagged else group}
        for _, cell in part.iterrows():
            pct = "" if pd.isna(cell["pct_lineage"]) else f", {cell['pct_lineage']:.1f} %"
            label = f"{cell['lineage']} (n={cell['n_lineage']})"
            row[label] = f"{cell['n']}/{cell['n_lineage']}{pct}" + (
                f": {cell['patients']}" if cell["patients"] else ""
            )
        if "footnote" in part:
            notes = part.loc[part["lineage"] == ALL, "footnote"].map(cell_text)
            row["footnote"] = " | ".join(n for n in notes if n)
        rows.append(row)
    return pd.DataFrame(rows)


# --- statistics -----------------------------------------------------------------------------


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values; missing p stay missing and do not count in m."""
    indexed = [(p, i) for i, p in enumerate(pvalues) if p is not None and math.isfinite(p)]
    out = [math.nan] * len(pvalues)
    m = len(indexed)
    if m == 0:
        return out
    indexed.sort()
    running = 1.0
    for rank in range(m, 0, -1):
        p, index = indexed[rank - 1]
        running = min(running, p * m / rank)
        out[index] = min(running, 1.0)
    return out


def _paired_tests(pos: np.ndarray, neg: np.ndarray) -> dict[str, float]:
    """Paired t (log2 and raw) and Wilcoxon signed-rank on log2 folds; NaN if n < 2."""
    out = dict.fromkeys(("t_log2", "p_t_log2", "t_raw", "p_t_raw", "wilcoxon_w", "p_wilcoxon"))
    out = {k: math.nan for k in out}
    if len(pos) < 2:
        return out
    from scipy import stats

    log2_fold = np.log2(pos) - np.log2(neg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_log = stats.ttest_rel(np.log2(pos), np.log2(neg))
        t_raw = stats.ttest_rel(pos, neg)
        out.update(
            t_log2=float(t_log.statistic),
            p_t_log2=float(t_log.pvalue),
            t_raw=float(t_raw.statistic),
            p_t_raw=float(t_raw.pvalue),
        )
        out.update(_wilcoxon(log2_fold))
    return out


def _wilcoxon(log2_fold: np.ndarray) -> dict[str, float]:
    """Wilcoxon signed-rank statistic and two-sided p (NaN when all folds are 1 or n < 2)."""
    out = {"wilcoxon_w": math.nan, "p_wilcoxon": math.nan}
    if len(log2_fold) < 2 or not np.any(log2_fold != 0):
        return out
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            wil = stats.wilcoxon(log2_fold)
        except ValueError:
            return out
    return {"wilcoxon_w": float(wil.statistic), "p_wilcoxon": float(wil.pvalue)}


def _one_sample_t(values: np.ndarray) -> tuple[float, float]:
    """t and two-sided p of the one-sample t-test of mean 0 (NaN if n < 2)."""
    if len(values) < 2:
        return math.nan, math.nan
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.ttest_1samp(values, 0.0)
    return float(result.statistic), float(result.pvalue)


def _column(part: pd.DataFrame, name: str) -> pd.Series:
    """A censor column as "" / "<" / ">" (absent column: nothing censored)."""
    if name not in part:
        return pd.Series([""] * len(part), index=part.index, dtype=object)
    return part[name].map(censor_of)


def paired_values(part: pd.DataFrame) -> pd.DataFrame:
    """The pairs of one gene's calls that enter the paired statistics, censored ones included.

    A pair enters when both fractions were measured: either both values are numbers (call
    not ``not_evaluable``), or the fold is a bound (``fold_censor`` ``<``/``>``, bound in
    ``fold``; or derived from ``cd34pos_censor``/``cd34neg_censor``). Columns: ``pos``,
    ``neg`` (AU, bounds where censored; NaN when not given), ``pos_censor``, ``neg_censor``,
    ``log2_fold`` (log2 of pos / neg, a bound included as given; the calls' ``fold`` only
    when a value is missing) and ``censor`` of the fold."""
    pos = pd.to_numeric(part["cd34pos"], errors="coerce")
    neg = pd.to_numeric(part["cd34neg"], errors="coerce")
    fold = pd.to_numeric(part["fold"], errors="coerce") if "fold" in part else pos / neg
    pos_c, neg_c = _column(part, "cd34pos_censor"), _column(part, "cd34neg_censor")
    given = _column(part, "fold_censor")
    rows = []
    for index in part.index:
        derived = fold_censor(pos_c[index], neg_c[index])
        censor = given[index] or (derived or "")
        if derived is None and not given[index]:
            continue  # both fractions bounded the same way: the fold is open
        p, n = float(pos[index]), float(neg[index])
        if censor:
            # the ratio of the two values, the bound as given (classify's fold of a bound is
            # widened by the other fraction's error; a cohort test takes values as measured)
            f = p / n if p > 0 and n > 0 else float(fold[index])
            if not (math.isfinite(f) and f > 0):
                continue
        else:
            if part.at[index, "call"] == "not_evaluable" or not (p > 0 and n > 0):
                continue
            f = p / n
        rows.append(
            {
                "pos": p if p > 0 else math.nan,
                "neg": n if n > 0 else math.nan,
                "pos_censor": pos_c[index],
                "neg_censor": neg_c[index],
                "log2_fold": math.log2(f),
                "censor": censor,
            }
        )
    columns = ["pos", "neg", "pos_censor", "neg_censor", "log2_fold", "censor"]
    return pd.DataFrame(rows, columns=columns)


def _censored_tests(pairs: pd.DataFrame) -> dict[str, Any]:
    """Censoring-aware additions to the paired tests (see the module docstring)."""
    d = pairs["log2_fold"].to_numpy(float)
    censors = list(pairs["censor"])
    observed = np.array([not c for c in censors], dtype=bool)
    shift = np.array([-1.0 if c == "<" else 1.0 if c == ">" else 0.0 for c in censors])
    sign = sign_test(d, censors)
    n_censored = int((~observed).sum())
    tobit = tobit_mean(d, censors) if n_censored else {"mean": math.nan, "p": math.nan}
    out: dict[str, Any] = {
        "n_censored": n_censored,
        "p_t_log2_censored_beyond": _one_sample_t(d + shift)[1] if n_censored else math.nan,
        "p_t_log2_censored_excluded": _one_sample_t(d[observed])[1] if n_censored else math.nan,
        "p_wilcoxon_censored_excluded": _wilcoxon(d[observed])["p_wilcoxon"]
        if n_censored
        else math.nan,
        "n_sign_pos": sign["n_pos"],
        "n_sign_neg": sign["n_neg"],
        "p_sign": sign["p"],
        "mean_log2_fold_tobit": tobit["mean"],
        "p_tobit": tobit["p"],
    }
    if not n_censored:
        out["method"] = "no censored pair: paired t and Wilcoxon on the measured folds"
        out["sensitivity"] = ""
        return out
    out["method"] = (
        f"{n_censored} censored pair(s) in the tests at their bound; sign test counts the "
        "known directions; Tobit (censored-normal) mean of the log2 folds"
    )
    return out


def _sensitivity_text(row: Mapping[str, Any]) -> str:
    """One line: how the paired t p-value moves with the censored pairs' treatment."""
    if not row["n_censored"]:
        return ""

    def fmt(value: float) -> str:
        return "NA" if not math.isfinite(value) else f"{value:.3g}"

    n_obs = row["n"] - row["n_censored"]
    return (
        f"p_t_log2 {fmt(row['p_t_log2'])} with censored folds at their bound, "
        f"{fmt(row['p_t_log2_censored_beyond'])} with them 2-fold beyond it, "
        f"{fmt(row['p_t_log2_censored_excluded'])} without them (n={n_obs}); "
        f"Wilcoxon {fmt(row['p_wilcoxon'])} vs {fmt(row['p_wilcoxon_censored_excluded'])} "
        f"without; sign test {fmt(row['p_sign'])} "
        f"({row['n_sign_pos']} up, {row['n_sign_neg']} down); Tobit {fmt(row['p_tobit'])}"
    )


def statistics(
    calls: pd.DataFrame,
    groups: pd.DataFrame,
    genes: Sequence[str],
    lineage_order: Sequence[str] = ("BCP", "T"),
) -> pd.DataFrame:
    """Per gene and lineage (and ``all``): counts, medians/ranges (AU), paired tests, BH.

    Excluded patients (group ``excluded``) are left out. Censored pairs enter at their bound
    and are weighed by the sensitivity columns. See the module docstring.
    """
    excluded = set(groups.loc[groups["group"] == "excluded", "patient"].astype(str))
    kept = calls[~calls["patient"].astype(str).isin(excluded)]
    lineages = [lin for lin in lineage_order if lin in set(kept["lineage"])]
    lineages += sorted(set(kept["lineage"].astype(str)) - set(lineages))
    rows = []
    for lineage in [*lineages, ALL]:
        pool = kept if lineage == ALL else kept[kept["lineage"] == lineage]
        block = []
        for gene in genes:
            part = pool[pool["gene"] == gene]
            pairs = paired_values(part)
            counts = part["call"].value_counts()
            row: dict[str, Any] = {
                "lineage": lineage,
                "gene": gene,
                "n_patients": int(part["patient"].nunique()),
                "n": len(pairs),
            }
            for name, column in (("cd34pos", "pos"), ("cd34neg", "neg")):
                values = pairs[column].dropna().to_numpy(float)
                row[f"{name}_median"] = float(np.median(values)) if len(values) else math.nan
                row[f"{name}_min"] = float(values.min()) if len(values) else math.nan
                row[f"{name}_max"] = float(values.max()) if len(values) else math.nan
                row[f"{name}_n_censored"] = int((pairs[f"{column}_censor"] != "").sum())
            for call in CALLS:
                row[f"n_{call.lower()}"] = int(counts.get(call, 0))
            log2_fold = pairs["log2_fold"].to_numpy(float)
            row["median_fold"] = float(np.median(2.0**log2_fold)) if len(pairs) else math.nan
            row["mean_log2_fold"] = float(np.mean(log2_fold)) if len(pairs) else math.nan
            both = pairs.dropna(subset=["pos", "neg"])
            row.update(_paired_tests(both["pos"].to_numpy(float), both["neg"].to_numpy(float)))
            if len(both) < len(pairs):  # a bound without both values: log2 tests on folds
                row["t_log2"], row["p_t_log2"] = _one_sample_t(log2_fold)
                row.update(_wilcoxon(log2_fold))
            row.update(_censored_tests(pairs))
            row["sensitivity"] = _sensitivity_text(row)
            block.append(row)
        for column in ("p_t_log2", "p_t_raw", "p_wilcoxon"):
            adjusted = benjamini_hochberg([r[column] for r in block])
            for r, value in zip(block, adjusted, strict=True):
                r[f"{column}_bh"] = value
        rows.extend(block)
    return pd.DataFrame(rows, columns=STATISTICS_COLUMNS)


# --- reference genes over the cohort --------------------------------------------------------


def reference_gene_stability(expression: pd.DataFrame) -> pd.DataFrame:
    """geNorm M and pairwise variation V of the reference genes over the cohort
    (``reference_genes.tsv``), per unit (relative / copies).

    Samples: each patient's fraction on each plate (the per-plate ``reference`` rows of the
    expression table, which normalise writes when two or more reference genes are used),
    kept when every reference gene has a positive quantity there. ``measure`` ``M``: geNorm
    stability of ``gene`` over all reference genes (lower = more stable; ``rank`` 1 = most
    stable); ``V2/3``, ``V3/4``, ...: pairwise variation when ``gene`` (the next by
    stability) is added to the normalisation factor, with a ``note`` when it is below
    0.15 (the gene adds little). Values in log2 units. With fewer than two reference genes
    or samples, one row says so.
    """
    from sortpcr.normalise import genorm_m, pairwise_v

    def note_row(unit: str, text: str) -> dict[str, Any]:
        return {"unit": unit, "measure": "", "gene": "", "rank": math.nan,
                "value": math.nan, "n_samples": 0, "note": text}  # fmt: skip

    if len(expression) and "kind" in expression:
        refs = expression[
            (expression["kind"].astype(str) == "reference")
            & (expression["plate"].astype(str) != COMBINED)
        ].copy()
    else:
        refs = pd.DataFrame(columns=["unit", "gene", "target_quantity"])
    refs["q"] = pd.to_numeric(refs.get("target_quantity"), errors="coerce")
    refs = refs[refs["q"] > 0]
    rows: list[dict[str, Any]] = []
    if not len(refs):
        rows.append(note_row("", "fewer than two reference genes (qpcr.reference_genes): "
                             "geNorm M and V need two or more"))  # fmt: skip
        return pd.DataFrame(rows, columns=REFERENCE_COLUMNS)
    for unit, part in refs.groupby(refs["unit"].astype(str), sort=True):
        wide = part.pivot_table(
            index=["patient", "fraction", "plate"], columns="gene", values="q", aggfunc="first"
        ).dropna()
        genes = sorted(wide.columns.astype(str))
        if len(genes) < 2 or len(wide) < 2:
            rows.append(note_row(unit, f"{len(genes)} reference gene(s) on {len(wide)} "
                                 "complete sample(s): geNorm needs two of each"))  # fmt: skip
            continue
        levels = {g: list(np.log2(wide[g].to_numpy(float))) for g in genes}
        m = genorm_m(levels)
        order = sorted(genes, key=lambda g: (m[g], g))
        for rank, gene in enumerate(order, start=1):
            rows.append({"unit": unit, "measure": "M", "gene": gene, "rank": rank,
                         "value": m[gene], "n_samples": len(wide), "note": ""})  # fmt: skip
        for n, v in enumerate(pairwise_v(levels, order), start=2):
            note = (
                f"below {GENORM_V_CUTOFF:g}: {order[n]} adds little to {n} genes"
                if v < GENORM_V_CUTOFF
                else ""
            )
            rows.append({"unit": unit, "measure": f"V{n}/{n + 1}", "gene": order[n],
                         "rank": n + 1, "value": v, "n_samples": len(wide),
                         "note": note})  # fmt: skip
    return pd.DataFrame(rows, columns=REFERENCE_COLUMNS)


# --- everything at once ---------------------------------------------------------------------


def build_cohort(
    samples: pd.DataFrame | Iterable[Mapping[str, Any]],
    flow: pd.DataFrame,
    calls: pd.DataFrame | Iterable[pd.DataFrame],
    groups: pd.DataFrame | Iterable[pd.DataFrame],
    expression: pd.DataFrame | Iterable[pd.DataFrame],
    fusion: pd.DataFrame | Iterable[pd.DataFrame] = (),
    genes: Sequence[str] = ("BCL2", "MDR1", "BCRP", "LRP"),
) -> dict[str, pd.DataFrame]:
    """The cohort tables, keyed by file stem: calls, resistance_groups, table1, table2,
    expression, fusion, reference_genes (write each with :func:`sortpcr.io.write_tsv`). The
    statistics are a step of their own (:func:`statistics`, on ``calls`` and
    ``resistance_groups``), so that the figures need not wait for ``scipy.stats``.

    ``samples``: rows of samples.tsv; ``flow``: results/qc/flow.tsv; the others: per-patient
    outputs of classify (calls, group, fusion) and normalise (expression), as lists of
    tables or one concatenated table. ``genes``: ``classification.genes``.
    """
    sheet = _records(samples)
    lineages = {str(r["patient"]): str(r["lineage"]) for _, r in sheet.iterrows()}
    order = [lin for lin in ("BCP", "T") if lin in set(lineages.values())]
    order += sorted(set(lineages.values()) - set(order))
    all_calls = cohort_calls(calls, genes)
    all_groups = cohort_groups(groups)
    all_expression = cohort_expression(expression, lineages)
    return {
        "calls": all_calls,
        "resistance_groups": all_groups,
        "table1": table1(sheet, flow),
        "table2": table2(all_groups, order),
        "expression": all_expression,
        "fusion": cohort_fusion(fusion),
        "reference_genes": reference_gene_stability(all_expression),
    }
