"""Rule geometry: task vectors from varied demonstrations, taken from every task's activations."""

import _package_path  # noqa: F401 - puts the workflow's package on sys.path

from taskvectors.pipeline import by_task, start_job
from taskvectors.stages.geometry import run_geometry

sm = snakemake  # noqa: F821 - injected by Snakemake
log = start_job(sm)
tasks = sm.params.tasks
run_geometry(by_task(tasks, sm.input.activations), by_task(tasks, sm.output), sm.params.settings)
log.info(
    "%s: %d vectors of %d tasks", sm.wildcards.model, sm.params.settings["n_vectors"], len(tasks)
)
