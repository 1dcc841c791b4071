"""Stage 4, ``patch``: zero-shot and task-vector-patched predictions at every layer.

For each dev and test example, the zero-shot prompt ``[x]`` runs once unpatched (the baseline) and
once per layer L with θ_L of the example's own demonstrations written over the output of block L at
the last position (the paper's "hypothesis" run). The layer variants share the prompt's prefix
cache and run as one batch (:func:`taskvectors.engine.sweep_layers`). Predictions stay raw; the
``evaluate`` stage scores them, picks the best layer on dev, and reports test accuracy there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from taskvectors import engine
from taskvectors.models import ModelRecord, load_model
from taskvectors.predictions import prediction_rows, predictions_frame, progress
from taskvectors.prompts import get_template
from taskvectors.provenance import provenance
from taskvectors.storage import column_vectors, write_table


def vectors_by_example(activations: pd.DataFrame, examples) -> torch.Tensor:
    """θ as ``(n_examples, n_layers, d_model)`` in the order of ``examples``."""
    table = activations.sort_values(["example_id", "layer"])
    n_layers = int(table["layer"].max()) + 1
    vectors = torch.from_numpy(column_vectors(table)).reshape(
        -1, n_layers, table["hidden"].iloc[0].size
    )
    position = {int(e): i for i, e in enumerate(table["example_id"].iloc[::n_layers])}
    return vectors[[position[int(ex["example_id"])] for ex in examples]]


def zero_shot_prompts(template, examples) -> list[str]:
    """The zero-shot prompt ``[x]`` of each example's query."""
    return [template.zero_shot_prompt(example["query"]) for example in examples]


def sweep_rows(
    model,
    tokenizer,
    prompts: Sequence[str],
    examples,
    vectors,
    *,
    max_new_tokens,
    batch_rows,
    desc="sweep",
):
    """Predictions-table rows: ``prompts[i]`` unpatched (``baseline``) and patched with
    ``vectors[i]`` at every layer (``tv``), keyed by ``examples[i]``."""
    layers = list(range(vectors.shape[1]))
    per_chunk = max(1, batch_rows // (len(layers) + 1))
    rows = []
    for chunk in progress(
        engine.chunks(examples, per_chunk), desc=desc, total=-(-len(examples) // per_chunk)
    ):
        decoded = engine.sweep_layers(
            model,
            tokenizer,
            [prompts[i] for i in chunk],
            vectors[list(chunk)],
            layers,
            max_new_tokens=max_new_tokens,
        )
        keys = [
            {
                "example_id": examples[i]["example_id"],
                "split": examples[i]["split"],
                "condition": "baseline" if layer < 0 else "tv",
                "layer": layer,
            }
            for i in chunk
            for layer in [-1, *layers]
        ]
        rows += prediction_rows(decoded, keys)
    return rows


def patch(
    record: ModelRecord,
    prompt_doc: Mapping[str, Any],
    activations: pd.DataFrame,
    *,
    batch_rows: int,
    max_answer_tokens: int,
    out_path: Path,
) -> None:
    """Write baseline and per-layer patched predictions for every dev/test example."""
    model, tokenizer = load_model(record)
    template = get_template(prompt_doc["template"])
    examples = prompt_doc["examples"]
    vectors = vectors_by_example(activations, examples)
    rows = sweep_rows(
        model,
        tokenizer,
        zero_shot_prompts(template, examples),
        examples,
        vectors,
        max_new_tokens=max_answer_tokens,
        batch_rows=batch_rows,
    )
    settings = {
        "batch_rows": batch_rows,
        "max_answer_tokens": max_answer_tokens,
        "task": prompt_doc["task"]["name"],
        "prompts": prompt_doc["settings"],
    }
    write_table(out_path, predictions_frame(rows), provenance(model=record.to_dict(), **settings))
