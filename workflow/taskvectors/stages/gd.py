"""Stage ``gd``: ICL versus gradient descent on the same demonstrations (Shen et al. 2023).

For each GD task, on the same test examples as ICL and the task vector: the learning rate and
number of epochs are chosen on dev from the config's grid (as the best layer is); the model is
fine-tuned on each example's S and answers the zero-shot query; the output distributions at the
answer position of ICL, TV (θ at the task's best layer), the baseline and GD are compared (KL and
top-k overlap, computed here because 262k-wide distributions cannot be stored); GD with one
demonstration per step runs in the order analysis's orders; ICL, TV and GD answer with 1, 2, 4, 8
demonstrations; and a randomly initialised model of the same architecture gives the control for
the agreement and KL numbers. The compute is :mod:`taskvectors.gd`; ``score_analysis`` scores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from taskvectors import gd
from taskvectors.analysis_jobs import AnalysisJob, best_layer
from taskvectors.inference import vectors_by_example
from taskvectors.results import PromptDocument, read_prompt_document, read_result_table
from taskvectors.storage import write_table


def test_thetas(activations: Path, document: PromptDocument, n: int, layer: int) -> torch.Tensor:
    """θ ``(n, d_model)`` of the first ``n`` test examples at ``layer``."""
    examples = document.split("test")[:n]
    return vectors_by_example(read_result_table(activations, "activations"), examples)[:, layer]


def task_tables(job, control, document, thetas_path, layer, settings: Mapping, answer_tokens):
    """``(predictions, distributions, grid)`` of one task."""
    # The run's seed seeds the adapters too (one seed for the whole run).
    config = replace(gd.GDSettings.from_config(settings), seed=document.settings["seed"])
    chosen, grid = gd.choose_hyperparameters(job.model, job.tokenizer, document, config)
    run = gd.gd_predictions(
        job.model, job.tokenizer, document, config, chosen, max_new_tokens=answer_tokens
    )
    frames = [run.predictions.assign(experiment="main", permutation=0, n_demos=0)]
    distributions = []
    if layer is not None:
        n = len(run.predictions)
        thetas = test_thetas(thetas_path, document, n, layer)
        examples = gd.task_prompts(document).split("test", n)
        distributions.append(
            gd.distribution_comparison(
                job.model, job.tokenizer, document, examples, run.first_logits, thetas, layer,
                top_k=config.top_k,
            )
        )  # fmt: skip
        if control is not None:
            distributions.append(
                gd.random_init_comparison(
                    control, job.tokenizer, document, config, chosen, layer,
                    n_examples=settings["random_control"]["n_examples"],
                )
            )  # fmt: skip
    order = settings["order"]
    if order["enabled"]:
        rows = gd.order_predictions(
            job.model, job.tokenizer, document, config, chosen,
            n_examples=order["n_examples"], n_permutations=order["n_permutations"],
        )  # fmt: skip
        frames.append(rows.assign(experiment="order", n_demos=0))
    counts = settings["demo_counts"]
    if counts["enabled"] and layer is not None and _counts_task(counts, document.task_name):
        rows = gd.demo_count_predictions(
            job.model, job.tokenizer, document, config, chosen, layer,
            counts=counts["counts"], n_examples=counts["n_examples"],
        )  # fmt: skip
        frames.append(rows.assign(experiment="n_demos", permutation=0))
    predictions = pd.concat(frames, ignore_index=True)
    predictions = predictions.astype({"permutation": "int16", "n_demos": "int16"})
    chosen_row = {"chosen_learning_rate": chosen.learning_rate, "chosen_epochs": chosen.epochs}
    return predictions, _distributions(distributions), grid.assign(**chosen_row)


def _counts_task(counts: Mapping, task: str) -> bool:
    return counts["tasks"] == "all" or task in counts["tasks"]


def _distributions(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if frames:
        return pd.concat(frames, ignore_index=True)
    return pd.DataFrame(columns=list(gd.COMPARISON_COLUMNS))


def run_gd(
    job: AnalysisJob,
    prompts: Mapping[str, Path],
    activations: Mapping[str, Path],
    sweeps: Mapping[str, Path],
    outputs: Mapping[str, Path],
    distributions: Mapping[str, Path],
    *,
    settings: Mapping,
    max_answer_tokens: int,
) -> None:
    """Write, per task, GD's predictions (with the grid in the provenance) and the distributions."""
    control_settings = settings["random_control"]
    control = None
    if control_settings["enabled"]:  # built once per job: it costs more than a task's control
        control = gd.random_init_model(job.model, control_settings.get("seed", 41))
    for task, path in prompts.items():
        document = read_prompt_document(path)
        layer = best_layer(sweeps[task])
        predictions, dist, grid = task_tables(
            job, control, document, activations[task], layer, settings, max_answer_tokens
        )
        block = job.provenance(task=task, layer=layer, grid=grid.to_dict(orient="records"))
        write_table(outputs[task], predictions, block)
        write_table(distributions[task], dist, block)

