# sortpcr: raw FCS sorts + qPCR plate exports -> CD34+/CD34- drug-resistance gene calls.
# Run from the repository root: `snakemake --cores N` (config/config.yaml points at the demo).
import os

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "resources/report/workflow.rst"


# This workflow's own folder. Used as a module from another folder (config/README.md),
# workflow.basedir is the calling workflow's folder, so our own files resolve from here.
WORKFLOW_DIR = str(workflow.current_basedir)
# A relative gating strategy missing from the working folder is one of ours (resources/gating/).
_strategy = config["gating"]["strategy"]
if not os.path.exists(_strategy) and os.path.exists(
    os.path.join(WORKFLOW_DIR, _strategy)
):
    config["gating"]["strategy"] = os.path.join(WORKFLOW_DIR, _strategy)


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
        REPORT_PAGES,
