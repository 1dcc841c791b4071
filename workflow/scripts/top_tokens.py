"""Rule top_tokens: top tokens of each task's mean vector through the unembedding."""

import _package_path  # noqa: F401 - puts the workflow's package on sys.path

from taskvectors.analysis_jobs import AnalysisJob
from taskvectors.pipeline import by_task, start_job
from taskvectors.stages.top_tokens import run_top_tokens

sm = snakemake  # noqa: F821 - injected by Snakemake
start_job(sm)
job = AnalysisJob.start(sm.input.model, "top_tokens", sm.params.settings)
tasks = sm.params.tasks
run_top_tokens(
    job, by_task(tasks, sm.input.activations), by_task(tasks, sm.output), k=sm.params.settings["k"]
)
