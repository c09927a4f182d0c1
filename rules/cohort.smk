# Cohort: tables 1 and 2, calls, groups, statistics, workbook, figures, provenance.

COHORT_TABLES = expand(
    "results/cohort/{table}.tsv",
    table=[
        "calls",
        "resistance_groups",
        "table1",
        "table2",
        "expression",
        "fusion",
        "reference_genes",
        "statistics",
        "lineage",
        "claims",
    ],
)

FIGURES = expand(
    "results/figures/{figure}.{ext}",
    figure=["figure1_BCP", "figure2_T", "heatmap_log2_fold", "fusion_TEL-AML1"],
    ext=["png", "svg"],
)

COHORT_CAPTIONS = {
    "calls": "Calls per patient and gene",
    "resistance_groups": "Resistance groups",
    "table1": "Table 1",
    "table2": "Table 2",
    "expression": "Normalised expression",
    "fusion": "TEL-AML1",
    "reference_genes": "Reference genes (geNorm)",
}


# The study's statements (claims.tsv): relative when the working folder has the file (a run
# from the repository root: the path stays the same when the folder is copied or moved, so
# nothing reruns), else this workflow's own copy (used as a module from another folder).
STUDY_CLAIMS = "resources/study_claims.yaml"
if not Path(STUDY_CLAIMS).exists():
    STUDY_CLAIMS = str(Path(WORKFLOW_DIR) / STUDY_CLAIMS)


rule cohort:
    input:
        flow="results/qc/flow.tsv",
        calls=expand("results/calls/{patient}.tsv", patient=PATIENTS),
        groups=expand("results/calls/{patient}.group.tsv", patient=PATIENTS),
        fusion=expand("results/calls/{patient}.fusion.tsv", patient=PATIENTS),
        expression=expand("results/expression/{patient}.tsv", patient=PATIENTS),
    output:
        # in the report as HTML pages (rules/report.smk)
        **{table: f"results/cohort/{table}.tsv" for table in COHORT_CAPTIONS},
    log:
        "logs/cohort.log",
    benchmark:
        "benchmarks/cohort.tsv"
    conda:
        "../envs/sortpcr.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code_version("scripts/cohort.py"),
        samples=samples_records(),
        classification=config["classification"],
    script:
        "../scripts/cohort.py"


rule statistics:
    input:
        calls="results/cohort/calls.tsv",
        groups="results/cohort/resistance_groups.tsv",
        table1="results/cohort/table1.tsv",
        fusion="results/cohort/fusion.tsv",
        claims=STUDY_CLAIMS,
    output:
        # in the report as HTML pages (rules/report.smk)
        statistics="results/cohort/statistics.tsv",
        lineage="results/cohort/lineage.tsv",
        claims="results/cohort/claims.tsv",
    log:
        "logs/statistics.log",
    benchmark:
        "benchmarks/statistics.tsv"
    conda:
        "../envs/sortpcr.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code_version("scripts/statistics.py"),
        classification=config["classification"],
    script:
        "../scripts/statistics.py"


rule workbook:
    input:
        tables=COHORT_TABLES,
        flow="results/qc/flow.tsv",
        curves="results/qpcr/standard_curves.tsv",
    output:
        report(
            "results/cohort/sortpcr_results.xlsx",
            caption="../resources/report/workbook.rst",
            category="Downloads",
            subcategory="Workbook",
            labels={"file": "workbook (xlsx)"},
        ),
    log:
        "logs/workbook.log",
    benchmark:
        "benchmarks/workbook.tsv"
    conda:
        "../envs/sortpcr.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code_version("scripts/workbook.py"),
    script:
        "../scripts/workbook.py"


# One job draws all four: on a workstation's few cores, four jobs would each pay the
# start-up and the pandas and matplotlib imports (about 1 s) for about 0.5 s of drawing.
rule figures:
    input:
        calls="results/cohort/calls.tsv",
        groups="results/cohort/resistance_groups.tsv",
        fusion="results/cohort/fusion.tsv",
    output:
        # each figure once in Figures (SVG, editable text), the PNG under Downloads
        svg=report(
            [f for f in FIGURES if f.endswith(".svg")],
            caption="../resources/report/figures.rst",
            category="Figures",
            subcategory="Cohort figures",
        ),
        png=report(
            [f for f in FIGURES if f.endswith(".png")],
            caption="../resources/report/figures.rst",
            category="Downloads",
            subcategory="Figures as PNG",
        ),
    log:
        "logs/figures.log",
    benchmark:
        "benchmarks/figures.tsv"
    conda:
        "../envs/sortpcr.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code_version("scripts/figures.py"),
        classification=config["classification"],
        figures=config["figures"],
    script:
        "../scripts/figures.py"


# Checksums of the raw inputs in a rule of their own: they rerun only when an input changes,
# not when a script or the config does (hashing every FCS file again would cost gigabytes).
rule checksums:
    input:
        samples=config["samples"],
        units=config["units"],
        plates=config["plates"],
        raw=sorted(
            set(all_flow_inputs())
            | set(SHEETS.plates["path"])
            | {p for p in SHEETS.plates["layout"] if p}
        ),
    output:
        # in the report as an HTML page (rules/report.smk)
        "results/provenance/inputs.tsv",
    log:
        "logs/checksums.log",
    benchmark:
        "benchmarks/checksums.tsv"
    conda:
        "../envs/sortpcr.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=code_version("scripts/checksums.py"),
    script:
        "../scripts/checksums.py"


rule provenance:
    output:
        # in the report as HTML pages (rules/report.smk)
        software="results/provenance/software.tsv",
        config="results/provenance/config.yaml",
    log:
        "logs/provenance.log",
    benchmark:
        "benchmarks/provenance.tsv"
    conda:
        "../envs/sortpcr.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=code_versions(),
        config=config,
    script:
        "../scripts/provenance.py"
