# Shared helpers of the rules: the validated config, the task list, paths and code inputs.
import re
import sys
from pathlib import Path

# The taskvectors package lives in workflow/; jobs (also in conda envs or on cluster nodes)
# import it from there, so the workflow runs with or without `pip install -e .`.
PACKAGE_ROOT = str(Path(workflow.basedir, "workflow").resolve())
sys.path.insert(0, PACKAGE_ROOT)

from taskvectors.codedeps import stage_sources
from taskvectors.config import validate_config
from taskvectors.pipeline import (
    conflict_pairs,
    export_package_path,
    model_params,
    select_tasks,
    task_data_files,
)
from taskvectors.tasks.registry import load_registry

export_package_path(PACKAGE_ROOT)
_validated = validate_config(config)
config.clear()
config.update(_validated)

RESULTS = config["results_dir"]
REPORTS = config["reports_dir"]
DATA = Path(config["data_dir"])
MODELS = list(config["models"])
REGISTRY = load_registry(DATA, config["user_tasks"])
TASKS = select_tasks(config["tasks"], REGISTRY)
PAIRS = conflict_pairs(config["analyses"]["conflicts"]["pairs"], TASKS)
ANALYSES = {name: entry["enabled"] for name, entry in config["analyses"].items()}
ANSWER_TOKENS = (
    1
    if config["evaluation"]["answer"] == "first_token"
    else config["evaluation"]["max_answer_tokens"]
)


wildcard_constraints:
    model="|".join(re.escape(m) for m in MODELS),
    task="|".join(re.escape(t) for t in TASKS),


def code(*modules):
    """Source files of the package modules a rule calls (edits to them rerun the rule)."""
    return list(stage_sources(*(f"taskvectors.{m}" for m in modules)))


def log_path(rule, *parts):
    return str(Path(RESULTS, "logs", rule, *parts).with_suffix(".log"))


def benchmark_path(rule, *parts):
    return str(Path(RESULTS, "benchmarks", rule, *parts).with_suffix(".tsv"))


def get_model_record(wildcards):
    return f"{RESULTS}/models/{wildcards.model}.json"


def get_model_entry(wildcards):
    return model_params(config["models"][wildcards.model])


def get_task_entry(wildcards):
    return REGISTRY[wildcards.task].to_dict()


def get_task_data(wildcards):
    return task_data_files(REGISTRY[wildcards.task], DATA)


def per_task(stage, model, suffix):
    """One path per task of the run: ``<results>/<stage>/<model>/<task><suffix>``."""
    return [str(Path(RESULTS, stage, model, f"{task}{suffix}")) for task in TASKS]


def analysis_outputs(name, model):
    if name == "conflicts":
        return [f"{RESULTS}/analyses/conflicts/{model}/{a}__{b}.parquet" for a, b in PAIRS]
    return per_task(f"analyses/{name}", model, ".parquet")


def get_report_analyses(wildcards):
    names = [n for n, on in ANALYSES.items() if on and not (n == "conflicts" and not PAIRS)]
    return [path for m in MODELS for n in names for path in analysis_outputs(n, m)]


def get_final_targets():
    return [f"{RESULTS}/summary.csv", f"{REPORTS}/index.html"]
