"""The compute of the GD stage: ICL versus gradient descent on the same demonstrations.

For a task's prompt document (the same examples, demonstrations S and queries as ICL and the task
vector), these functions fine-tune the model on each example's S
(:mod:`taskvectors.engine.finetune`) and return DataFrames; they read and write no files (the stage
does).

* :func:`choose_hyperparameters` — learning rate × epochs from the config's grid, chosen on dev by
  accuracy (fewest epochs, then smallest rate, on ties), as the best layer is; with ``patience``
  a rate stops early once its dev loss stalls, and its later epochs are not candidates.
* :func:`gd_predictions` — GD's answers to the test queries (a predictions table, condition
  ``gd``) and its first-token logits for :func:`distribution_comparison`.
* :func:`distribution_comparison` — at the answer position: KL(ICL ‖ X) over the full vocabulary
  and top-k overlap with ICL for X in GD, TV (θ patched at the best layer) and the baseline, per
  example. Computed here because 262k-wide distributions cannot be stored.
* :func:`order_predictions` — GD with one demonstration per step, in the orders of
  :func:`taskvectors.tasks.orders.demo_permutations`, beside ICL over the same orders.
* :func:`demo_count_predictions` — ICL, TV and GD answers with 1, 2, 4, 8 fresh demonstrations.
* :func:`random_init_comparison` — the control: the same comparison on a randomly initialised
  model of the same architecture, which says how close "close" is.

Documents and examples are the results contract's
(:class:`taskvectors.results.files.PromptDocument`, :class:`~taskvectors.results.files.Example`),
predictions tables are built as every stage builds them (:mod:`taskvectors.results.predictions`),
and the ICL and TV answers of the order and demo-count experiments come from the runners the main
stage uses (:mod:`taskvectors.engine.inference`), so that ICL and the task vector mean the same
thing here as there. Only the distribution comparison runs whole prompts through
:mod:`taskvectors.engine.patching` (:func:`condition_logits` says why).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from taskvectors.analyses.gd import ANALYSIS
from taskvectors.engine import patching
from taskvectors.engine.finetune import FinetuneConfig, TrainingJob, finetune_and_answer
from taskvectors.engine.inference import example_vectors, icl_rows, sweep_rows
from taskvectors.pipeline.config import with_defaults
from taskvectors.results.files import Example, PromptDocument
from taskvectors.results.predictions import example_keys, prediction_rows, predictions_frame
from taskvectors.scoring.answers import is_correct
from taskvectors.seeding import derived_seed
from taskvectors.tasks.orders import demo_permutations
from taskvectors.tasks.prompts import PromptTemplate, get_template

GRID_COLUMNS = ("learning_rate", "epochs", "accuracy", "n", "is_best")
COMPARISON_COLUMNS = (
    "example_id",
    "model_init",
    "kl_icl_gd",
    "kl_icl_tv",
    "kl_icl_baseline",
    "top_overlap_gd",
    "top_overlap_tv",
    "top_overlap_baseline",
    "same_top1_gd",
    "same_top1_tv",
    "same_top1_baseline",
)
#: Rows per float64 pass of :func:`kl_divergence`: a pass holds a few float64 copies of its rows'
#: distributions (2 MiB a row each with Gemma's 262k-token vocabulary).
KL_ROWS = 4
#: ``(predictions, examples by id) -> correct per row``; the default scores ``first_token`` with
#: the task's scoring mode (:func:`taskvectors.scoring.answers.is_correct`).
Scorer = Callable[[pd.DataFrame, Mapping[int, Example]], Sequence[bool]]


@dataclass(frozen=True)
class GDSettings:
    """The config's ``analyses.gd`` section: what trains, how, and on how many examples.

    ``learning_rates`` × ``epochs`` is the grid chosen on ``n_dev`` dev examples (each rate
    stopped early after ``patience`` evaluations without a better dev loss, unless None);
    ``n_test`` test examples are answered. ``chunk_size`` jobs train as one batch of per-example
    adapters. The
    defaults are the schema's (``schema.yaml``) and nowhere else: build it with
    :meth:`from_config`. ``seed`` is the run's (``prompts.seed``), not the section's.
    """

    params: str
    optimizer: str
    batch: str
    lora_rank: int
    lora_alpha: float
    autocast: str
    learning_rates: tuple[float, ...]
    epochs: tuple[int, ...]
    patience: int | None
    n_dev: int
    n_test: int
    chunk_size: int
    top_k: int
    seed: int

    @classmethod
    def from_config(cls, section: Mapping[str, Any], *, seed: int) -> GDSettings:
        """From the config section, its missing keys filled from the schema (keys that are not
        settings of the compute, such as ``enabled`` or ``tasks``, are ignored)."""
        filled = with_defaults(ANALYSIS.schema, section)
        known = {f.name: filled[f.name] for f in fields(cls) if f.name != "seed"}
        for key in ("learning_rates", "epochs"):
            known[key] = tuple(known[key])
        return cls(**known, seed=seed)

    def finetune_config(self, batch: str | None = None) -> FinetuneConfig:
        return FinetuneConfig(
            params=self.params,
            optimizer=self.optimizer,
            batch=batch or self.batch,
            lora_rank=self.lora_rank,
            lora_alpha=self.lora_alpha,
            seed=self.seed,
            autocast=self.autocast,
        )


@dataclass(frozen=True)
class Hyperparameters:
    """The grid point chosen on dev."""

    learning_rate: float
    epochs: int


@dataclass(frozen=True)
class GDRun:
    """GD's test predictions (a predictions table) and first-token logits ``(n, vocab)``."""

    predictions: pd.DataFrame
    first_logits: torch.Tensor


def _template(document: PromptDocument) -> PromptTemplate:
    return get_template(document.template)


def _first(document: PromptDocument, split: str, n: int | None) -> list[Example]:
    """The first ``n`` examples of ``split`` (all with ``n`` None)."""
    return document.split(split)[:n]


def _log(desc: str, total: int) -> Callable[[int], None]:
    def report(done: int) -> None:
        print(f"gd {desc}: {done}/{total} jobs", file=sys.stderr, flush=True)

    return report


def _jobs(
    document: PromptDocument, examples, rate: float, order=None, *, held_out: bool = False
) -> list[TrainingJob]:
    """One training job per example; ``held_out``: with its answer, for early stopping (dev)."""
    return [
        TrainingJob(
            key=(document.task_name, ex.example_id),
            demos=ex.demos if order is None else tuple(ex.demos[j] for j in order),
            query=ex.query,
            learning_rate=rate,
            answer=ex.answers[0] if held_out else None,
        )
        for ex in examples
    ]


def default_scorer(mode: str) -> Scorer:
    """Score ``first_token`` against the example's accepted answers under ``mode``."""

    def score(predictions: pd.DataFrame, examples: Mapping[int, Example]) -> list[bool]:
        return [
            is_correct(p, examples[int(i)].answers, mode)
            for p, i in zip(predictions["first_token"], predictions["example_id"], strict=True)
        ]

    return score


# --- hyperparameters ------------------------------------------------------------------------------


def grid_predictions(
    model: nn.Module,
    tokenizer,
    document: PromptDocument,
    settings: GDSettings,
    *,
    split: str = "dev",
    n_examples: int | None = None,
    max_new_tokens: int = 1,
) -> pd.DataFrame:
    """GD's predictions for every grid point on ``split`` that was trained: a predictions table
    with ``learning_rate`` and ``epochs`` columns. Every epoch count is a checkpoint of the same
    run. Without ``patience`` all rates train as slots of the same batches; with it each rate's
    examples train as one chunk, so that the rate's mean dev loss decides when it stops, and the
    epochs after its stop have no rows."""
    examples = _first(document, split, settings.n_dev if n_examples is None else n_examples)
    rates = settings.learning_rates
    groups = [rates] if settings.patience is None else [(rate,) for rate in rates]
    rows_at: dict[int, list[dict]] = {epochs: [] for epochs in settings.epochs}
    for group in groups:
        jobs = [
            job
            for rate in group
            for job in _jobs(document, examples, rate, held_out=settings.patience is not None)
        ]
        result = finetune_and_answer(
            model,
            tokenizer,
            _template(document),
            jobs,
            settings.finetune_config(),
            epochs=settings.epochs,
            max_new_tokens=max_new_tokens,
            chunk_size=settings.chunk_size if settings.patience is None else len(jobs),
            patience=settings.patience,
            on_chunk=_log(f"{document.task_name} grid {', '.join(map(str, group))}", len(jobs)),
        )
        for epochs, decoded in result.decoded.items():
            keys = [
                {**key, "learning_rate": float(rate), "epochs": int(epochs)}
                for rate in group
                for key in example_keys(examples, "gd")
            ]
            rows_at[epochs] += prediction_rows(decoded, keys)
    rows = [row for epochs in settings.epochs for row in rows_at[epochs]]
    return predictions_frame(rows).astype({"epochs": "int16"})


def grid_accuracy(
    predictions: pd.DataFrame, document: PromptDocument, scorer: Scorer | None = None
) -> tuple[Hyperparameters, pd.DataFrame]:
    """Accuracy per grid point and the best one: highest accuracy, then fewest epochs, then the
    smallest learning rate. Columns ``learning_rate, epochs, accuracy, n, is_best``."""
    by_id = {ex.example_id: ex for ex in document.examples}
    scored = predictions.assign(
        correct=list((scorer or default_scorer(document.scoring))(predictions, by_id))
    )
    table = (
        scored.groupby(["epochs", "learning_rate"], as_index=False)
        .agg(accuracy=("correct", "mean"), n=("correct", "size"))
        .sort_values(["epochs", "learning_rate"], ignore_index=True)
    )
    best = int(table["accuracy"].to_numpy().argmax())  # first maximum: fewest epochs, lowest rate
    table["is_best"] = table.index == best
    chosen = Hyperparameters(
        float(table.loc[best, "learning_rate"]), int(table.loc[best, "epochs"])
    )
    table = table[list(GRID_COLUMNS)].astype({"epochs": "int16", "n": "int32"})
    return chosen, table


def choose_hyperparameters(
    model: nn.Module,
    tokenizer,
    document: PromptDocument,
    settings: GDSettings,
    *,
    scorer: Scorer | None = None,
    max_new_tokens: int = 1,
) -> tuple[Hyperparameters, pd.DataFrame]:
    """The learning rate and epochs chosen on the first ``settings.n_dev`` dev examples, and the
    grid's accuracy table (:func:`grid_accuracy`)."""
    predictions = grid_predictions(
        model, tokenizer, document, settings, max_new_tokens=max_new_tokens
    )
    return grid_accuracy(predictions, document, scorer)


# --- test predictions and distributions -----------------------------------------------------------


def gd_predictions(
    model: nn.Module,
    tokenizer,
    document: PromptDocument,
    settings: GDSettings,
    chosen: Hyperparameters,
    *,
    max_new_tokens: int = 1,
    examples: Sequence[Example] | None = None,
) -> GDRun:
    """GD at the chosen point on the first ``settings.n_test`` test examples (or ``examples``):
    predictions (condition ``gd``, layer ``-1``) and first-token logits ``(n, vocab)``."""
    chosen_examples = (
        list(examples) if examples is not None else _first(document, "test", settings.n_test)
    )
    jobs = _jobs(document, chosen_examples, chosen.learning_rate)
    result = finetune_and_answer(
        model,
        tokenizer,
        _template(document),
        jobs,
        settings.finetune_config(),
        epochs=[chosen.epochs],
        max_new_tokens=max_new_tokens,
        chunk_size=settings.chunk_size,
        keep_logits=True,
        on_chunk=_log(f"{document.task_name} test", len(jobs)),
    )
    decoded = result.decoded[chosen.epochs]
    rows = prediction_rows(decoded, example_keys(chosen_examples, "gd"))
    return GDRun(predictions_frame(rows), decoded.first_logits)


def _first_logits(model, tokenizer, prompts: Sequence[str], batch_size: int, patch=None):
    """First-token logits ``(n, vocab)`` of ``prompts``, each a full forward of its whole prompt;
    ``patch(rows)``: each chunk's patch."""
    parts = []
    for rows in patching.chunks(prompts, batch_size):
        batch = patching.encode(tokenizer, [prompts[i] for i in rows], model.device)
        chunk_patch = patch(rows) if patch is not None else None
        parts.append(patching.decode(model, tokenizer, batch, patch=chunk_patch).first_logits)
    return torch.cat(parts)


def condition_logits(
    model: nn.Module,
    tokenizer,
    template: PromptTemplate,
    examples: Sequence[Example],
    thetas: torch.Tensor,
    best_layer: int,
    *,
    batch_size: int = 16,
) -> dict[str, torch.Tensor]:
    """First-token logits ``(n, vocab)`` of ICL (``[S, x]``), TV (``[x]`` with ``thetas``
    ``(n, d_model)`` patched at ``best_layer``) and the baseline (``[x]``).

    Every condition is a full forward of its whole prompt, as GD's answers are (the adapters act
    at every position), not the main stage's prefix-cached runners: KL compares whole
    distributions, and on one path GD at a zero rate has exactly the baseline's distribution. In
    bfloat16 the cached path moves these logits enough to change KL in the third decimal
    (measured on a tiny LLaMA), which would read as distance between conditions.
    """
    icl = [template.icl_prompt(list(ex.demos), ex.query) for ex in examples]
    zero = [template.zero_shot_prompt(ex.query) for ex in examples]

    def tv_patch(rows: range) -> patching.Patch:
        return patching.Patch(torch.full((len(rows),), best_layer), thetas[list(rows)])

    return {
        "icl": _first_logits(model, tokenizer, icl, batch_size),
        "tv": _first_logits(model, tokenizer, zero, batch_size, tv_patch),
        "baseline": _first_logits(model, tokenizer, zero, batch_size),
    }


def kl_divergence(reference_logits: torch.Tensor, other_logits: torch.Tensor) -> torch.Tensor:
    """KL(P_ref ‖ P_other) in nats per row, over the full vocabulary; inputs ``(n, vocab)``.

    Computed in float64, :data:`KL_ROWS` rows at a time (rows are independent)."""
    pairs = zip(reference_logits.split(KL_ROWS), other_logits.split(KL_ROWS), strict=True)
    return torch.cat([_kl_rows(ref, other) for ref, other in pairs])


def _kl_rows(reference_logits: torch.Tensor, other_logits: torch.Tensor) -> torch.Tensor:
    ref = torch.log_softmax(reference_logits.double(), dim=-1)
    other = torch.log_softmax(other_logits.double(), dim=-1)
    return (ref.exp() * (ref - other)).sum(-1).clamp(min=0.0)


def top_overlap(reference_logits: torch.Tensor, other_logits: torch.Tensor, k: int) -> torch.Tensor:
    """Fraction of the reference's top-``k`` tokens that are in the other's top-``k``, ``(n,)``."""
    ref = reference_logits.topk(k, dim=-1).indices
    other = other_logits.topk(k, dim=-1).indices
    return (ref[:, :, None] == other[:, None, :]).any(-1).double().mean(-1)


def distribution_comparison(
    model: nn.Module,
    tokenizer,
    document: PromptDocument,
    examples: Sequence[Example],
    gd_logits: torch.Tensor,
    thetas: torch.Tensor,
    best_layer: int,
    *,
    top_k: int = 10,
    batch_size: int = 16,
    model_init: str = "pretrained",
) -> pd.DataFrame:
    """Per example: KL(ICL ‖ X), top-``top_k`` overlap with ICL and whether the top token equals
    ICL's, for X in GD (``gd_logits`` ``(n, vocab)``), TV (``thetas`` ``(n, d_model)`` at
    ``best_layer``) and baseline. Columns :data:`COMPARISON_COLUMNS`."""
    logits = condition_logits(
        model, tokenizer, _template(document), examples, thetas, best_layer, batch_size=batch_size
    )
    logits["gd"] = gd_logits
    icl = logits["icl"]
    frame = pd.DataFrame(
        {"example_id": [ex.example_id for ex in examples], "model_init": model_init}
    )
    for name in ("gd", "tv", "baseline"):
        frame[f"kl_icl_{name}"] = kl_divergence(icl, logits[name]).numpy()
        frame[f"top_overlap_{name}"] = top_overlap(icl, logits[name], top_k).numpy()
        frame[f"same_top1_{name}"] = (icl.argmax(-1) == logits[name].argmax(-1)).numpy()
    return frame[list(COMPARISON_COLUMNS)].astype({"example_id": "int32"})


# --- order sensitivity ----------------------------------------------------------------------------


def order_predictions(
    model: nn.Module,
    tokenizer,
    document: PromptDocument,
    settings: GDSettings,
    chosen: Hyperparameters,
    *,
    n_examples: int,
    n_permutations: int,
    max_new_tokens: int = 1,
    batch_size: int = 16,
) -> pd.DataFrame:
    """ICL and GD (one demonstration per step) per (test example, order): a predictions table with
    a ``permutation`` column: ``0`` is the prompt file's order, ``1..n_permutations`` distinct other
    orders, the same as the order analysis's (:func:`~taskvectors.tasks.orders.demo_permutations`).

    GD takes ``chosen.epochs`` epochs at ``chosen.learning_rate / n_demos`` per step, so that an
    epoch moves about as far as one full-batch step at the chosen rate.
    """
    examples = _first(document, "test", n_examples)
    template = _template(document)
    n_demos = len(examples[0].demos)
    seed, task = document.settings["seed"], document.task_name
    orders = demo_permutations(seed, task, n_demos, n_permutations + 1)
    rate = chosen.learning_rate / n_demos
    jobs = [job for order in orders for job in _jobs(document, examples, rate, order)]
    result = finetune_and_answer(
        model,
        tokenizer,
        template,
        jobs,
        settings.finetune_config("sequential"),
        epochs=[chosen.epochs],
        max_new_tokens=max_new_tokens,
        chunk_size=settings.chunk_size,
        on_chunk=_log(f"{task} order", len(jobs)),
    )
    keys = [
        {**key, "permutation": p}
        for p in range(len(orders))
        for key in example_keys(examples, "gd")
    ]
    rows = prediction_rows(result.decoded[chosen.epochs], keys)
    for p, order in enumerate(orders):
        shuffled = [replace(ex, demos=tuple(ex.demos[j] for j in order)) for ex in examples]
        _, answers = example_vectors(
            model, tokenizer, template, shuffled, batch_size, f"gd icl order {p}",
            max_new_tokens=max_new_tokens,
        )  # fmt: skip
        rows += [{**row, "permutation": p} for row in icl_rows(shuffled, answers)]
    return predictions_frame(rows)


# --- number of demonstrations ---------------------------------------------------------------------


def demo_pool(document: PromptDocument) -> list[tuple[str, str]]:
    """Every (x, y) the document uses as a demonstration, deduplicated and sorted."""
    return sorted({demo for ex in document.examples for demo in ex.demos})


def resampled_examples(document: PromptDocument, examples, n_demos: int) -> list[Example]:
    """The examples with ``n_demos`` fresh demonstrations each, drawn from the document's pool
    without the example's query and dummy queries, seeded by (seed, task, n_demos, example id)."""
    pool = demo_pool(document)
    seed, task = document.settings["seed"], document.task_name
    resampled = []
    for ex in examples:
        allowed = [d for d in pool if d[0] != ex.query and d[0] not in ex.dummies]
        if len(allowed) < n_demos:
            raise ValueError(
                f"task {task}: {len(allowed)} demonstrations available, {n_demos} asked"
            )
        rng = np.random.default_rng(
            derived_seed(seed, "gd-demo-count", task, n_demos, ex.example_id)
        )
        picked = rng.choice(len(allowed), size=n_demos, replace=False)
        resampled.append(replace(ex, demos=tuple(allowed[j] for j in picked)))
    return resampled


def demo_count_predictions(
    model: nn.Module,
    tokenizer,
    document: PromptDocument,
    settings: GDSettings,
    chosen: Hyperparameters,
    best_layer: int,
    *,
    counts: Sequence[int] = (1, 2, 4, 8),
    n_examples: int,
    max_new_tokens: int = 1,
    batch_size: int = 16,
) -> pd.DataFrame:
    """ICL, TV (at ``best_layer``, θ from the same pass over S as ICL's answer) and GD answers to
    the first ``n_examples`` test queries with ``k`` fresh demonstrations for each ``k`` in
    ``counts``: a predictions table with an ``n_demos`` column."""
    template = _template(document)
    frames = []
    for k in counts:
        examples = resampled_examples(document, _first(document, "test", n_examples), k)
        run = gd_predictions(
            model, tokenizer, document, settings, chosen, max_new_tokens=max_new_tokens,
            examples=examples,
        )  # fmt: skip
        thetas, answers = example_vectors(
            model, tokenizer, template, examples, batch_size, f"gd icl {k} demos",
            max_new_tokens=max_new_tokens,
        )  # fmt: skip
        rows = icl_rows(examples, answers) + sweep_rows(
            model, tokenizer, [template.zero_shot_prompt(ex.query) for ex in examples],
            examples, thetas, [best_layer], include_unpatched=False,
            max_new_tokens=max_new_tokens, batch_rows=batch_size, desc=f"gd tv {k} demos",
        )  # fmt: skip
        frames.append(
            pd.concat([predictions_frame(rows), run.predictions], ignore_index=True).assign(
                n_demos=k
            )
        )
    return pd.concat(frames, ignore_index=True).astype({"n_demos": "int16"})


# --- the random-initialisation control ------------------------------------------------------------


def random_init_model(
    config: Any, seed: int, *, dtype: torch.dtype, device: torch.device | str = "cpu"
) -> nn.Module:
    """A randomly initialised causal LM of architecture ``config`` (a model's ``.config``; the
    config's initialiser), frozen, in eval mode, in ``dtype`` on ``device``; the global RNG is left
    as it was. It needs only the architecture, so it can be built after the pretrained model that
    it controls for is freed."""
    from transformers import AutoModelForCausalLM

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derived_seed(seed, "random-init") % 2**63)
        control = AutoModelForCausalLM.from_config(config, dtype=dtype)
    control.to(device).eval()
    control.requires_grad_(False)
    return control


def random_init_comparison(
    control: nn.Module,
    tokenizer,
    document: PromptDocument,
    settings: GDSettings,
    chosen: Hyperparameters,
    best_layer: int,
    *,
    n_examples: int,
    batch_size: int = 16,
) -> pd.DataFrame:
    """:func:`distribution_comparison` on ``control``, the random-init model of the same
    architecture (:func:`random_init_model`), tagged ``model_init='random'``: the same test
    examples, GD at the hyperparameters chosen for the pretrained model, θ from the control's own
    activations at ``best_layer``."""
    examples = _first(document, "test", n_examples)
    thetas = own_thetas(control, tokenizer, _template(document), examples, batch_size)
    run = gd_predictions(control, tokenizer, document, settings, chosen, examples=examples)
    return distribution_comparison(
        control, tokenizer, document, examples, run.first_logits, thetas[:, best_layer],
        best_layer, top_k=settings.top_k, batch_size=batch_size, model_init="random",
    )  # fmt: skip


def own_thetas(model, tokenizer, template: PromptTemplate, examples, batch_size: int):
    """θ ``(n, n_layers, d_model)`` of a model that has no activations file (the random-init
    control), from whole dummy prompts (:func:`taskvectors.engine.patching.task_vectors`), as
    :func:`condition_logits` runs whole prompts."""
    return torch.cat(
        [
            patching.task_vectors(
                model,
                tokenizer,
                [
                    [template.icl_prompt(list(examples[i].demos), d) for d in examples[i].dummies]
                    for i in rows
                ],
            )
            for rows in patching.chunks(examples, batch_size)
        ]
    )
