"""Stage ``order``: the same demonstrations in several orders — how much do ICL's and the task
vector's answers depend on the order of S?

For each of ``n_examples`` test examples, its demonstrations run in the original order and in
``n_permutations`` distinct other orders (:func:`taskvectors.tasks.orders.demo_permutations`, shared
with the GD analysis). Each order gives ICL's answer and θ(S) patched at the task's best layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pandas as pd

from taskvectors.analyses.jobs import AnalysisJob, best_layer_of
from taskvectors.analyses.spec import JobRequest
from taskvectors.engine.inference import example_vectors, icl_rows, sweep_rows
from taskvectors.results.files import PromptDocument, read_prompt_document
from taskvectors.results.predictions import predictions_frame
from taskvectors.results.storage import write_table
from taskvectors.tasks.orders import demo_permutations
from taskvectors.tasks.prompts import get_template


def order_predictions(
    job: AnalysisJob,
    document: PromptDocument,
    layer: int | None,
    *,
    n_examples: int,
    n_permutations: int,
    evaluation: Mapping,
) -> pd.DataFrame:
    """Rows ``icl`` and ``tv`` (at ``layer``; none without a best layer) per example and order."""
    template = get_template(document.template)
    test = document.split("test")[:n_examples]
    n_demos = document.settings["n_demos"]
    orders = demo_permutations(
        document.settings["seed"], document.task_name, n_demos, n_permutations + 1
    )
    frames = []
    for permutation, order in enumerate(orders):
        shuffled = [replace(ex, demos=tuple(ex.demos[j] for j in order)) for ex in test]
        thetas, answers = example_vectors(
            job.model, job.tokenizer, template, shuffled, evaluation["batch_size"],
            f"order {permutation}",
        )  # fmt: skip
        rows = icl_rows(shuffled, answers)
        if layer is not None:
            rows += sweep_rows(
                job.model, job.tokenizer, [template.zero_shot_prompt(ex.query) for ex in shuffled],
                shuffled, thetas, [layer], include_unpatched=False, max_new_tokens=1,
                batch_rows=evaluation["batch_rows"], desc=f"order {permutation} tv",
            )  # fmt: skip
        frames.append(predictions_frame(rows).assign(permutation=permutation))
    return pd.concat(frames, ignore_index=True).astype({"permutation": "int16"})


def run_order(
    job: AnalysisJob,
    prompts: Mapping[str, Path],
    sweeps: Mapping[str, Path],
    outputs: Mapping[str, Path],
    *,
    settings: Mapping,
    evaluation: Mapping,
) -> None:
    for task, path in prompts.items():
        layer = best_layer_of(sweeps[task])
        frame = order_predictions(
            job, read_prompt_document(path), layer, n_examples=settings["n_examples"],
            n_permutations=settings["n_permutations"], evaluation=evaluation,
        )  # fmt: skip
        write_table(outputs[task], frame, job.provenance(task=task, layer=layer))


def run(job: AnalysisJob, request: JobRequest) -> None:
    """The order job of one model."""
    run_order(
        job, request.inputs["prompts"], request.inputs["sweeps"], request.outputs[""],
        settings=request.settings, evaluation=request.config["evaluation"],
    )  # fmt: skip
