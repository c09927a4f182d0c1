"""What every column of the result tables means, and its unit.

One dictionary serves the report's table pages (header tooltips and the "Columns" list) and
the workbook's ``columns`` sheet, so both explain a column in the same words.
"""

from __future__ import annotations

from collections.abc import Iterable

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
    "ci_crosses_threshold": ("True when the fold's interval crosses the 2-fold threshold", ""),
    "higher": ("fraction with the higher fusion value", ""),
    # groups and tables
    "group": ("resistance group: which subpopulation has >= 2-fold higher resistance genes", ""),
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
