"""Rule order: ICL and task-vector predictions for permutations of the same demonstrations."""

from pathlib import Path

from taskvectors.pipeline import start_job
from taskvectors.stages.analyses import run_order
from taskvectors.stages.prepare_model import read_model_record

sm = snakemake  # noqa: F821 - injected by Snakemake
start_job(sm)
settings = sm.params.settings
run_order(
    read_model_record(Path(sm.input.model)),
    sm.input.prompts,
    sm.output,
    sm.params.tasks,
    n_examples=settings["n_examples"],
    n_permutations=settings["n_permutations"],
    batch_size=sm.params.batch_size,
    batch_rows=sm.params.batch_rows,
    max_new_tokens=sm.params.max_answer_tokens,
)
