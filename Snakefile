# taskvectors: "In-Context Learning Creates Task Vectors" on any causal LM.
# This file is the table of contents; the stages live in workflow/rules/*.smk and call the
# typed functions of the taskvectors package (workflow/taskvectors/).

from snakemake.utils import min_version

min_version("9.0")


# The default main job, unless a config is given on the command line (--configfile/--config):
# nested keys such as `models` would otherwise merge with the default's instead of replacing them.
if not config:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/prompts.smk"
include: "workflow/rules/inference.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/analyses.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        get_final_targets(),
    default_target: True
