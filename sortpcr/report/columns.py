"""What every column of the result tables means, and its unit.

One dictionary serves the report's table pages (header tooltips and the "Columns" list) and
the workbook's ``columns`` sheet, so both explain a column in the same words; both show the
flow QC table's purities in percent (:func:`purity_percent`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: the flow QC table's purity columns (fractions of 1) and their percent names
PURITY_COLUMNS = {
    "purity": "purity_pct",
    "purity_all_events": "purity_all_events_pct",
    "purity_cells": "purity_cells_pct",
}

#: column -> (meaning, unit); unit "" when the column is text or a count of patients/rows
COLUMNS: dict[str, tuple[str, str]] = {
    # identifiers and sheet columns
    "patient": ("pseudonymous patient ID from config/samples.tsv", ""),
    "lineage": ("ALL lineage: BCP (B-cell precursor) or T", ""),
    "age": ("age at sampling as in the sample sheet; '<1' = under one year", "years"),
    "status": ("verdict or disease status of the row (pass/fail/ok/… or diagnosis/relapse)", ""),
    "markers": ("heterogeneously expressed markers, as in the sample sheet", ""),
    "fusion": ("fusion gene from the sample sheet", ""),
    "fraction": ("sorted fraction (CD34pos, CD34neg) or the pre-sort sample (presort)", ""),
    "plate": ("qPCR plate ID from config/plates.tsv ('combined' = all plates pooled)", ""),
    "gene": ("gene measured", ""),
    "target": ("qPCR target on the plate", ""),
    "file": ("raw file as written in the sheet", ""),
    "path": ("input file, relative to the working folder", ""),
    "reason": ("why a row is not evaluable, failed or was flagged (empty = nothing to say)", ""),
    "flags": ("';'-joined flags of the row (e.g. out_of_range, ci_crosses_threshold, bound)", ""),
    # flow
    "events": ("events in the FCS file", "events"),
    "cells": ("events in the scatter (cells) gate", "events"),
    "blasts": ("events in the CD45-dim/SSC-low blast gate", "events"),
    "pct_cd34pos": ("CD34+ blasts among gated blasts of the pre-sort sample", "%"),
    "purity": ("purity of the sorted tube: target-fraction events / qc.purity_denominator", "%"),
    "purity_all_events": ("purity of the sorted tube among all events", "%"),
    "purity_cells": ("purity of the sorted tube among scatter-gated cells", "%"),
    "purity_pct": ("purity of the sorted tube: fraction events / qc.purity_denominator", "%"),
    "purity_all_events_pct": ("purity of the sorted tube among all events", "%"),
    "purity_cells_pct": ("purity of the sorted tube among scatter-gated cells", "%"),
    "compensation": ("spillover matrix applied: file, config or none", ""),
    "cd34_pct": ("CD34+ blasts among gated blasts of the pre-sort sample", "%"),
    "heterogeneity": ("verdict of the CD34 % against qc.cd34_range (10-90 %)", ""),
    "purity_cd34pos_pct": ("purity of the sorted CD34+ tube (of blasts by default)", "%"),
    "purity_cd34neg_pct": ("purity of the sorted CD34- tube (of blasts by default)", "%"),
    "flow_qc": ("pass when CD34 % and both purities pass", ""),
    "flow_reason": ("why flow QC failed", ""),
    "flow_status": ("flow verdict of the sorted fraction", ""),
    "flow_reason_fraction": ("why the fraction's flow QC failed", ""),
    "presort_status": ("flow verdict of the patient's pre-sort sample", ""),
    "presort_reason": ("why the pre-sort sample failed", ""),
    # standard curves
    "unit": ("unit of quantities: relative (IM-9 dilution) or copies (plasmid standards)", ""),
    "slope": ("slope of Ct on log10 quantity", "cycles per log10"),
    "intercept": ("Ct at log10 quantity 0 (quantity 1)", "cycles"),
    "r2": ("coefficient of determination of the standard curve", ""),
    "efficiency": ("PCR efficiency 10^(-1/slope) - 1", "fraction (1 = 100 %)"),
    "efficiency_low": ("lower end of the efficiency's confidence interval", "fraction"),
    "efficiency_high": ("upper end of the efficiency's confidence interval", "fraction"),
    "ci_level": ("confidence level of the intervals", "fraction (0.95 = 95 %)"),
    "points": ("standard wells used in the fit", "wells"),
    "levels": ("distinct standard quantities used in the fit", "levels"),
    "range_low": ("lowest standard quantity", "standard's unit"),
    "range_high": ("highest standard quantity", "standard's unit"),
    "residual_sd": ("residual standard deviation of the fit", "cycles"),
    "slope_se": ("standard error of the slope", "cycles per log10"),
    "n": ("number of wells or of paired patients the row rests on", ""),
    "mean_log10q": ("mean log10 quantity of the fitted standards", "log10 standard's unit"),
    "sxx": ("sum of squared deviations of log10 quantity (for prediction intervals)", "log10²"),
    # expression
    "kind": ("expression (target/GUS) or fusion (copies/GUS copies x scale)", ""),
    "target_quantity": ("quantity of the target read off its standard curve", "standard's unit"),
    "gus_quantity": ("quantity of the reference gene GUS of the same sample", "standard's unit"),
    "value": ("normalised expression: target / GUS (AU relative to IM-9) or EAC %", "AU or %"),
    "value_low": ("lower end of the value's interval", "AU or %"),
    "value_high": ("upper end of the value's interval", "AU or %"),
    "log10_value": ("log10 of value", "log10 AU"),
    "log10_se": ("standard error of log10 value", "log10"),
    "detection_limit": ("detection limit of the value where one applies", "AU or %"),
    "censor": ("'' = value is a number; '<' = at most value; '>' = at least value", ""),
    "reference_genes": ("reference gene(s) used for normalisation", ""),
    "eac_class": ("EAC class of the fusion value", ""),
    # calls
    "cd34pos": ("normalised expression in the CD34+ fraction", "AU"),
    "cd34neg": ("normalised expression in the CD34- fraction", "AU"),
    "cd34pos_censor": ("'<'/'>' when the CD34+ value is a bound", ""),
    "cd34neg_censor": ("'<'/'>' when the CD34- value is a bound", ""),
    "cd34pos_log10_se": ("standard error of log10 CD34+ value", "log10"),
    "cd34neg_log10_se": ("standard error of log10 CD34- value", "log10"),
    "fold": ("CD34+ / CD34- expression", "ratio"),
    "fold_low": ("lower end of the fold's confidence interval", "ratio"),
    "fold_high": ("upper end of the fold's confidence interval", "ratio"),
    "fold_censor": ("'' = fold is a number; '<' at most fold; '>' at least fold", ""),
    "df": ("degrees of freedom of the fold interval", ""),
    "log2_fold": ("log2 of fold", "log2"),
    "call": ("CD34pos_higher, CD34neg_higher (fold >= threshold either way), no_difference", ""),
    "ci_crosses_threshold": (
        "True when the fold's interval crosses the fold threshold (either way)",
        "",
    ),
    "higher": ("fraction with the higher fusion value", ""),
    # groups and tables
    "group": (
        "resistance group: which subpopulation has resistance genes higher by at least the "
        "fold threshold (classification.fold_threshold)",
        "",
    ),
    "group_flag": ("'*' when the group rests on a flagged call", ""),
    "footnote": ("which calls the group rests on that are flagged, and why", ""),
    "genes_pos": ("genes higher in CD34+ (fold >= threshold)", ""),
    "genes_neg": ("genes higher in CD34- (fold <= 1/threshold)", ""),
    "n_lineage": ("patients of the lineage", "patients"),
    "pct_lineage": ("share of the lineage's patients", "%"),
    "pct_all": ("share of all patients", "%"),
    "patients": ("patient IDs of the cell", ""),
    # statistics
    "n_patients": ("patients of the lineage", "patients"),
    "cd34pos_median": ("median CD34+ expression", "AU"),
    "cd34pos_min": ("minimum CD34+ expression", "AU"),
    "cd34pos_max": ("maximum CD34+ expression", "AU"),
    "cd34neg_median": ("median CD34- expression", "AU"),
    "cd34neg_min": ("minimum CD34- expression", "AU"),
    "cd34neg_max": ("maximum CD34- expression", "AU"),
    "n_cd34pos_higher": ("patients called CD34pos_higher", "patients"),
    "n_cd34neg_higher": ("patients called CD34neg_higher", "patients"),
    "n_no_difference": ("patients called no_difference", "patients"),
    "n_not_evaluable": ("patients not evaluable for the gene", "patients"),
    "median_fold": ("median CD34+/CD34- fold", "ratio"),
    "mean_log2_fold": ("mean log2 fold", "log2"),
    "t_log2": ("paired t statistic on log2 values", ""),
    "p_t_log2": ("two-sided p of the paired t-test on log2 values", ""),
    "p_t_log2_bh": ("Benjamini-Hochberg adjusted p_t_log2", ""),
    "t_raw": ("paired t statistic on raw values (as the study)", ""),
    "p_t_raw": ("two-sided p of the paired t-test on raw values", ""),
    "p_t_raw_bh": ("Benjamini-Hochberg adjusted p_t_raw", ""),
    "wilcoxon_w": ("Wilcoxon signed-rank statistic", ""),
    "p_wilcoxon": ("two-sided p of the Wilcoxon signed-rank test", ""),
    "p_wilcoxon_bh": ("Benjamini-Hochberg adjusted p_wilcoxon", ""),
    # claims
    "claim_id": ("ID of a claim of the study", ""),
    "section": ("where the study makes the claim", ""),
    "statement": ("the claim, in the study's words", ""),
    "study_value": ("the study's figure", ""),
    "computed_value": ("our figure from the raw files", ""),
    "agree": ("True when our figure supports the claim", ""),
    "note": ("how the figures compare", ""),
    # flow: adaptive gating (sortpcr.flowqc)
    "gating_mode": ("gating: the strategy's fixed gates or adapted to the sample", ""),
    "blast_shift_decades": ("shift of the blast gate along CD45", "decades"),
    "blast_scale": ("scale factor of the blast gate along SSC", "factor"),
    "blast_cluster_events": ("pre-sort events in the moved blast gate", "events"),
    "cd34_cut": ("CD34 cut between CD34+ and CD34- blasts", "channel scale units"),
    "cd34_cut_shift_decades": ("shift of the CD34 cut from the strategy's", "decades"),
    "cd34_cut_method": ("how the CD34 cut was placed: valley, negative_population, template", ""),
    "valley_depth": ("density at the valley / density of the lower mode (0-1)", "fraction"),
    # standard curves: range, limits, replicate noise (sortpcr.qpcr.curves)
    "ct_top": ("lowest Ct of a used well of the highest standard level", "cycles"),
    "loq": ("lowest standard level whose wells all amplified and were all used", "standard's unit"),
    "loq_ct": ("highest Ct of the wells at loq", "cycles"),
    "lod": ("lowest standard level whose wells all amplified (upper estimate)", "standard's unit"),
    "lod_ct": ("highest Ct of the wells at lod", "cycles"),
    "rep_sd": ("pooled within-plate replicate SD of the target", "cycles"),
    "rep_df": ("degrees of freedom of rep_sd", ""),
    # expression: error budget and plate heterogeneity (sortpcr.normalise, uncertainty)
    "tau2": ("between-plate variance of the combined value (random effects)", "log10²"),
    "i2": ("share of the plates' variation due to heterogeneity", "fraction"),
    "het_q": ("Cochran's Q of the plates' log10 values", ""),
    "log10_budget": ("the value's error budget (components of the log10 variance)", "log10²"),
    "rt_sd_log2": ("SD of reverse transcription between cDNA preparations", "log2"),
    "fold_se_log10": ("standard error of log10 fold", "log10"),
    # groups and statistics with censoring (sortpcr.cohort)
    "group_label": ("group with its '*' when it rests on a flagged call", ""),
    "n_flagged": ("patients of the cell whose group rests on a flagged call", "patients"),
    "n_censored": ("pairs whose fold is a bound (they enter at the bound)", "pairs"),
    "cd34pos_n_censored": ("CD34+ values that are bounds", "values"),
    "cd34neg_n_censored": ("CD34- values that are bounds", "values"),
    "method": ("the tests used, in words", ""),
    "sensitivity": ("how the result changes with the censored pairs, in words", ""),
    "p_t_log2_censored_beyond": (
        "p of the t-test with censored folds 2-fold beyond their bound",
        "",
    ),
    "p_t_log2_censored_excluded": ("p of the t-test without the censored pairs", ""),
    "p_wilcoxon_censored_excluded": ("p of the Wilcoxon test without the censored pairs", ""),
    "n_sign_pos": ("pairs with fold > 1 (bounds counted where they decide)", "pairs"),
    "n_sign_neg": ("pairs with fold < 1 (bounds counted where they decide)", "pairs"),
    "p_sign": ("two-sided p of the exact sign test", ""),
    "mean_log2_fold_tobit": ("censored-normal (Tobit) mean of log2 fold", "log2"),
    "p_tobit": ("likelihood-ratio p of the Tobit mean", ""),
    # lineage comparison (sortpcr.lineage): lineage a vs lineage b per gene and fraction
    "lineage_a": ("first lineage compared", ""),
    "lineage_b": ("second lineage compared", ""),
    "n_a": ("values of lineage a", "values"),
    "n_b": ("values of lineage b", "values"),
    "n_censored_a": ("values of lineage a that are bounds", "values"),
    "n_censored_b": ("values of lineage b that are bounds", "values"),
    "median_a": ("median of lineage a", "AU"),
    "median_a_censor": ("'<'/'>' when median_a is a bound", ""),
    "min_a": ("minimum of lineage a", "AU"),
    "min_a_censor": ("'<'/'>' when min_a is a bound", ""),
    "max_a": ("maximum of lineage a", "AU"),
    "max_a_censor": ("'<'/'>' when max_a is a bound", ""),
    "median_b": ("median of lineage b", "AU"),
    "median_b_censor": ("'<'/'>' when median_b is a bound", ""),
    "min_b": ("minimum of lineage b", "AU"),
    "min_b_censor": ("'<'/'>' when min_b is a bound", ""),
    "max_b": ("maximum of lineage b", "AU"),
    "max_b_censor": ("'<'/'>' when max_b is a bound", ""),
    "prob_a_higher": ("probability that a value of lineage a exceeds one of b (U / n_a n_b)", ""),
    "u_a": ("Mann-Whitney U of lineage a", ""),
    "p_mann_whitney": ("two-sided p of the Mann-Whitney test", ""),
    "p_mann_whitney_bh": ("Benjamini-Hochberg adjusted p_mann_whitney", ""),
    "log2_ratio_means": ("mean log2 of lineage a minus mean log2 of lineage b", "log2"),
    "welch_t": ("Welch's t on log2 values", ""),
    "welch_df": ("degrees of freedom of Welch's t", ""),
    "p_welch_log2": ("two-sided p of Welch's t-test on log2 values", ""),
    "p_welch_log2_bh": ("Benjamini-Hochberg adjusted p_welch_log2", ""),
    "p_gehan": ("two-sided p of Gehan's censoring-aware rank test", ""),
    # reference genes (geNorm)
    "measure": ("geNorm stability M of a gene, or pairwise variation V", ""),
    "rank": ("rank of the gene by stability (1 = most stable)", ""),
    "n_samples": ("samples the measure rests on", "samples"),
    # claims
    "location": ("where in the study's text the claim is", ""),
    "quote": ("the study's words", ""),
    # provenance
    "bytes": ("file size", "bytes"),
    "sha256": ("SHA-256 checksum of the file", ""),
    "software": ("software package", ""),
    "version": ("version used", ""),
}


def describe(column: str) -> tuple[str, str]:
    """(meaning, unit) of a column; columns not listed say so instead of guessing."""
    return COLUMNS.get(column, ("(not described)", ""))


def undocumented(columns: Iterable[str]) -> list[str]:
    """The columns that :data:`COLUMNS` does not describe, in their order."""
    return [c for c in columns if c not in COLUMNS]


def purity_percent(flow: pd.DataFrame) -> pd.DataFrame:
    """The flow QC table with its purities (fractions of 1) in percent, renamed ``*_pct``."""
    import pandas as pd

    flow = flow.copy()
    for column, name in PURITY_COLUMNS.items():
        if column in flow.columns:
            flow[column] = pd.to_numeric(flow[column], errors="coerce") * 100.0
            flow = flow.rename(columns={column: name})
    return flow
