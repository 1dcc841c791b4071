"""Rule summarize: summary.csv (model x task) and summary_models.csv (means over tasks)."""

from pathlib import Path

import _package_path  # noqa: F401 - puts the workflow's package on sys.path

from taskvectors.pipeline.rules import start_job
from taskvectors.results.files import (
    best_layer,
    read_json_result,
    read_prompt_document,
    read_result_table,
)
from taskvectors.stages.summarize import TaskRun, summarize

sm = snakemake  # noqa: F821 - injected by Snakemake
start_job(sm)
records = {
    m: read_json_result(p, "prepare_model")
    for m, p in zip(sm.params.models, sm.input.models, strict=True)
}
keys = [(m, t) for m in sm.params.models for t in sm.params.tasks]
runs = []
for (model, task), eval_path, sweep_path, prompts_path in zip(
    keys, sm.input.evals, sm.input.sweeps, sm.input.prompts, strict=True
):
    sweep = read_result_table(sweep_path, "sweep")
    runs.append(
        TaskRun(
            model=model,
            task=task,
            category=sm.params.categories[task],
            document=read_prompt_document(prompts_path),
            results=read_result_table(eval_path, "eval"),
            best_layer=best_layer(sweep),
            n_layers=int(records[model]["n_layers"]),
        )
    )
summarize(
    runs, records, Path(sm.output.summary), Path(sm.output.models), Path(sm.output.provenance)
)
