"""The method's model computations on prompt-file examples, shared by every model stage.

* :func:`example_vectors` — θ of each example (block outputs at the last token of ``[S, x′]``,
  averaged over its dummy queries, every layer in one pass) and ICL's greedy answer, computing S
  once for the ICL prompt and the dummy prompts; only the query is projected and decoded on.
* :func:`icl_rows` — ICL's predictions-table rows from those answers.
* :func:`sweep_rows` — zero-shot prompts unpatched (``baseline``) and patched with θ at the given
  layers (``tv``), every layer's variant sharing the prompt's prefix cache.

The main stage and the analyses call these, so that a task vector means the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from taskvectors.engine import patching
from taskvectors.progress import progress
from taskvectors.results.files import Example
from taskvectors.results.predictions import example_keys, prediction_rows
from taskvectors.results.storage import column_vectors, vectors_column
from taskvectors.tasks.prompts import PromptTemplate


def example_vectors(
    model,
    tokenizer,
    template: PromptTemplate,
    examples: Sequence[Example],
    batch_size: int,
    desc: str,
    *,
    max_new_tokens: int = 1,
) -> tuple[torch.Tensor, patching.Decoded]:
    """θ ``(n, n_layers, d_model)`` float32 of each example, and ICL's greedy answer to ``[S, x]``
    (up to ``max_new_tokens`` tokens; no first logits), computing S once for both."""
    thetas, answers = [], []
    total = -(-len(examples) // batch_size)
    for rows in progress(patching.chunks(examples, batch_size), desc=desc, total=total):
        batch = [examples[i] for i in rows]
        contexts = [template.context(list(ex.demos)) for ex in batch]
        suffixes = [[template.query(x) for x in [ex.query, *ex.dummies]] for ex in batch]
        hidden, decoded = patching.read_out_shared_prefix(
            model, tokenizer, contexts, suffixes, answer_of=0, max_new_tokens=max_new_tokens
        )
        k = len(suffixes[0])
        hidden = hidden.reshape(len(batch), k, *hidden.shape[1:])
        thetas.append(hidden[:, 1:].mean(1))
        answers.append(decoded)
    return torch.cat(thetas), patching.concatenate(answers)


def icl_rows(examples: Sequence[Example], answers: patching.Decoded) -> list[dict]:
    """Predictions-table rows of ICL (``[S, x]``) from the answers :func:`example_vectors` gave."""
    return prediction_rows(answers, example_keys(examples, "icl"))


def sweep_rows(
    model,
    tokenizer,
    prompts: Sequence[str],
    examples: Sequence[Example],
    vectors: torch.Tensor,
    layers: Sequence[int],
    *,
    include_unpatched: bool = True,
    max_new_tokens: int,
    batch_rows: int,
    desc: str = "sweep",
) -> list[dict]:
    """Rows for ``prompts[i]`` unpatched (``baseline``) and patched with ``vectors[i, l]`` for each
    ``l`` in ``layers`` (``tv``), keyed by ``examples[i]``.

    Args:
        vectors: ``(n, n_layers, d_model)``.
        batch_rows: rows (prompts × variants) per forward batch.
    """
    variants = ([patching.NO_PATCH] if include_unpatched else []) + list(layers)
    per_chunk = max(1, batch_rows // len(variants))
    rows = []
    total = -(-len(examples) // per_chunk)
    for chunk in progress(patching.chunks(examples, per_chunk), desc=desc, total=total):
        decoded = patching.sweep_layers(
            model,
            tokenizer,
            [prompts[i] for i in chunk],
            vectors[list(chunk)],
            list(layers),
            include_unpatched=include_unpatched,
            max_new_tokens=max_new_tokens,
            keep_first_logits=False,
        )
        keys = [
            {
                "example_id": examples[i].example_id,
                "split": examples[i].split,
                "condition": "baseline" if layer == patching.NO_PATCH else "tv",
                "layer": layer,
            }
            for i in chunk
            for layer in variants
        ]
        rows += prediction_rows(decoded, keys)
    return rows


def activations_table(examples: Sequence[Example], thetas: torch.Tensor) -> pa.Table:
    """Long table ``(example, layer) -> θ`` sorted by layer (one row group per layer).

    ``thetas`` is ``(n, n_layers, d_model)`` in the order of ``examples``.
    """
    n, n_layers, _ = thetas.shape
    return pa.table(
        {
            "example_id": pa.array(
                np.tile([ex.example_id for ex in examples], n_layers), pa.int32()
            ),
            "split": pa.array(np.tile([ex.split for ex in examples], n_layers)),
            "layer": pa.array(np.repeat(np.arange(n_layers, dtype=np.int16), n), pa.int16()),
            "hidden": vectors_column(thetas.transpose(0, 1).reshape(n * n_layers, -1).numpy()),
        }
    )


def vectors_by_example(activations: pd.DataFrame, examples: Sequence[Example]) -> torch.Tensor:
    """θ ``(n_examples, n_layers, d_model)`` from an activations table, in the order of
    ``examples`` (matched on ``(split, example_id)``)."""
    table = activations.sort_values(["split", "example_id", "layer"])
    n_layers = int(table["layer"].max()) + 1
    width = table["hidden"].iloc[0].size
    vectors = torch.from_numpy(column_vectors(table)).reshape(-1, n_layers, width)
    firsts = table.iloc[::n_layers]
    position = {
        (s, int(e)): i
        for i, (s, e) in enumerate(zip(firsts["split"], firsts["example_id"], strict=True))
    }
    return vectors[[position[(ex.split, ex.example_id)] for ex in examples]]
