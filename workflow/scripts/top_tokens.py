"""Rule top_tokens: top tokens of each task's mean vector through the unembedding."""

from pathlib import Path

from taskvectors.pipeline import start_job
from taskvectors.stages.analyses import run_top_tokens
from taskvectors.stages.prepare_model import read_model_record

sm = snakemake  # noqa: F821 - injected by Snakemake
start_job(sm)
run_top_tokens(
    read_model_record(Path(sm.input.model)),
    sm.input.activations,
    sm.output,
    sm.params.tasks,
    k=sm.params.settings["k"],
)
