"""Rule gd: ICL versus gradient descent on the same demonstrations, for a model's GD tasks."""

import _package_path  # noqa: F401 - puts the workflow's package on sys.path

from taskvectors.analysis_jobs import AnalysisJob
from taskvectors.pipeline import by_task, start_job
from taskvectors.stages.gd import run_gd

sm = snakemake  # noqa: F821 - injected by Snakemake
start_job(sm)
job = AnalysisJob.start(sm.input.model, "gd", sm.params.settings)
tasks = sm.params.tasks
n = len(tasks)
run_gd(
    job,
    by_task(tasks, sm.input.prompts),
    by_task(tasks, sm.input.activations),
    by_task(tasks, sm.input.sweeps),
    by_task(tasks, sm.output[:n]),
    by_task(tasks, sm.output[n:]),
    settings=sm.params.settings,
    max_answer_tokens=sm.params.evaluation["max_answer_tokens"],
)
