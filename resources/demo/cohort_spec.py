"""The demo cohort's biology: the truth the simulators draw from (Shman et al., 17 children).

Plain data plus two small functions; standard library only, so the demo generator, the
simulators and the tests can import it without the pipeline.

What is here
------------
* ``PATIENTS`` -- Table 1 of the study, row for row (patient, lineage, age, status, fusion,
  heterogeneous markers, CD34 % of blasts).
* ``EXPRESSION`` -- the true normalised expression of BCL2, MDR1, LRP and BCRP in each sorted
  fraction, in arbitrary units (AU) relative to IM-9 (target/GUS of the sample divided by
  target/GUS of undiluted IM-9 cDNA, which is 1 by construction of the IM-9 standards).
* ``GUS_RELATIVE`` -- how much GUS each fraction's cDNA gives on an expression plate, in IM-9
  relative units (undiluted IM-9 = 1). Sorted fractions yield very different amounts of cDNA,
  so this varies from 0.003 to 0.55. Raw target quantity = AU x GUS (relative units).
* ``GUS_COPIES`` -- GUS copies of each fraction on the fusion plate (plasmid standards),
  2e4-9e4, above the EAC evaluability limit (``normalisation.gus_copies_min`` = 1e4).
* ``TEL_AML1_NCN`` -- TEL-AML1 normalised copy number (copies per ``FUSION_SCALE`` GUS copies,
  the EAC x100 convention) for the four TEL-AML1 patients, higher in CD34+ in all four.
* ``EXPECTED_CALLS`` / ``EXPECTED_GROUPS`` -- what a correct analysis must recover: the
  per-gene table of issue 2 and the study's Table 2.

How the numbers were chosen
---------------------------
Every fold the study reports is used as given (to its one decimal): T-ALL LRP CD34-/CD34+
2.7 (P13: 2.74), 3.9 (P14), 2.3 (P16: 2.34, the value closest to the 2.0 boundary; replicate
noise can flip it, so the demo's seed must be checked end to end), and LRP higher in CD34- in
all six T-ALL (range 1.2-3.9); BCRP higher in CD34- in five of six T-ALL (range 1.2-8.1, 8.1
for P14). MDR1 values reproduce the study's medians and
ranges exactly (T-ALL CD34+ 60.4 (13.2-2384), CD34- 117.2 (6.3-967.2); BCP CD34+ 2.7
(0.16-15.3), CD34- 3.6 (0.06-26.4)). Where the study gives no number, a fold called
different is at least 2.6x either way and a fold called "no difference" at most 1.5x, so
replicate noise cannot flip a call.

Raw target quantities (AU x GUS) lie inside the IM-9 standards' range 0.001-1 everywhere
except the two samples listed in ``OUT_OF_RANGE``: MDR1 of P12 CD34+ (2384 AU) and of P14 CD34-
(967.2 AU). With GUS at 0.0033 and 0.003 (about the lowest a sorted fraction gives) their MDR1
quantities are about 7.9 and 2.9 IM-9 units, above the top standard (1): the analysis
extrapolates and flags them (``classification.use_out_of_range``), as the study must have.
"""

from __future__ import annotations

GENES: tuple[str, ...] = ("BCL2", "MDR1", "LRP", "BCRP")
FRACTIONS: tuple[str, ...] = ("CD34pos", "CD34neg")
REFERENCE_GENE = "GUS"
FUSION_TARGET = "TEL-AML1"
#: Normalised fusion copy number is reported per this many GUS copies (EAC: x100).
FUSION_SCALE = 100.0
FOLD_THRESHOLD = 2.0
#: IM-9 standard dilutions (relative units) and plasmid standards (copies) of the demo plates.
RELATIVE_STANDARD_RANGE: tuple[float, float] = (0.001, 1.0)

#: Table 1 of the study. ``age`` in years as a string ("<1" allowed); ``cd34_pct`` = percent
#: CD34+ among gated blasts of the pre-sort sample.
PATIENTS: list[dict[str, object]] = [
    {"patient": "P01", "lineage": "BCP", "age": "2", "status": "diagnosis",
     "fusion": "negative", "markers": "CD45, CD13", "cd34_pct": 70.0},
    {"patient": "P02", "lineage": "BCP", "age": "<1", "status": "diagnosis",
     "fusion": "MLL-AF1p", "markers": "CD15", "cd34_pct": 48.0},
    {"patient": "P03", "lineage": "BCP", "age": "5", "status": "diagnosis",
     "fusion": "negative", "markers": "CD5, CD117", "cd34_pct": 58.0},
    {"patient": "P04", "lineage": "BCP", "age": "8", "status": "diagnosis",
     "fusion": "negative", "markers": "CD20, CD33", "cd34_pct": 50.0},
    {"patient": "P05", "lineage": "BCP", "age": "16", "status": "diagnosis",
     "fusion": "negative", "markers": "CD33, CD11b", "cd34_pct": 22.0},
    {"patient": "P06", "lineage": "BCP", "age": "2", "status": "diagnosis",
     "fusion": "TEL-AML1", "markers": "CD45, CD10, CD19", "cd34_pct": 33.0},
    {"patient": "P07", "lineage": "BCP", "age": "2", "status": "diagnosis",
     "fusion": "TEL-AML1", "markers": "CD45, CD20, CD15", "cd34_pct": 34.0},
    {"patient": "P08", "lineage": "BCP", "age": "6", "status": "diagnosis",
     "fusion": "TEL-AML1", "markers": "DR, CD20, CD13, CD10, CD15", "cd34_pct": 59.0},
    {"patient": "P09", "lineage": "BCP", "age": "15", "status": "relapse",
     "fusion": "negative", "markers": "DR", "cd34_pct": 46.0},
    {"patient": "P10", "lineage": "BCP", "age": "3", "status": "diagnosis",
     "fusion": "TEL-AML1", "markers": "CD20", "cd34_pct": 70.0},
    {"patient": "P11", "lineage": "BCP", "age": "15", "status": "diagnosis",
     "fusion": "MLL-AF4", "markers": "DR, CD20, CD15", "cd34_pct": 46.0},
    {"patient": "P12", "lineage": "T", "age": "15", "status": "relapse",
     "fusion": "negative", "markers": "CD13, CD11b", "cd34_pct": 80.0},
    {"patient": "P13", "lineage": "T", "age": "15", "status": "diagnosis",
     "fusion": "SIL-TAL", "markers": "CD8, CD13, TdT", "cd34_pct": 14.0},
    {"patient": "P14", "lineage": "T", "age": "13", "status": "diagnosis",
     "fusion": "negative", "markers": "CD1a", "cd34_pct": 58.0},
    {"patient": "P15", "lineage": "T", "age": "16", "status": "diagnosis",
     "fusion": "negative", "markers": "CD4", "cd34_pct": 67.0},
    {"patient": "P16", "lineage": "T", "age": "14", "status": "diagnosis",
     "fusion": "negative", "markers": "CD8, CD3, CD13, CD10, CD117, CD1a, TdT",
     "cd34_pct": 54.0},
    {"patient": "P17", "lineage": "T", "age": "10", "status": "diagnosis",
     "fusion": "negative", "markers": "CD4, CD3, CD117, CD33, CD11b, TdT", "cd34_pct": 47.0},
]  # fmt: skip

#: True normalised expression, AU relative to IM-9: patient -> gene -> (CD34pos, CD34neg).
EXPRESSION: dict[str, dict[str, tuple[float, float]]] = {
    # BCP-ALL
    "P01": {"BCL2": (2.4, 0.72), "MDR1": (2.7, 2.2), "LRP": (1.8, 1.5), "BCRP": (1.45, 0.42)},
    "P02": {"BCL2": (0.85, 0.78), "MDR1": (0.16, 1.9), "LRP": (0.9, 1.1), "BCRP": (0.22, 0.81)},
    "P03": {"BCL2": (1.6, 1.25), "MDR1": (15.3, 3.6), "LRP": (2.6, 2.1), "BCRP": (0.3, 1.05)},
    "P04": {"BCL2": (0.62, 0.55), "MDR1": (8.9, 1.4), "LRP": (1.2, 1.35), "BCRP": (0.65, 0.58)},
    "P05": {"BCL2": (1.9, 2.3), "MDR1": (1.3, 1.1), "LRP": (3.1, 2.5), "BCRP": (0.4, 0.48)},
    "P06": {"BCL2": (0.95, 1.1), "MDR1": (0.21, 0.06), "LRP": (0.75, 0.95), "BCRP": (1.1, 0.88)},
    "P07": {"BCL2": (0.48, 1.7), "MDR1": (3.4, 4.1), "LRP": (1.6, 1.4), "BCRP": (0.52, 0.61)},
    "P08": {"BCL2": (0.36, 1.25), "MDR1": (5.6, 4.6), "LRP": (2.2, 2.5), "BCRP": (0.85, 0.7)},
    "P09": {"BCL2": (1.15, 0.98), "MDR1": (0.9, 7.8), "LRP": (1.05, 0.85), "BCRP": (0.33, 0.41)},
    "P10": {"BCL2": (0.7, 0.88), "MDR1": (1.8, 12.5), "LRP": (1.3, 1.7), "BCRP": (0.6, 0.5)},
    "P11": {"BCL2": (1.3, 1.05), "MDR1": (5.2, 26.4), "LRP": (0.95, 1.25), "BCRP": (0.78, 0.95)},
    # T-ALL
    "P12": {"BCL2": (1.2, 1.0), "MDR1": (2384.0, 200.0), "LRP": (1.5, 1.8), "BCRP": (0.6, 1.92)},
    "P13": {"BCL2": (0.8, 0.95), "MDR1": (35.8, 9.0), "LRP": (0.9, 2.466), "BCRP": (0.6, 0.78)},
    "P14": {"BCL2": (1.5, 1.3), "MDR1": (120.0, 967.2), "LRP": (0.8, 3.12), "BCRP": (0.3, 2.43)},
    "P15": {"BCL2": (0.65, 0.75), "MDR1": (30.0, 6.3), "LRP": (1.4, 1.89), "BCRP": (0.9, 0.75)},
    "P16": {"BCL2": (2.1, 1.7), "MDR1": (13.2, 129.4), "LRP": (1.1, 2.574), "BCRP": (0.5, 0.6)},
    "P17": {"BCL2": (0.45, 1.6), "MDR1": (85.0, 105.0), "LRP": (2.0, 2.6), "BCRP": (0.28, 1.26)},
}  # fmt: skip

#: GUS on the expression plate, IM-9 relative units: patient -> (CD34pos, CD34neg).
GUS_RELATIVE: dict[str, tuple[float, float]] = {
    "P01": (0.032, 0.061),
    "P02": (0.42, 0.23),
    "P03": (0.037, 0.014),
    "P04": (0.068, 0.033),
    "P05": (0.019, 0.0076),
    "P06": (0.55, 0.064),
    "P07": (0.014, 0.04),
    "P08": (0.065, 0.06),
    "P09": (0.011, 0.0072),
    "P10": (0.013, 0.019),
    "P11": (0.074, 0.017),
    "P12": (0.0033, 0.0035),
    "P13": (0.0096, 0.02),
    "P14": (0.0055, 0.003),
    "P15": (0.0065, 0.01),
    "P16": (0.0081, 0.0048),
    "P17": (0.0088, 0.0049),
}

#: GUS on the fusion plate, copies (plasmid standards): patient -> (CD34pos, CD34neg).
#: Given for every patient so that fusion-negative samples can be put on a fusion plate too
#: (their TEL-AML1 then does not amplify: EAC "negative").
GUS_COPIES: dict[str, tuple[float, float]] = {
    "P01": (43000.0, 31000.0),
    "P02": (66000.0, 25000.0),
    "P03": (58000.0, 46000.0),
    "P04": (24000.0, 56000.0),
    "P05": (23000.0, 50000.0),
    "P06": (25000.0, 26000.0),
    "P07": (50000.0, 78000.0),
    "P08": (29000.0, 36000.0),
    "P09": (64000.0, 86000.0),
    "P10": (60000.0, 48000.0),
    "P11": (88000.0, 23000.0),
    "P12": (80000.0, 40000.0),
    "P13": (30000.0, 28000.0),
    "P14": (42000.0, 77000.0),
    "P15": (33000.0, 61000.0),
    "P16": (65000.0, 46000.0),
    "P17": (58000.0, 24000.0),
}

#: TEL-AML1 copies per FUSION_SCALE (100) GUS copies: patient -> (CD34pos, CD34neg).
TEL_AML1_NCN: dict[str, tuple[float, float]] = {
    "P06": (85.0, 32.0),
    "P07": (140.0, 78.0),
    "P08": (64.0, 21.0),
    "P10": (210.0, 95.0),
}

#: Samples whose raw target quantity must fall outside the IM-9 standards (0.001-1):
#: (patient, fraction, target) -> why.
OUT_OF_RANGE: dict[tuple[str, str, str], str] = {
    ("P12", "CD34pos", "MDR1"): "2384 AU x GUS 0.0033 = 7.9 IM-9 units, above the top standard",
    ("P14", "CD34neg", "MDR1"): "967.2 AU x GUS 0.003 = 2.9 IM-9 units, above the top standard",
}

#: The per-gene calls of issue 2 ("pos" = higher in CD34+, "neg" = higher in CD34-,
#: "-" = no >=2-fold difference).
EXPECTED_CALLS: dict[str, dict[str, str]] = {
    "P01": {"BCL2": "pos", "MDR1": "-", "BCRP": "pos", "LRP": "-"},
    "P02": {"BCL2": "-", "MDR1": "neg", "BCRP": "neg", "LRP": "-"},
    "P03": {"BCL2": "-", "MDR1": "pos", "BCRP": "neg", "LRP": "-"},
    "P04": {"BCL2": "-", "MDR1": "pos", "BCRP": "-", "LRP": "-"},
    "P05": {"BCL2": "-", "MDR1": "-", "BCRP": "-", "LRP": "-"},
    "P06": {"BCL2": "-", "MDR1": "pos", "BCRP": "-", "LRP": "-"},
    "P07": {"BCL2": "neg", "MDR1": "-", "BCRP": "-", "LRP": "-"},
    "P08": {"BCL2": "neg", "MDR1": "-", "BCRP": "-", "LRP": "-"},
    "P09": {"BCL2": "-", "MDR1": "neg", "BCRP": "-", "LRP": "-"},
    "P10": {"BCL2": "-", "MDR1": "neg", "BCRP": "-", "LRP": "-"},
    "P11": {"BCL2": "-", "MDR1": "neg", "BCRP": "-", "LRP": "-"},
    "P12": {"BCL2": "-", "MDR1": "pos", "BCRP": "neg", "LRP": "-"},
    "P13": {"BCL2": "-", "MDR1": "pos", "BCRP": "-", "LRP": "neg"},
    "P14": {"BCL2": "-", "MDR1": "neg", "BCRP": "neg", "LRP": "neg"},
    "P15": {"BCL2": "-", "MDR1": "pos", "BCRP": "-", "LRP": "-"},
    "P16": {"BCL2": "-", "MDR1": "neg", "BCRP": "-", "LRP": "neg"},
    "P17": {"BCL2": "neg", "MDR1": "-", "BCRP": "neg", "LRP": "-"},
}

#: Table 2 of the study, as pipeline group names.
EXPECTED_GROUPS: dict[str, str] = {
    "P01": "CD34pos_only", "P02": "CD34neg_only", "P03": "both", "P04": "CD34pos_only",
    "P05": "none", "P06": "CD34pos_only", "P07": "CD34neg_only", "P08": "CD34neg_only",
    "P09": "CD34neg_only", "P10": "CD34neg_only", "P11": "CD34neg_only", "P12": "both",
    "P13": "both", "P14": "CD34neg_only", "P15": "CD34pos_only", "P16": "CD34neg_only",
    "P17": "CD34neg_only",
}  # fmt: skip

#: MDR1 median (min, max) per lineage and fraction, AU relative to IM-9 (study's Results).
EXPECTED_MDR1_SUMMARY: dict[tuple[str, str], tuple[float, float, float]] = {
    ("T", "CD34pos"): (60.4, 13.2, 2384.0),
    ("T", "CD34neg"): (117.2, 6.3, 967.2),
    ("BCP", "CD34pos"): (2.7, 0.16, 15.3),
    ("BCP", "CD34neg"): (3.6, 0.06, 26.4),
}


def patient_ids() -> list[str]:
    """Patient IDs in the study's order (P01..P17)."""
    return [str(row["patient"]) for row in PATIENTS]


def true_quantities() -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """True quantities the qPCR simulator must produce, per patient and sorted fraction.

    Returns ``{patient: {fraction: {"relative": {target: quantity}, "copies": {target:
    quantity}}}}``. ``relative``: IM-9 relative units on an expression plate, for GUS, BCL2,
    MDR1, LRP and BCRP (target = AU x GUS). ``copies``: plasmid-standard copies on the fusion
    plate, GUS and TEL-AML1; present only for the TEL-AML1 patients (P06, P07, P08, P10),
    TEL-AML1 copies = NCN / FUSION_SCALE x GUS copies. (For a fusion-negative sample put on a
    fusion plate, use ``GUS_COPIES`` and simulate TEL-AML1 as not amplified.)
    """
    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for patient in patient_ids():
        per_fraction: dict[str, dict[str, dict[str, float]]] = {}
        for index, fraction in enumerate(FRACTIONS):
            gus = GUS_RELATIVE[patient][index]
            relative = {REFERENCE_GENE: gus}
            for gene in GENES:
                relative[gene] = EXPRESSION[patient][gene][index] * gus
            entry: dict[str, dict[str, float]] = {"relative": relative}
            if patient in TEL_AML1_NCN:
                gus_copies = GUS_COPIES[patient][index]
                entry["copies"] = {
                    REFERENCE_GENE: gus_copies,
                    FUSION_TARGET: TEL_AML1_NCN[patient][index] / FUSION_SCALE * gus_copies,
                }
            per_fraction[fraction] = entry
        out[patient] = per_fraction
    return out


def true_quantity_rows() -> list[dict[str, object]]:
    """``true_quantities()`` as tidy rows: patient, fraction, unit, target, quantity."""
    rows: list[dict[str, object]] = []
    for patient, fractions in true_quantities().items():
        for fraction, units in fractions.items():
            for unit, targets in units.items():
                for target, quantity in targets.items():
                    rows.append(
                        {
                            "patient": patient,
                            "fraction": fraction,
                            "unit": unit,
                            "target": target,
                            "quantity": quantity,
                        }
                    )
    return rows
