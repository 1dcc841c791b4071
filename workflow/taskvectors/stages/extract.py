"""Stage 3, ``extract``: task vectors θ for every layer, and the ICL predictions.

For each example (dev and test) with demonstrations S, query x and dummy queries x′: run ``[S, x]``
(the ICL prompt; its prediction is ICL's answer) and ``[S, x′]`` for each dummy, sharing the
computation of S. θ_L is the output of block L at the last token of ``[S, x′]``, averaged over the
dummies (the paper's ``n_dummy = 2``), for every layer L in the same pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from taskvectors import engine
from taskvectors.models import ModelRecord, load_model
from taskvectors.predictions import prediction_rows, predictions_frame, progress
from taskvectors.prompts import get_template
from taskvectors.provenance import provenance
from taskvectors.storage import vectors_column, write_table


def example_vectors(
    model, tokenizer, template, examples: Sequence[Mapping[str, Any]], batch_size: int, desc: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """θ ``(n, n_layers, d_model)`` of each example, and its ICL first-token ids ``(n,)``."""
    thetas, first_ids = [], []
    for rows in progress(
        engine.chunks(examples, batch_size), desc=desc, total=-(-len(examples) // batch_size)
    ):
        batch = [examples[i] for i in rows]
        contexts = [template.context([tuple(d) for d in ex["demos"]]) for ex in batch]
        suffixes = [[template.query(x) for x in [ex["query"], *ex["dummies"]]] for ex in batch]
        hidden, logits = engine.read_out_shared_prefix(model, tokenizer, contexts, suffixes)
        k = len(suffixes[0])
        hidden = hidden.reshape(len(batch), k, *hidden.shape[1:])
        thetas.append(hidden[:, 1:].mean(1))
        first_ids.append(logits.reshape(len(batch), k, -1)[:, 0].argmax(-1))
    return torch.cat(thetas), torch.cat(first_ids)


def icl_predictions(model, tokenizer, template, examples, first_ids, max_new_tokens, batch_size):
    """Rows of the predictions table for the ICL condition."""
    keys = [
        {"example_id": ex["example_id"], "split": ex["split"], "condition": "icl", "layer": -1}
        for ex in examples
    ]
    if max_new_tokens == 1:
        tokens = first_ids[:, None]
        decoded = engine.Decoded(tokens, torch.empty(0), *engine.answer_texts(tokenizer, tokens))
        return prediction_rows(decoded, keys)
    rows = []
    for chunk in engine.chunks(examples, batch_size):
        prompts = [
            template.icl_prompt([tuple(d) for d in examples[i]["demos"]], examples[i]["query"])
            for i in chunk
        ]
        batch = engine.encode(tokenizer, prompts, model.device)
        decoded = engine.decode(model, tokenizer, batch, max_new_tokens=max_new_tokens)
        rows += prediction_rows(decoded, [keys[i] for i in chunk])
    return rows


def activations_table(examples, thetas: torch.Tensor) -> pa.Table:
    """Long table ``(example, layer) -> θ``, sorted by layer (one row group per layer)."""
    n, n_layers, _ = thetas.shape
    layer = np.repeat(np.arange(n_layers, dtype=np.int16), n)
    return pa.table(
        {
            "example_id": pa.array(
                np.tile([ex["example_id"] for ex in examples], n_layers), pa.int32()
            ),
            "split": pa.array(np.tile([ex["split"] for ex in examples], n_layers)),
            "layer": pa.array(layer, pa.int16()),
            "hidden": vectors_column(thetas.transpose(0, 1).reshape(n * n_layers, -1).numpy()),
        }
    )


def extract(
    record: ModelRecord,
    prompt_doc: Mapping[str, Any],
    *,
    batch_size: int,
    max_answer_tokens: int,
    activations_path: Path,
    icl_path: Path,
) -> None:
    """Write θ of every dev/test example at every layer, and the ICL predictions."""
    model, tokenizer = load_model(record)
    template = get_template(prompt_doc["template"])
    examples = prompt_doc["examples"]
    thetas, first_ids = example_vectors(model, tokenizer, template, examples, batch_size, "extract")
    settings = {
        "batch_size": batch_size,
        "max_answer_tokens": max_answer_tokens,
        "task": prompt_doc["task"]["name"],
        "prompts": prompt_doc["settings"],
    }
    block = provenance(model=record.to_dict(), **settings)
    write_table(
        activations_path, activations_table(examples, thetas), block, row_group_size=len(examples)
    )
    rows = icl_predictions(
        model, tokenizer, template, examples, first_ids, max_answer_tokens, batch_size
    )
    write_table(icl_path, predictions_frame(rows), block)
