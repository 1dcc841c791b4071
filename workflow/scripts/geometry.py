"""Rule geometry: task vectors from varied demonstrations, for every task of a model."""

import _package_path  # noqa: F401 - puts the workflow's package on sys.path

from taskvectors.analysis_jobs import AnalysisJob, by_task
from taskvectors.pipeline import start_job
from taskvectors.stages.geometry import run_geometry

sm = snakemake  # noqa: F821 - injected by Snakemake
start_job(sm)
job = AnalysisJob.start(sm.input.model, "geometry", sm.params.settings)
tasks = sm.params.tasks
run_geometry(
    job,
    by_task(tasks, sm.input.prompts),
    by_task(tasks, sm.output),
    n_vectors=sm.params.settings["n_vectors"],
    batch_size=sm.params.evaluation["batch_size"],
)
