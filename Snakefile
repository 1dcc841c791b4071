# taskvectors: "In-Context Learning Creates Task Vectors" on any causal LM.
# This file is the table of contents; the stages live in workflow/rules/*.smk and call the
# typed functions of the taskvectors package (workflow/taskvectors/).

import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.19")


# The default main job is config/config.yaml. `--config key=value` overrides its keys; a config
# given with `--configfile` replaces it whole (nested keys such as `models` would otherwise merge
# with the default's instead of replacing them).
if not workflow.overwrite_configfiles:
    sys.path.insert(0, str(Path(workflow.basedir, "workflow")))
    from taskvectors.pipeline.config import ConfigError, check_config_files

    try:
        check_config_files([str(Path(workflow.basedir, "config", "config.yaml"))])
    except ConfigError as error:
        raise SystemExit(f"taskvectors: {error}")

    configfile: "config/config.yaml"


# `--sdm apptainer` runs every job in the image built from envs/Apptainer.def (same pins as
# pyproject.toml); without it the directive is ignored.
container: "envs/taskvectors.sif"


# `snakemake --report report.html` (or .zip) wraps the suite's own page and summary table with
# Snakemake's per-rule runtime statistics.
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/main.smk"
include: "workflow/rules/analyses.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        get_final_targets(),
    default_target: True


# A lock in the results folder for the length of a run: Snakemake's own lock belongs to the
# working directory, so two working directories writing one results_dir would both run every job.
# Dry runs and per-job processes run no hooks, so they never take it.
onstart:
    try:
        runlock.acquire(config["results_dir"])
    except runlock.RunLockError as error:
        raise SystemExit(f"taskvectors: {error}")


onsuccess:
    runlock.release(config["results_dir"])


onerror:
    runlock.release(config["results_dir"])
