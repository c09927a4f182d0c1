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
}


rule cohort:
    input:
        flow="results/qc/flow.tsv",
        calls=expand("results/calls/{patient}.tsv", patient=PATIENTS),
        groups=expand("results/calls/{patient}.group.tsv", patient=PATIENTS),
        fusion=expand("results/calls/{patient}.fusion.tsv", patient=PATIENTS),
        expression=expand("results/expression/{patient}.tsv", patient=PATIENTS),
    output:
        **{
            table: report(
                f"results/cohort/{table}.tsv",
                caption=f"../resources/report/{table}.rst",
                category="Cohort",
                labels={"table": label},
            )
            for table, label in COHORT_CAPTIONS.items()
        },
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
        claims=str(Path(workflow.basedir) / "resources" / "study_claims.yaml"),
    output:
        statistics=report(
            "results/cohort/statistics.tsv",
            caption="../resources/report/statistics.rst",
            category="Cohort",
            labels={"table": "Statistics"},
        ),
        lineage=report(
            "results/cohort/lineage.tsv",
            caption="../resources/report/lineage.rst",
            category="Cohort",
            labels={"table": "Lineage comparison"},
        ),
        claims=report(
            "results/cohort/claims.tsv",
            caption="../resources/report/claims.rst",
            category="Cohort",
            labels={"table": "Study claims"},
        ),
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
        classification=config["classification"],
    script:
        "../scripts/statistics.py"


rule workbook:
    input:
        tables=COHORT_TABLES,
        flow="results/qc/flow.tsv",
        curves="results/qpcr/standard_curves.tsv",
    output:
        "results/cohort/sortpcr_results.xlsx",
    log:
        "logs/workbook.log",
    benchmark:
        "benchmarks/workbook.tsv"
    conda:
        "../envs/sortpcr.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
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
        report(
            FIGURES,
            caption="../resources/report/figures.rst",
            category="Expression",
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
        classification=config["classification"],
    script:
        "../scripts/figures.py"


rule provenance:
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
        inputs=report(
            "results/provenance/inputs.tsv",
            caption="../resources/report/provenance.rst",
            category="Provenance",
            labels={"table": "raw inputs (SHA-256)"},
        ),
        software=report(
            "results/provenance/software.tsv",
            caption="../resources/report/provenance.rst",
            category="Provenance",
            labels={"table": "software versions"},
        ),
        config=report(
            "results/provenance/config.yaml",
            caption="../resources/report/provenance.rst",
            category="Provenance",
            labels={"table": "effective configuration"},
        ),
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
        config=config,
    script:
        "../scripts/provenance.py"
