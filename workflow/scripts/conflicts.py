"""Rule conflicts: demonstrations of task A with the task vector of task B patched in."""

from pathlib import Path

import _package_path  # noqa: F401 - puts the workflow's package on sys.path

from taskvectors.analysis_jobs import AnalysisJob
from taskvectors.pipeline import by_task, start_job
from taskvectors.prompts import get_template
from taskvectors.stages.conflicts import run_conflicts
from taskvectors.tasks.registry import TaskSpec

sm = snakemake  # noqa: F821 - injected by Snakemake
start_job(sm)
prompts = sm.params.prompts
settings = {**sm.params.settings, "n_dummy": prompts["n_dummy"], "seed": prompts["seed"]}
job = AnalysisJob.start(sm.input.model, "conflicts", settings)
run_conflicts(
    job,
    [tuple(pair) for pair in sm.params.pairs],
    {task: TaskSpec(**entry) for task, entry in sm.params.task_specs.items()},
    by_task(sm.params.tasks, sm.input.prompts),
    [Path(p) for p in sm.output],
    Path(sm.params.data_dir),
    get_template(prompts["template"]),
    settings,
    sm.params.evaluation,
)
