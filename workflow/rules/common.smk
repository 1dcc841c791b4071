# Shared helpers of the rules: the validated config, the task list, the results layout, code inputs.
import re
import sys
from functools import cache
from pathlib import Path

# The taskvectors package lives in workflow/; jobs (also in conda envs or on cluster nodes)
# import it from there, so the workflow runs with or without `pip install -e .`.
PACKAGE_ROOT = str(Path(workflow.basedir, "workflow").resolve())
sys.path.insert(0, PACKAGE_ROOT)

from taskvectors.codedeps import stage_sources
from taskvectors import runlock
from taskvectors.config import ConfigError
from taskvectors.layout import Layout, conflict_item
from taskvectors.pipeline import (
    conflict_pairs,
    export_package_path,
    model_params,
    select_tasks,
    task_data_files,
)
from taskvectors.preflight import startup_config
from taskvectors.resources import model_resources

export_package_path(PACKAGE_ROOT)
# Everything that can be known before work starts is refused here, one line per problem: the
# schema, duplicated keys, paths, templates, task files and sizes (preflight.py).
try:
    _validated, REGISTRY = startup_config(
        config,
        workflow.configfiles,
        run_preflight=not (workflow.remote_exec or workflow.subprocess_exec),
    )
except ConfigError as error:
    raise SystemExit(f"taskvectors: {error}")
config.clear()
config.update(_validated)

L = Layout(config["results_dir"], config["reports_dir"])
DATA = Path(config["data_dir"])
MODELS = list(config["models"])
TASKS = select_tasks(config["tasks"], REGISTRY)
PAIRS = conflict_pairs(config["analyses"]["conflicts"]["pairs"], TASKS)
ANALYSES = {name: entry["enabled"] for name, entry in config["analyses"].items()}
EVALUATION = config["evaluation"]

# Cheap, model-free jobs run on the submitting machine, not through a cluster queue
# (prepare_model too: it needs network for hub models, and compute nodes often have none).
localrules:
    prepare_model,
    evaluate,
    summarize,
    score_analysis,
    report,


wildcard_constraints:
    model="|".join(re.escape(m) for m in MODELS),
    task="|".join(re.escape(t) for t in TASKS),


def code(*modules):
    """Source files of the package modules a rule calls (edits to them rerun the rule)."""
    return list(stage_sources(*(f"taskvectors.{m}" for m in modules)))


@cache
def _model_memory(model):
    cache_dir = config["model_cache_dir"]
    entry = config["models"][model]
    return model_resources(entry, cache_dir=Path(cache_dir).expanduser() if cache_dir else None)


def model_mem_mb(wildcards, attempt):
    """Host memory of a model job, from the model's parameter count and dtype (no weights read);
    a retry after running out of memory asks for more."""
    return _model_memory(wildcards.model)["mem_mb"] * attempt


def get_model_entry(wildcards):
    return model_params(config["models"][wildcards.model])


def get_task_entry(wildcards):
    return REGISTRY[wildcards.task].to_dict()


def get_task_data(wildcards):
    return task_data_files(REGISTRY[wildcards.task], DATA)


def per_task(path_of, model):
    """``path_of(model, task)`` for every task of the run."""
    return [path_of(model, task) for task in TASKS]


def per_model_task(path_of):
    return [path_of(model, task) for model in MODELS for task in TASKS]


def analysis_raw(name, model):
    """The raw files an analysis model job writes for ``model``."""
    if name == "conflicts":
        return [L.analysis("conflicts", model, conflict_item(a, b)) for a, b in PAIRS]
    return [L.analysis(name, model, task) for task in analysis_tasks(name)]


def enabled_analyses():
    """Analyses switched on that have something to do (tasks, or pairs for conflicts)."""
    return [n for n, on in ANALYSES.items() if on and analysis_tasks(n)]


def get_final_targets():
    return [L.summary(), L.report_page()]
