"""The study's quantitative statements beside the values the pipeline computed (``claims.tsv``).

The statements are data (``resources/study_claims.yaml``: the study's value, the place in the
paper, and a ``kind`` saying what to compute); this module computes each from the cohort
tables and judges agreement:

* ``patient_count``: patients of a lineage (``all`` = every lineage) in the sample sheet
  (Table 1), excluded ones included;
* ``call_count``: patients of a lineage with a gene's call (``CD34pos_higher``,
  ``CD34neg_higher``, ``no_difference``, or ``different`` = either of the first two), out of
  the lineage's evaluable patients (not ``excluded``);
* ``direction_count``: patients whose fold points the given way by any amount (CD34neg: fold
  below 1; a censored fold counts when its bound decides the direction);
* ``fold``: one patient's fold (``orientation`` CD34neg/CD34pos or CD34pos/CD34neg);
* ``fold_range``: smallest and largest fold, in the given direction, among the lineage's
  patients whose fold points that way;
* ``median_range``: median, minimum and maximum of a gene's expression in one fraction and
  lineage (AU relative to IM-9), from ``lineage.tsv``;
* ``lineage_difference``: which lineage has the higher values, and the Mann-Whitney p
  (BH over the genes) from ``lineage.tsv``;
* ``cd34_summary``: median and range of the measured CD34 % of blasts (Table 1);
* ``fusion_higher``: fusion-positive patients whose given fraction has the higher NCN;
* ``group_count``: patients per resistance group and lineage (Table 2).

Agreement: counts equal (and the same patients where the study names them, through the
file's ``patient_ids``); values within ``tolerance_factor`` (CD34 % within ``tolerance_pct``
points); a lineage difference in the same direction with BH-adjusted p < ``alpha``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sortpcr.censored import censor_of, known_sign
from sortpcr.errors import InputError
from sortpcr.io import cell_float, cell_text

CLAIM_COLUMNS = [
    "claim_id",
    "section",
    "statement",
    "study_value",
    "computed_value",
    "agree",
    "note",
    "kind",
    "location",
    "quote",
]
KINDS = (
    "patient_count",
    "call_count",
    "direction_count",
    "fold",
    "fold_range",
    "median_range",
    "lineage_difference",
    "cd34_summary",
    "fusion_higher",
    "group_count",
)


class ClaimsError(InputError):
    """A claims file that cannot be used (names the file, the claim and what is wrong): an
    input error, so the statistics job ends in one line, not a traceback."""

    def __init__(self, what: str) -> None:
        super().__init__(None, what)


def load_claims(path: str | Path) -> dict[str, Any]:
    """Read and check a claims file (YAML): every claim has an id, a known kind and a
    ``study`` mapping; ids are unique."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ClaimsError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise ClaimsError(f"{path}: expected a mapping with a 'claims' list")
    seen: set[str] = set()
    for number, claim in enumerate(data["claims"], start=1):
        where = f"{path}, claim {number}"
        if not isinstance(claim, dict) or not claim.get("id"):
            raise ClaimsError(f"{where}: every claim needs an 'id'")
        where = f"{path}, claim {claim['id']!r}"
        if claim["id"] in seen:
            raise ClaimsError(f"{where}: duplicate id")
        seen.add(claim["id"])
        if claim.get("kind") not in KINDS:
            raise ClaimsError(f"{where}: kind {claim.get('kind')!r} is not one of {KINDS}")
        if not isinstance(claim.get("study"), dict):
            raise ClaimsError(f"{where}: 'study' must be a mapping of the study's values")
    return data


def _ids(numbers: Sequence[Any], patient_ids: Mapping[Any, str]) -> list[str]:
    return [str(patient_ids.get(n, patient_ids.get(str(n), n))) for n in numbers]


def _within(computed: float, study: float, factor: float) -> bool:
    if not (math.isfinite(computed) and computed > 0 and study > 0):
        return False
    return abs(math.log(computed / study)) <= math.log(factor) + 1e-12


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "NA"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.1f}"


def _evaluable(groups: pd.DataFrame) -> set[str]:
    return set(groups.loc[groups["group"].astype(str) != "excluded", "patient"].astype(str))


def _lineage_rows(table: pd.DataFrame, lineage: str) -> pd.DataFrame:
    if lineage == "all":
        return table
    return table[table["lineage"].astype(str) == lineage]


def _count_text(members: Sequence[str], total: int, pct: bool = False) -> str:
    text = f"{len(members)} of {total}"
    if pct and total:
        text += f" ({100 * len(members) / total:.1f} %)"
    return text + (f" ({', '.join(members)})" if members else "")


def _count_result(
    members: list[str], total: int, study: Mapping[str, Any], patient_ids: Mapping[Any, str]
) -> tuple[str, str, bool, str]:
    """study_value, computed_value, agree, note of a count claim."""
    named = "patients" in study
    wanted = sorted(_ids(study.get("patients", []), patient_ids)) if named else []
    study_text = f"{study['n']} of {study['of']}" if "of" in study else f"{study['n']}"
    if "pct" in study:
        study_text += f" ({study['pct']} %)"
    if named and study["patients"]:
        word = "patient" if len(study["patients"]) == 1 else "patients"
        study_text += f" ({word} {', '.join(str(p) for p in study['patients'])})"
    computed = _count_text(sorted(members), total, pct="pct" in study)
    agree = len(members) == int(study["n"]) and ("of" not in study or total == int(study["of"]))
    notes = []
    if named and sorted(members) != wanted:
        agree = False
        notes.append(f"study's patients as sheet IDs: {', '.join(wanted) or 'none'}")
    if "of" in study and total != int(study["of"]):
        notes.append(f"{total} evaluable patients here, {study['of']} in the study")
    return study_text, computed, agree, "; ".join(notes)


def _fold_of(row: Mapping[str, Any], orientation: str) -> tuple[float, str]:
    """A patient's fold in the claim's orientation, with its censor."""
    fold = cell_float(row.get("fold"))
    censor = censor_of(row.get("fold_censor"))
    if orientation == "CD34neg/CD34pos" and math.isfinite(fold) and fold > 0:
        return 1.0 / fold, {"<": ">", ">": "<"}.get(censor, "")
    return fold, censor


def evaluate_claim(
    claim: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """One row of ``claims.tsv`` (keys :data:`CLAIM_COLUMNS`).

    ``tables``: ``calls``, ``resistance_groups``, ``table1``, ``fusion``, ``lineage``
    (cohort tables); ``settings``: the claims file's top level (tolerances, patient_ids)."""
    kind, study = claim["kind"], claim["study"]
    patient_ids = settings.get("patient_ids") or {}
    factor = float(settings.get("tolerance_factor", 1.25))
    calls, groups = tables["calls"], tables["resistance_groups"]
    evaluable = _evaluable(groups)
    note = ""
    if kind == "patient_count":
        sheet = _lineage_rows(tables["table1"], claim["lineage"])
        n = int(sheet["patient"].nunique())
        study_value, computed, agree = str(study["n"]), str(n), n == int(study["n"])
    elif kind in ("call_count", "direction_count", "group_count"):
        if kind == "group_count":
            pool = _lineage_rows(groups, claim["lineage"])
            pool = pool[pool["patient"].astype(str).isin(evaluable)]
            members = list(pool.loc[pool["group"] == claim["group"], "patient"].astype(str))
            total = len(pool)
        else:
            pool = _lineage_rows(calls, claim["lineage"])
            pool = pool[(pool["gene"] == claim["gene"]) & pool["patient"].isin(evaluable)]
            total = int(pool["patient"].nunique())
            if kind == "call_count":
                wanted = (
                    {"CD34pos_higher", "CD34neg_higher"}
                    if claim["call"] == "different"
                    else {claim["call"]}
                )
                members = list(pool.loc[pool["call"].isin(wanted), "patient"].astype(str))
            else:
                sign = 1 if claim["direction"] == "CD34pos" else -1
                members = [
                    str(r["patient"])
                    for _, r in pool.iterrows()
                    if known_sign(
                        math.log(f) if (f := cell_float(r.get("fold"))) > 0 else math.nan,
                        censor_of(r.get("fold_censor")),
                    )
                    == sign
                ]
        study_value, computed, agree, note = _count_result(members, total, study, patient_ids)
    elif kind == "fold":
        patient = _ids([claim["patient"]], patient_ids)[0]
        rows = calls[(calls["patient"].astype(str) == patient) & (calls["gene"] == claim["gene"])]
        fold, censor = _fold_of(rows.iloc[0], claim["orientation"]) if len(rows) else (math.nan, "")
        study_value = f"{study['value']} ({claim['orientation']})"
        computed = f"{censor + ' ' if censor else ''}{_fmt(fold)} ({patient})"
        agree = not censor and _within(fold, float(study["value"]), factor)
        if censor:
            note = "the fold here is a bound (a value below or above the standards)"
    elif kind == "fold_range":
        pool = _lineage_rows(calls, claim["lineage"])
        pool = pool[(pool["gene"] == claim["gene"]) & pool["patient"].isin(evaluable)]
        orientation = "CD34neg/CD34pos" if claim["direction"] == "CD34neg" else "CD34pos/CD34neg"
        folds = [_fold_of(r, orientation) for _, r in pool.iterrows()]
        values = [f for f, c in folds if math.isfinite(f) and f > 1 and not c]
        low, high = (min(values), max(values)) if values else (math.nan, math.nan)
        study_value = f"{study['min']}-{study['max']} ({orientation})"
        computed = f"{_fmt(low)}-{_fmt(high)} over {len(values)} patient(s) with that direction"
        agree = _within(low, float(study["min"]), factor) and _within(
            high, float(study["max"]), factor
        )
        if any(c for _, c in folds):
            note = "censored folds left out of the range"
    elif kind == "median_range":
        row = _lineage_row(tables["lineage"], claim["gene"], claim["fraction"], claim["lineage"])
        if row is None:
            computed, agree = "no values", False
        else:
            side = row["_side"]
            parts = {k: cell_float(row[f"{k}_{side}"]) for k in ("median", "min", "max")}
            marks = {k: cell_text(row.get(f"{k}_{side}_censor")) for k in parts}
            computed = (
                f"{marks['median']}{_fmt(parts['median'])} "
                f"({marks['min']}{_fmt(parts['min'])}-{marks['max']}{_fmt(parts['max'])})"
            )
            agree = all(_within(parts[k], float(study[k]), factor) for k in parts) and not any(
                marks.values()
            )
        study_value = f"{study['median']} ({study['min']}-{study['max']})"
    elif kind == "lineage_difference":
        row = _pair_row(tables["lineage"], claim["gene"], claim["fraction"], study)
        study_value = f"{study['higher']} > {study['lower']}, significant"
        if row is None:
            computed, agree = "not computed (lineages absent)", False
        else:
            alpha = float(settings.get("alpha", 0.05))
            p_bh = cell_float(row["p_mann_whitney_bh"])
            higher = cell_text(row["higher"])
            med = {row["lineage_a"]: row["median_a"], row["lineage_b"]: row["median_b"]}
            computed = (
                f"{higher or 'neither'} higher (median {study['higher']} "
                f"{_fmt(cell_float(med[study['higher']]))} vs {study['lower']} "
                f"{_fmt(cell_float(med[study['lower']]))}); Mann-Whitney p "
                f"{_fmt(cell_float(row['p_mann_whitney']))}, BH {_fmt(p_bh)}; Welch log2 p "
                f"{_fmt(cell_float(row['p_welch_log2']))}"
            )
            agree = higher == study["higher"] and p_bh < alpha
            note = "the study used Student's t-test; here Mann-Whitney decides, Welch beside it"
    elif kind == "cd34_summary":
        values = pd.to_numeric(tables["table1"]["cd34_pct"], errors="coerce").dropna()
        parts = {
            "median": float(values.median()) if len(values) else math.nan,
            "min": float(values.min()) if len(values) else math.nan,
            "max": float(values.max()) if len(values) else math.nan,
        }
        tol = float(settings.get("tolerance_pct", 2.0))
        study_value = f"{study['median']} % ({study['min']}-{study['max']} %)"
        computed = f"{parts['median']:.1f} % ({parts['min']:.1f}-{parts['max']:.1f} %)"
        agree = all(abs(parts[k] - float(study[k])) <= tol for k in parts)
    elif kind == "fusion_higher":
        fusion = tables["fusion"]
        part = fusion[fusion["gene"].astype(str) == claim["gene"]] if len(fusion) else fusion
        part = part[part["patient"].astype(str).isin(evaluable)] if len(part) else part
        patients = sorted(part["patient"].astype(str).unique()) if len(part) else []
        higher = {str(r["patient"]): cell_text(r.get("higher")) for _, r in part.iterrows()}
        members = [p for p in patients if higher.get(p) == claim["fraction"]]
        study_value, computed, agree, note = _count_result(
            members, len(patients), study, patient_ids
        )
    else:  # pragma: no cover - load_claims rejects unknown kinds
        raise ClaimsError(f"claim {claim['id']!r}: unknown kind {kind!r}")
    notes = [n for n in (note, cell_text(claim.get("note"))) if n]
    return {
        "claim_id": claim["id"],
        "section": claim.get("section", ""),
        "statement": claim.get("statement", ""),
        "study_value": study_value,
        "computed_value": computed,
        "agree": bool(agree),
        "note": "; ".join(notes),
        "kind": kind,
        "location": claim.get("location", ""),
        "quote": claim.get("quote", ""),
    }


def _lineage_row(table: pd.DataFrame, gene: str, fraction: str, lineage: str):
    """The lineage.tsv row holding one lineage's summary, with ``_side`` a or b."""
    for side in ("a", "b"):
        rows = table[
            (table["gene"] == gene)
            & (table["fraction"] == fraction)
            & (table[f"lineage_{side}"].astype(str) == lineage)
        ]
        if len(rows):
            return dict(rows.iloc[0], _side=side)
    return None


def _pair_row(table: pd.DataFrame, gene: str, fraction: str, study: Mapping[str, Any]):
    pair = {str(study["higher"]), str(study["lower"])}
    for _, row in table[(table["gene"] == gene) & (table["fraction"] == fraction)].iterrows():
        if {str(row["lineage_a"]), str(row["lineage_b"])} == pair:
            return row
    return None


def evaluate_claims(claims: Mapping[str, Any], tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """``claims.tsv``: one row per claim of a :func:`load_claims` mapping, in file order."""
    rows = [evaluate_claim(claim, tables, claims) for claim in claims["claims"]]
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)
