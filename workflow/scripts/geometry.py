"""Rule geometry: task vectors from varied demonstrations, for every task of a model."""

from pathlib import Path

from taskvectors.pipeline import start_job
from taskvectors.stages.analyses import run_geometry
from taskvectors.stages.prepare_model import read_model_record

sm = snakemake  # noqa: F821 - injected by Snakemake
start_job(sm)
run_geometry(
    read_model_record(Path(sm.input.model)),
    sm.input.prompts,
    sm.output,
    sm.params.tasks,
    n_vectors=sm.params.settings["n_vectors"],
    batch_size=sm.params.batch_size,
)
