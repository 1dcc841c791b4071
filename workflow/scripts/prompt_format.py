"""Rule prompt_format: the run's test prompts with the other spacing, at the best layer."""

from pathlib import Path

import _package_path  # noqa: F401 - puts the workflow's package on sys.path

from taskvectors.analysis_jobs import AnalysisJob
from taskvectors.pipeline import by_task, start_job
from taskvectors.prompts import get_template
from taskvectors.stages.prompt_format import run_prompt_format
from taskvectors.tasks.registry import TaskSpec

sm = snakemake  # noqa: F821 - injected by Snakemake
start_job(sm)
job = AnalysisJob.start(sm.input.model, "prompt_format", sm.params.settings)
tasks = sm.params.tasks
run_prompt_format(
    job,
    {task: TaskSpec(**entry) for task, entry in sm.params.task_specs.items()},
    by_task(tasks, sm.input.prompts),
    by_task(tasks, sm.input.sweeps),
    by_task(tasks, sm.output),
    Path(sm.params.data_dir),
    get_template(sm.params.prompts["template"]),
    sm.params.evaluation,
)
