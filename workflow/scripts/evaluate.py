"""Rule evaluate: score predictions, sweep accuracy by layer, choose the best layer."""

from pathlib import Path

import _package_path  # noqa: F401 - puts the workflow's package on sys.path

from taskvectors.pipeline.rules import start_job
from taskvectors.results.files import read_prompt_document, read_result_table
from taskvectors.stages.evaluate import evaluate

sm = snakemake  # noqa: F821 - injected by Snakemake
log = start_job(sm)
document = read_prompt_document(sm.input.prompts)
headline = evaluate(
    document,
    read_result_table(
        sm.input.predictions, "predictions", expect_settings={"prompts": document.settings}
    ),
    answer_mode=sm.params.answer,
    sweep_path=Path(sm.output.sweep),
    eval_path=Path(sm.output.eval),
)
log.info("%s/%s: %s", sm.wildcards.model, sm.wildcards.task, headline)
