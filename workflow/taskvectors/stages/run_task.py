"""Stage ``run_task``: everything a (model, task) needs from the model, with one model load.

1. The prompt file: the task's pairs filtered and spaced for the model's tokenizer, split into
   dev and test examples (demonstrations S, query x, dummy queries x′).
2. θ of every example at every layer (block outputs at the last token of ``[S, x′]``, averaged
   over the dummies) and ICL's answer to ``[S, x]``, sharing the computation of S.
3. The zero-shot prompt ``[x]`` unpatched (baseline) and patched with θ_L: every layer on dev
   (first token: the layer sweep), and on test every layer (``sweep_test: all``) or only the layer
   chosen on dev (``best``), with greedy answers of up to ``max_answer_tokens`` tokens.

Loading a model costs more than most tasks' compute on a GPU node (10-60 s for 7B-30B models), so
this is one job. It stores raw predictions only; ``evaluate`` scores them. In ``best`` mode the
layer is chosen here with the scoring module, which the rule then lists as an input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from taskvectors.engine import patching
from taskvectors.engine.inference import activations_table, example_vectors, icl_rows, sweep_rows
from taskvectors.engine.models import ModelRecord, load_model
from taskvectors.results.files import Example, PromptDocument, write_prompt_document
from taskvectors.results.predictions import predictions_frame
from taskvectors.results.provenance import provenance
from taskvectors.results.storage import write_table
from taskvectors.tasks.prompt_files import (
    PromptTooLongError,
    build_prompt_document,
    context_problem,
)
from taskvectors.tasks.prompts import get_template
from taskvectors.tasks.registry import TaskSpec

#: ``(rows of the dev sweep, the prompt document) -> best layer or None``.
LayerChooser = Callable[[pd.DataFrame, PromptDocument], "int | None"]


@dataclass(frozen=True)
class RunTaskOutputs:
    prompts: Path
    activations: Path
    predictions: Path


@dataclass(frozen=True)
class InferenceSettings:
    """The ``evaluation`` settings a model job depends on."""

    batch_size: int
    batch_rows: int
    max_answer_tokens: int
    sweep_test: str  # all | best


def run_task(
    record: ModelRecord,
    spec: TaskSpec,
    data_dir: Path,
    prompt_config: Mapping[str, Any],
    settings: InferenceSettings,
    outputs: RunTaskOutputs,
    choose_layer: LayerChooser | None = None,
) -> PromptDocument:
    """Write the prompt file, the activations and the predictions of one (model, task)."""
    model, tokenizer = load_model(record)
    options = {key: value for key, value in prompt_config.items() if key != "template"}
    document = PromptDocument.from_dict(
        build_prompt_document(
            spec,
            data_dir,
            tokenizer,
            get_template(prompt_config["template"]),
            options,
            record.to_dict(),
        )
    )
    template = get_template(document.template)
    limit = getattr(model.config.get_text_config(), "max_position_embeddings", None)
    problem = context_problem(
        tokenizer, template, document.examples, limit, settings.max_answer_tokens,
        f"task {spec.name} on model {record.alias}",
    )  # fmt: skip
    if problem:
        raise PromptTooLongError(problem)
    write_prompt_document(outputs.prompts, document)
    examples, thetas, answers = _vectors_and_icl(model, tokenizer, template, document, settings)
    block = provenance(
        model=record.to_dict(),
        task=spec.name,
        prompts=document.settings,
        spacing=document.spacing,
        torch_threads=torch.get_num_threads(),  # float32 sums can differ in the last bits with it
        **settings.__dict__,
    )
    write_table(
        outputs.activations,
        activations_table(examples, thetas),
        block,
        row_group_size=len(examples),
    )
    rows = icl_rows(examples, answers)
    rows += _sweeps(model, tokenizer, template, examples, document, thetas, settings, choose_layer)
    write_table(outputs.predictions, predictions_frame(rows), block)
    return document


def _vectors_and_icl(
    model, tokenizer, template, document: PromptDocument, settings: InferenceSettings
) -> tuple[list[Example], torch.Tensor, patching.Decoded]:
    """The examples (dev, then test), their θ ``(n, n_layers, d_model)`` and ICL's answers: the
    first token on dev, the greedy answer on test, decoded on from θ's pass over S."""
    budget = {"dev": 1, "test": settings.max_answer_tokens}
    examples, thetas, answers = [], [], []
    for split in ("dev", "test"):
        chosen = list(document.split(split))
        split_thetas, split_answers = example_vectors(
            model, tokenizer, template, chosen, settings.batch_size, f"{split} task vectors + ICL",
            max_new_tokens=budget[split],
        )  # fmt: skip
        examples += chosen
        thetas.append(split_thetas)
        answers.append(split_answers)
    return examples, torch.cat(thetas), patching.concatenate(answers)


def _sweeps(
    model, tokenizer, template, examples, document, thetas, settings, choose_layer
) -> list[dict]:
    """Baseline and patched rows: dev at every layer (first token), test per ``sweep_test``.

    ``thetas`` ``(n, n_layers, d_model)`` is in the order of ``examples``."""
    index = {
        split: [i for i, ex in enumerate(examples) if ex.split == split]
        for split in ("dev", "test")
    }
    all_layers = list(range(thetas.shape[1]))

    def sweep(split: str, layers: Sequence[int], max_new_tokens: int) -> list[dict]:
        chosen: list[Example] = [examples[i] for i in index[split]]
        prompts = [template.zero_shot_prompt(ex.query) for ex in chosen]
        return sweep_rows(
            model, tokenizer, prompts, chosen, thetas[index[split]], layers,
            max_new_tokens=max_new_tokens, batch_rows=settings.batch_rows, desc=f"{split} sweep",
        )  # fmt: skip

    dev_rows = sweep("dev", all_layers, 1)
    if settings.sweep_test == "all":
        return dev_rows + sweep("test", all_layers, settings.max_answer_tokens)
    if choose_layer is None:
        raise ValueError("sweep_test: best needs a layer chooser (the scoring of the dev sweep)")
    best = choose_layer(predictions_frame(dev_rows), document)
    layers = [] if best is None else [best]
    return dev_rows + sweep("test", layers, settings.max_answer_tokens)
