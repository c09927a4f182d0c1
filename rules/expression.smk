# Per patient: pair the sorted fractions with their qPCR quantities (carrying the flow
# verdicts), normalise to GUS, classify the CD34+/CD34- folds.


def patient_quantities(wildcards):
    """quantities.tsv of every plate one patient was measured on."""
    return expand(
        "results/qpcr/{plate}/quantities.tsv", plate=SHEETS.plates_of(wildcards.patient)
    )


rule pair:
    input:
        flow="results/flow/{patient}.tsv",
        quantities=patient_quantities,
    output:
        "results/pairs/{patient}.tsv",
    params:
        units=lambda wildcards: units_of(wildcards.patient),
    log:
        "logs/pair/{patient}.log",
    benchmark:
        "benchmarks/pair/{patient}.tsv"
    resources:
        mem_mb=500,
        runtime=5,
    group:
        "patient"
    script:
        "../scripts/pair.py"


rule normalise:
    input:
        "results/pairs/{patient}.tsv",
    output:
        "results/expression/{patient}.tsv",
    params:
        normalisation=config["normalisation"],
        reference=config["qpcr"]["reference_gene"],
        copy_targets=config["qpcr"]["copy_targets"],
        classification=config["classification"],
    log:
        "logs/normalise/{patient}.log",
    benchmark:
        "benchmarks/normalise/{patient}.tsv"
    resources:
        mem_mb=500,
        runtime=5,
    group:
        "patient"
    script:
        "../scripts/normalise.py"


rule classify:
    input:
        expression="results/expression/{patient}.tsv",
        flow="results/flow/{patient}.tsv",
    output:
        calls="results/calls/{patient}.tsv",
        group="results/calls/{patient}.group.tsv",
        fusion="results/calls/{patient}.fusion.tsv",
    params:
        lineage=lambda wildcards: sample_row(wildcards.patient)["lineage"],
        classification=config["classification"],
    log:
        "logs/classify/{patient}.log",
    benchmark:
        "benchmarks/classify/{patient}.tsv"
    resources:
        mem_mb=500,
        runtime=5,
    group:
        "patient"
    script:
        "../scripts/classify.py"
