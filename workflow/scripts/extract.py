"""Rule extract: task vectors of every dev/test example at every layer, and ICL predictions."""

from pathlib import Path

from taskvectors.pipeline import start_job
from taskvectors.stages.extract import extract
from taskvectors.stages.prepare_model import read_model_record
from taskvectors.storage import read_json

sm = snakemake  # noqa: F821 - injected by Snakemake
start_job(sm)
extract(
    read_model_record(Path(sm.input.model)),
    read_json(sm.input.prompts),
    batch_size=sm.params.batch_size,
    max_answer_tokens=sm.params.max_answer_tokens,
    activations_path=Path(sm.output.activations),
    icl_path=Path(sm.output.icl),
)
