"""Rule order: ICL and task-vector predictions for permutations of the same demonstrations."""

import _package_path  # noqa: F401 - puts the workflow's package on sys.path

from taskvectors.analysis_jobs import AnalysisJob
from taskvectors.pipeline import by_task, start_job
from taskvectors.stages.order import run_order

sm = snakemake  # noqa: F821 - injected by Snakemake
start_job(sm)
job = AnalysisJob.start(sm.input.model, "order", sm.params.settings)
tasks = sm.params.tasks
run_order(
    job,
    by_task(tasks, sm.input.prompts),
    by_task(tasks, sm.input.sweeps),
    by_task(tasks, sm.output),
    settings=sm.params.settings,
    evaluation=sm.params.evaluation,
)
