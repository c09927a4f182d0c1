# Flow cytometry: one gating job per patient (pre-sort + both sorted files), then the cohort
# QC table.


rule gate_patient:
    input:
        unpack(flow_inputs),
    output:
        json="results/flow/{patient}.json",
        tsv="results/flow/{patient}.tsv",
        gating_xml="results/flow/{patient}.gating.xml",
        png=report(
            "results/flow/{patient}.png",
            caption="../resources/report/flow_panel.rst",
            category="Flow QC",
            subcategory="Gating per patient",
            labels={"patient": "{patient}", "figure": "gating"},
        ),
    log:
        "logs/gate_patient/{patient}.log",
    benchmark:
        "benchmarks/gate_patient/{patient}.tsv"
    group:
        "patient"
    conda:
        "../envs/sortpcr.yaml"
    resources:
        mem_mb=gate_mem_mb,
        runtime=10,
    params:
        code=code_version("scripts/gate_patient.py"),
        compensation=lambda wildcards: compensation_of(wildcards.patient),
        labels=lambda wildcards: flow_labels(wildcards.patient),
        gating=config["gating"],
        qc=config["qc"],
    script:
        "../scripts/gate_patient.py"


rule flow_table:
    input:
        tables=expand("results/flow/{patient}.tsv", patient=PATIENTS),
        # raw files too: see raw_files in common.smk
        raw=all_flow_inputs(),
    output:
        # in the report as an HTML page (rules/report.smk)
        "results/qc/flow.tsv",
    log:
        "logs/flow_table.log",
    benchmark:
        "benchmarks/flow_table.tsv"
    conda:
        "../envs/sortpcr.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=code_version("scripts/concat_tables.py"),
    script:
        "../scripts/concat_tables.py"
