"""Rule conflicts: demonstrations of task A with the task vector of task B patched in."""

from pathlib import Path

from taskvectors.pipeline import start_job
from taskvectors.stages.analyses import run_conflicts
from taskvectors.stages.prepare_model import read_model_record

sm = snakemake  # noqa: F821 - injected by Snakemake
start_job(sm)
settings = sm.params.settings
run_conflicts(
    read_model_record(Path(sm.input.model)),
    Path(sm.input.model).parents[1],
    sm.output,
    [tuple(p) for p in sm.params.pairs],
    sm.params.tasks,
    Path(sm.config["data_dir"]),
    n_examples=settings["n_examples"],
    n_demos=settings["n_demos"],
    batch_rows=sm.params.batch_rows,
    max_new_tokens=sm.params.max_answer_tokens,
)
