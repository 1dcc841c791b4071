"""Rule evaluate: score predictions, sweep accuracy by layer, choose the best layer."""

from pathlib import Path

from taskvectors.pipeline import start_job
from taskvectors.stages.evaluate import evaluate
from taskvectors.storage import read_json, read_table

sm = snakemake  # noqa: F821 - injected by Snakemake
log = start_job(sm)
headline = evaluate(
    read_json(sm.input.prompts),
    read_table(sm.input.icl),
    read_table(sm.input.patched),
    answer_mode=sm.params.answer,
    sweeps_path=Path(sm.output.sweep),
    eval_path=Path(sm.output.eval),
)
log.info("%s/%s: %s", sm.wildcards.model, sm.wildcards.task, headline)
