# Shared helpers of the rules: the validated config, the task list, the results layout, code inputs.
import re
import sys
from functools import cache
from pathlib import Path

# The taskvectors package lives in workflow/; jobs (also in conda envs or on cluster nodes)
# import it from there, so the workflow runs with or without `pip install -e .`.
PACKAGE_ROOT = str(Path(workflow.basedir, "workflow").resolve())
sys.path.insert(0, PACKAGE_ROOT)

from taskvectors.analyses import registry as analysis_registry
from taskvectors.pipeline.codedeps import stage_sources
from taskvectors.pipeline import runlock
from taskvectors.pipeline.config import ConfigError
from taskvectors.pipeline.rules import canonical, export_package_path, model_params, task_data_files
from taskvectors.pipeline.preflight import startup_config
from taskvectors.engine.resources import model_resources
from taskvectors.pipeline.run_plan import RunPlan

export_package_path(PACKAGE_ROOT)
# Everything that can be known before work starts is refused here, one line per problem: the
# schema, duplicated keys, paths, templates, task files and sizes (pipeline/preflight.py).
try:
    _validated, REGISTRY = startup_config(
        config,
        workflow.configfiles,
        run_preflight=not (workflow.remote_exec or workflow.subprocess_exec),
    )
except ConfigError as error:
    raise SystemExit(f"taskvectors: {error}")
# Canonical (sorted keys): rule params then compare equal however the config was written.
config.clear()
config.update(canonical(_validated))

# The run's models, tasks, analyses and every file they write (pipeline/run_plan.py).
PLAN = RunPlan(config, REGISTRY)
L = PLAN.layout
DATA = Path(config["data_dir"])
MODELS = PLAN.models
TASKS = PLAN.tasks
EVALUATION = config["evaluation"]

# Cheap, model-free jobs run on the submitting machine, not through a cluster queue
# (prepare_model too: it needs network for hub models, and compute nodes often have none).
# An analysis whose job loads no model (geometry) is one too: analyses.smk marks its rule.
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
    return code_of(*(f"taskvectors.{m}" for m in modules))


def code_of(*modules):
    """Source files of fully named modules and of the package modules they import."""
    return list(stage_sources(*modules))


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
    return canonical(REGISTRY[wildcards.task].to_dict())


def get_task_data(wildcards):
    return task_data_files(REGISTRY[wildcards.task], DATA)


def per_task(path_of, model):
    """``path_of(model, task)`` for every task of the run."""
    return [path_of(model, task) for task in TASKS]


def per_model_task(path_of):
    return [path_of(model, task) for model in MODELS for task in TASKS]


def enabled_analyses():
    """Analyses switched on that have something to do (tasks, or pairs), in report order."""
    return PLAN.enabled_analyses()


def get_final_targets():
    """Every declared output of every job: Snakemake rebuilds a deleted intermediate file only
    when it is a target (then everything after it too)."""
    return [path for path, _ in PLAN.outputs()]


# --- analyses (each is declared once in the registry: taskvectors/analyses/) -------------------

ANALYSES = analysis_registry()


def analysis_job_inputs(name):
    """Inputs of an analysis model job: the model record (when it loads one), the main-stage files
    its declaration reads, and the source of the modules its job imports."""
    analysis = ANALYSES[name]

    def inputs(wildcards):
        files = PLAN.job_inputs(name, wildcards.model)
        if analysis.loads_model:
            files["model"] = L.model_record(wildcards.model)
        return {**files, "code": code_of(*analysis.modules("job"))}

    return inputs


def analysis_runtime(name):
    """The model job's cluster time limit (minutes), from its declaration, times the attempt."""
    minutes = ANALYSES[name].runtime_minutes
    return lambda wildcards, attempt: minutes * attempt


def score_inputs(wildcards):
    name = wildcards.analysis
    files = PLAN.score_inputs(name, wildcards.model)
    return {**files, "code": code_of(*ANALYSES[name].modules("score"))}


def score_params(wildcards):
    return PLAN.score_params(wildcards.analysis)


# --- report -----------------------------------------------------------------------------------

def get_report_benchmarks(wildcards):
    """The benchmark files of every job the report depends on (its stage-time table)."""
    return PLAN.benchmarks()
