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
from taskvectors.pipeline import export_package_path, model_params, task_data_files
from taskvectors.preflight import startup_config
from taskvectors.resources import model_resources
from taskvectors.run_plan import RunPlan

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

# The run's models, tasks, analyses and every file they write (run_plan.py).
PLAN = RunPlan(config, REGISTRY)
L = PLAN.layout
DATA = Path(config["data_dir"])
MODELS = PLAN.models
TASKS = PLAN.tasks
PAIRS = PLAN.pairs
EVALUATION = config["evaluation"]

# Cheap, model-free jobs run on the submitting machine, not through a cluster queue
# (prepare_model too: it needs network for hub models, and compute nodes often have none).
# geometry is one too; analyses.smk declares it with its rule, which exists only when enabled.
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
    entry = {"alias": model, **config["models"][model]}
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
    return PLAN.analysis_raw(name, model)


def enabled_analyses():
    """Analyses switched on that have something to do (tasks, or pairs for conflicts)."""
    return PLAN.enabled_analyses()


def get_final_targets():
    """Every declared output of every job: Snakemake rebuilds a deleted intermediate file only
    when it is a target (then everything after it too)."""
    return [path for path, _ in PLAN.outputs()]


# --- analyses ---------------------------------------------------------------------------------

CONFLICT_TASKS = PLAN.conflict_tasks


def analysis_tasks(name):
    """The tasks an analysis covers (order and prompt_format may take a subset)."""
    return PLAN.analysis_tasks(name)


def analysis_inputs(name, model, *kinds):
    """Per-task inputs of an analysis job: prompts, activations, sweeps or data files."""
    tasks = analysis_tasks(name)
    paths = {"prompts": L.prompts, "activations": L.activations, "sweeps": L.sweep, "evals": L.eval}
    inputs = {kind: [paths[kind](model, t) for t in tasks] for kind in kinds if kind in paths}
    if "data" in kinds:
        inputs["data"] = sorted({f for t in tasks for f in task_data_files(REGISTRY[t], DATA)})
    return inputs


def model_job_inputs(name, *kinds):
    def inputs(wildcards):
        return {
            "model": L.model_record(wildcards.model),
            **analysis_inputs(name, wildcards.model, *kinds),
            "code": code(f"stages.{name}"),
        }

    return inputs


MODEL_JOB_INPUTS = {
    "top_tokens": ("activations", "sweeps"),
    "conflicts": ("prompts", "data"),
    "order": ("prompts", "sweeps"),
    "prompt_format": ("prompts", "sweeps", "data"),
    "gd": ("prompts", "activations", "sweeps"),
}


def score_inputs(wildcards):
    name, model = wildcards.analysis, wildcards.model
    inputs = {"raw": analysis_raw(name, model), "code": code("stages.score_analyses")}
    if name == "gd":
        inputs["distributions"] = [L.gd_distributions(model, t) for t in analysis_tasks("gd")]
    if name != "conflicts":
        kinds = ("prompts", "sweeps") + (("evals",) if name in ("prompt_format", "gd") else ())
        inputs.update(analysis_inputs(name, model, *kinds))
    else:
        inputs["sweeps"] = [L.sweep(model, t) for t in CONFLICT_TASKS]
    return inputs


def get_score_tasks(wildcards):
    return analysis_tasks(wildcards.analysis)


def get_score_settings(wildcards):
    return config["analyses"][wildcards.analysis]


# --- report -----------------------------------------------------------------------------------

def get_report_benchmarks(wildcards):
    """The benchmark files of every job the report depends on (its stage-time table)."""
    return PLAN.benchmarks()
