"""Stage ``gd``: ICL versus gradient descent on the same demonstrations (Shen et al. 2023).

For each GD task, on the same test examples as ICL and the task vector: the learning rate and
number of epochs are chosen on dev from the config's grid (as the best layer is); the model is
fine-tuned on each example's S and answers the zero-shot query; the output distributions at the
answer position of ICL, TV (θ at the task's best layer), the baseline and GD are compared (KL and
top-k overlap, computed here because 262k-wide distributions cannot be stored); GD with one
demonstration per step runs in the order analysis's orders; ICL, TV and GD answer with 1, 2, 4, 8
demonstrations; and a randomly initialised model of the same architecture gives the control for
the agreement and KL numbers. The compute is :mod:`taskvectors.analyses.gd.compute`;
``score_analysis`` scores it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from taskvectors.analyses.gd import compute as gd
from taskvectors.analyses.jobs import AnalysisJob, best_layer_of
from taskvectors.analyses.spec import JobRequest
from taskvectors.engine.devices import dtype_name
from taskvectors.engine.finetune import training_dtype
from taskvectors.engine.inference import vectors_by_example
from taskvectors.results.files import (
    Example,
    PromptDocument,
    read_prompt_document,
    read_result_table,
)
from taskvectors.results.storage import write_table


def test_thetas(activations: Path, examples: Sequence[Example]) -> torch.Tensor:
    """θ ``(n, n_layers, d_model)`` of ``examples``, as the main stage computed them: read from its
    activations, never computed again."""
    return vectors_by_example(read_result_table(activations, "activations"), examples)


@dataclass
class TaskTables:
    """One task's tables and what its random-init control needs besides the control model: the
    task's document, settings and chosen grid point, and its best layer (None: no
    distributions)."""

    document: PromptDocument
    config: gd.GDSettings
    chosen: gd.Hyperparameters
    layer: int | None
    predictions: pd.DataFrame
    distributions: list[pd.DataFrame]
    grid: pd.DataFrame


def task_tables(
    job: AnalysisJob,
    document: PromptDocument,
    thetas_path: Path,
    layer: int | None,
    settings: Mapping,
    answer_tokens: int,
) -> TaskTables:
    """The pretrained model's tables of one task (the control's are added by
    :func:`add_control_distributions`)."""
    # The run's seed seeds the adapters too (one seed for the whole run).
    config = gd.GDSettings.from_config(settings, seed=document.settings["seed"])
    chosen, grid = gd.choose_hyperparameters(job.model, job.tokenizer, document, config)
    run = gd.gd_predictions(
        job.model, job.tokenizer, document, config, chosen, max_new_tokens=answer_tokens
    )
    frames = [run.predictions.assign(experiment="main", permutation=0, n_demos=0)]
    distributions = []
    if layer is not None:
        examples = document.split("test")[: len(run.predictions)]
        distributions.append(
            gd.distribution_comparison(
                job.model, job.tokenizer, document, examples, run.first_logits,
                test_thetas(thetas_path, examples)[:, layer], layer, top_k=config.top_k,
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
    return TaskTables(
        document, config, chosen, layer, predictions, distributions, grid.assign(**chosen_row)
    )


def add_control_distributions(
    job: AnalysisJob, tables: Mapping[str, TaskTables], control_settings: Mapping
) -> None:
    """Add the random-init control's distributions to every task with a best layer.

    The control is a model as large as the pretrained one, and GD on it makes its own training
    copy: the job releases the pretrained model (and with it its training copy) first, so the two
    models are never in memory together. The job has only its tokenizer afterwards.
    """
    todo = [task for task in tables.values() if task.layer is not None]
    if not todo:
        return
    config, dtype, device = job.model.config, job.model.dtype, job.model.device
    job.release_model()
    # The run's seed (one for the whole run, as the adapters'), the same in every task's document.
    seed = todo[0].document.settings["seed"]
    control = gd.random_init_model(config, seed, dtype=dtype, device=device)
    for task in todo:
        task.distributions.append(
            gd.random_init_comparison(
                control, job.tokenizer, task.document, task.config, task.chosen, task.layer,
                n_examples=control_settings["n_examples"],
            )
        )  # fmt: skip


def _training_dtype_name(autocast: str, job: AnalysisJob) -> str:
    """What the training passes ran in: ``autocast`` resolved on the job's device, else the
    model's own dtype."""
    weight = next(job.model.parameters())
    return dtype_name(training_dtype(autocast, weight.device.type) or weight.dtype)


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
    """Write, per task, GD's predictions (with the grid in the provenance) and the distributions.

    Every task's pretrained-model work comes first, then the random-init control's (which
    releases the job's model: :func:`add_control_distributions`).
    """
    trained_in = _training_dtype_name(settings["autocast"], job)
    tables = {}
    for task, path in prompts.items():
        document = read_prompt_document(path)
        layer = best_layer_of(sweeps[task])
        tables[task] = task_tables(
            job, document, activations[task], layer, settings, max_answer_tokens
        )
    if settings["random_control"]["enabled"]:
        add_control_distributions(job, tables, settings["random_control"])
    for task, table in tables.items():
        block = job.provenance(
            task=task,
            layer=table.layer,
            grid=table.grid.to_dict(orient="records"),
            training_dtype=trained_in,
        )
        write_table(outputs[task], table.predictions, block)
        write_table(distributions[task], _distributions(table.distributions), block)


def run(job: AnalysisJob, request: JobRequest) -> None:
    """The GD job of one model: predictions and distributions per task."""
    run_gd(
        job, request.inputs["prompts"], request.inputs["activations"], request.inputs["sweeps"],
        request.outputs[""], request.outputs["dist"], settings=request.settings,
        max_answer_tokens=request.config["evaluation"]["max_answer_tokens"],
    )  # fmt: skip
