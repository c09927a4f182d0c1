# sortpcr: raw FCS sorts + qPCR plate exports -> CD34+/CD34- drug-resistance gene calls.
# Run from the repository root: `snakemake --cores N` (config/config.yaml points at the demo).
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "resources/report/workflow.rst"


include: "rules/common.smk"
include: "rules/flow.smk"
include: "rules/qpcr.smk"
include: "rules/expression.smk"
include: "rules/cohort.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
        report_pages(),
