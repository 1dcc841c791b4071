"""Rule geometry: task vectors from varied demonstrations, taken from every task's activations."""

from pathlib import Path

import _package_path  # noqa: F401 - puts the workflow's package on sys.path

from taskvectors.pipeline import start_job
from taskvectors.stages.geometry import run_geometry

sm = snakemake  # noqa: F821 - injected by Snakemake
log = start_job(sm)
tasks = sm.params.tasks
run_geometry(
    {task: Path(path) for task, path in zip(tasks, sm.input.activations, strict=True)},
    {task: Path(path) for task, path in zip(tasks, sm.output, strict=True)},
    n_vectors=sm.params.settings["n_vectors"],
    settings=sm.params.settings,
)
log.info(
    "%s: %d vectors of %d tasks", sm.wildcards.model, sm.params.settings["n_vectors"], len(tasks)
)
