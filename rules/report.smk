# Report pages: every table a user reads as a self-contained HTML page, the front page (the
# answer), Tables 1 and 2 as the study prints them, one page per patient. One job: all
# pages together take about a second (see README, Performance).

# table name -> (source, report category, subcategory)
REPORT_TABLES = {
    "table2": ("results/cohort/table2.tsv", "Tables", "Cohort tables"),
    "resistance_groups": (
        "results/cohort/resistance_groups.tsv",
        "Tables",
        "Cohort tables",
    ),
    "calls": ("results/cohort/calls.tsv", "Tables", "Cohort tables"),
    "table1": ("results/cohort/table1.tsv", "Tables", "Cohort tables"),
    "statistics": ("results/cohort/statistics.tsv", "Tables", "Statistics"),
    "claims": ("results/cohort/claims.tsv", "Tables", "Statistics"),
    "lineage": ("results/cohort/lineage.tsv", "Tables", "Statistics"),
    "expression": ("results/cohort/expression.tsv", "Tables", "Expression"),
    "fusion": ("results/cohort/fusion.tsv", "Tables", "Expression"),
    "reference_genes": ("results/cohort/reference_genes.tsv", "Tables", "Expression"),
    "flow": ("results/qc/flow.tsv", "Flow QC", "Flow QC table"),
    "standard_curves": (
        "results/qpcr/standard_curves.tsv",
        "qPCR QC",
        "Standard curve table",
    ),
    "inputs": ("results/provenance/inputs.tsv", "Provenance", "Provenance"),
    "software": ("results/provenance/software.tsv", "Provenance", "Provenance"),
}
# Tables another rule may not build yet (the study's claims, the lineage comparison).
REPORT_TABLES = {
    name: spec
    for name, spec in REPORT_TABLES.items()
    if any(spec[0] == str(f) for r in workflow.rules for f in r.output)
}
REPORT_TEXTS = {"config": "results/provenance/config.yaml"}
# caption (resources/report/*.rst) of a table page, when not named as the table
CAPTION_OF = {"flow": "flow_table", "inputs": "provenance", "software": "provenance"}
# the label a table page has in the report's lists, when not its name with spaces
LABEL_OF = {
    "table1": "Table 1 (data)",
    "table2": "Table 2 (data)",
    "claims": "study claims beside ours",
    "lineage": "BCP vs T",
    "flow": "flow QC",
    "inputs": "raw inputs (SHA-256)",
    "software": "software versions",
    "config": "effective configuration",
}


# Every page the rule report_pages writes (rule all asks for them).
REPORT_PAGES = [
    "results/report/answer.html",
    "results/report/journal_tables.html",
    "results/report/journal_tables.docx",
    *expand("results/report/patient_{patient}.html", patient=PATIENTS),
    *expand("results/report/table_{name}.html", name=[*REPORT_TABLES, *REPORT_TEXTS]),
]


rule report_pages:
    input:
        **{f"table_{name}": spec[0] for name, spec in REPORT_TABLES.items()},
        **{f"text_{name}": path for name, path in REPORT_TEXTS.items()},
        pairs=expand("results/pairs/{patient}.tsv", patient=PATIENTS),
        flow_png=expand("results/flow/{patient}.png", patient=PATIENTS),
        plate_png=expand("results/qpcr/{plate}/curves.png", plate=PLATES),
    output:
        **{
            f"patient_{p}": report(
                f"results/report/patient_{p}.html",
                caption="../resources/report/patient.rst",
                category="Patients",
                subcategory="One page per patient",
                labels={"patient": p},
            )
            for p in PATIENTS
        },
        **{
            f"table_{name}": report(
                f"results/report/table_{name}.html",
                caption=f"../resources/report/{CAPTION_OF.get(name, name)}.rst",
                category=spec[1],
                subcategory=spec[2],
                labels={"table": LABEL_OF.get(name, name.replace("_", " "))},
            )
            for name, spec in REPORT_TABLES.items()
        },
        **{
            f"table_{name}": report(
                f"results/report/table_{name}.html",
                caption="../resources/report/provenance.rst",
                category="Provenance",
                subcategory="Provenance",
                labels={"table": LABEL_OF.get(name, name)},
            )
            for name in REPORT_TEXTS
        },
        front=report(
            "results/report/answer.html",
            caption="../resources/report/answer.rst",
            category="Answer",
            subcategory="Front page",
            labels={"page": "the answer"},
        ),
        journal=report(
            "results/report/journal_tables.html",
            caption="../resources/report/journal.rst",
            category="Answer",
            subcategory="Tables as printed",
            labels={"page": "Tables 1 and 2"},
        ),
        docx=report(
            "results/report/journal_tables.docx",
            caption="../resources/report/journal.rst",
            category="Downloads",
            subcategory="Tables 1 and 2 (Word)",
            labels={"file": "Tables 1 and 2 (docx)"},
        ),
    log:
        "logs/report_pages.log",
    benchmark:
        "benchmarks/report_pages.tsv"
    conda:
        "../envs/sortpcr.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code_version("scripts/report_pages.py"),
        classification=config["classification"],
    script:
        "../scripts/report_pages.py"
