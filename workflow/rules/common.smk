# Shared helpers of the rules: the validated config, the task list, paths and code inputs.
import re
from pathlib import Path

from taskvectors.codedeps import stage_sources
from taskvectors.config import validate_config
from taskvectors.pipeline import (
    conflict_pairs,
    model_params,
    select_tasks,
    task_data_files,
)
from taskvectors.tasks.registry import load_registry

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
    return f"{RESULTS}/logs/{rule}/" + "/".join(parts) + ".log"


def benchmark_path(rule, *parts):
    return f"{RESULTS}/benchmarks/{rule}/" + "/".join(parts) + ".tsv"


def get_model_record(wildcards):
    return f"{RESULTS}/models/{wildcards.model}.json"


def get_model_entry(wildcards):
    return model_params(config["models"][wildcards.model])


def get_task_entry(wildcards):
    return REGISTRY[wildcards.task].to_dict()


def get_task_data(wildcards):
    return task_data_files(REGISTRY[wildcards.task], DATA)


def per_task(pattern, model):
    return [pattern.format(results=RESULTS, model=model, task=t) for t in TASKS]


def analysis_outputs(name, model):
    if name == "conflicts":
        return [f"{RESULTS}/analyses/conflicts/{model}/{a}__{b}.parquet" for a, b in PAIRS]
    return per_task("{results}/analyses/" + name + "/{model}/{task}.parquet", model)


def get_final_targets():
    return [f"{RESULTS}/summary.csv", f"{REPORTS}/index.html"]
