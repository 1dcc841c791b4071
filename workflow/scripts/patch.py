"""Rule patch: baseline and task-vector-patched predictions at every layer."""

from pathlib import Path

from taskvectors.pipeline import start_job
from taskvectors.stages.patch import patch
from taskvectors.stages.prepare_model import read_model_record
from taskvectors.storage import read_json, read_table

sm = snakemake  # noqa: F821 - injected by Snakemake
start_job(sm)
patch(
    read_model_record(Path(sm.input.model)),
    read_json(sm.input.prompts),
    read_table(sm.input.activations),
    batch_rows=sm.params.batch_rows,
    max_answer_tokens=sm.params.max_answer_tokens,
    out_path=Path(sm.output[0]),
)
