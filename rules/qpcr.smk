# qPCR: per plate read the export, fit standard curves per target, quantify unknowns; then
# the cohort table of standard curves.


rule read_plate:
    input:
        unpack(plate_inputs),
    output:
        "results/qpcr/{plate}/wells.tsv",
    log:
        "logs/read_plate/{plate}.log",
    benchmark:
        "benchmarks/read_plate/{plate}.tsv"
    group:
        "plate"
    conda:
        "../envs/sortpcr.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=code_version("scripts/read_plate.py"),
        format=lambda wildcards: plate_row(wildcards.plate)["format"],
        unit=lambda wildcards: plate_row(wildcards.plate)["unit"],
        label=lambda wildcards: plate_row(wildcards.plate)["path_label"],
        qpcr=config["qpcr"],
    script:
        "../scripts/read_plate.py"


rule fit_curves:
    input:
        wells="results/qpcr/{plate}/wells.tsv",
        raw=raw_files(plate_inputs),
    output:
        "results/qpcr/{plate}/curves.tsv",
    log:
        "logs/fit_curves/{plate}.log",
    benchmark:
        "benchmarks/fit_curves/{plate}.tsv"
    group:
        "plate"
    conda:
        "../envs/sortpcr.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=code_version("scripts/fit_curves.py"),
        qpcr=config["qpcr"],
    script:
        "../scripts/fit_curves.py"


rule quantify:
    input:
        wells="results/qpcr/{plate}/wells.tsv",
        curves="results/qpcr/{plate}/curves.tsv",
        raw=raw_files(plate_inputs),
    output:
        quantities="results/qpcr/{plate}/quantities.tsv",
        wells_qc="results/qpcr/{plate}/wells_qc.tsv",
        png=report(
            "results/qpcr/{plate}/curves.png",
            caption="../resources/report/qpcr_curves.rst",
            category="qPCR QC",
            subcategory="Standard curves per plate",
            labels={"plate": "{plate}", "figure": "standard curves"},
        ),
    log:
        "logs/quantify/{plate}.log",
    benchmark:
        "benchmarks/quantify/{plate}.tsv"
    group:
        "plate"
    conda:
        "../envs/sortpcr.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=code_version("scripts/quantify.py"),
        qpcr=config["qpcr"],
    script:
        "../scripts/quantify.py"


rule curves_table:
    input:
        tables=expand("results/qpcr/{plate}/curves.tsv", plate=PLATES),
    output:
        # in the report as an HTML page (rules/report.smk)
        "results/qpcr/standard_curves.tsv",
    log:
        "logs/curves_table.log",
    benchmark:
        "benchmarks/curves_table.tsv"
    conda:
        "../envs/sortpcr.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=code_version("scripts/concat_tables.py"),
    script:
        "../scripts/concat_tables.py"
