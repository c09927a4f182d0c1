# Per patient: pair the sorted fractions with their qPCR quantities (carrying the flow
# verdicts), normalise to GUS, classify the CD34+/CD34- folds.


rule pair:
    input:
        flow="results/flow/{patient}.tsv",
        raw=raw_files(flow_inputs),
        quantities=patient_plates("quantities"),
        curves=patient_plates("curves"),
    output:
        "results/pairs/{patient}.tsv",
    log:
        "logs/pair/{patient}.log",
    benchmark:
        "benchmarks/pair/{patient}.tsv"
    group:
        "patient"
    conda:
        "../envs/sortpcr.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=code_version("scripts/pair.py"),
        units=lambda wildcards: units_of(wildcards.patient),
    script:
        "../scripts/pair.py"


rule normalise:
    input:
        "results/pairs/{patient}.tsv",
    output:
        "results/expression/{patient}.tsv",
    log:
        "logs/normalise/{patient}.log",
    benchmark:
        "benchmarks/normalise/{patient}.tsv"
    group:
        "patient"
    conda:
        "../envs/sortpcr.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=code_version("scripts/normalise.py"),
        qpcr=config["qpcr"],
        normalisation=config["normalisation"],
        classification=config["classification"],
    script:
        "../scripts/normalise.py"


rule classify:
    input:
        expression="results/expression/{patient}.tsv",
    output:
        calls="results/calls/{patient}.tsv",
        group="results/calls/{patient}.group.tsv",
        fusion="results/calls/{patient}.fusion.tsv",
    log:
        "logs/classify/{patient}.log",
    benchmark:
        "benchmarks/classify/{patient}.tsv"
    group:
        "patient"
    conda:
        "../envs/sortpcr.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=code_version("scripts/classify.py"),
        lineage=lambda wildcards: sample_row(wildcards.patient)["lineage"],
        classification=config["classification"],
    script:
        "../scripts/classify.py"
