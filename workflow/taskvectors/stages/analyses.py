"""Model stages of the paper's analyses, one job per model covering all of its tasks.

* ``geometry`` (paper §4): ``n_vectors`` task vectors per task, each from freshly sampled
  demonstrations and dummy queries, at every layer — the report maps them with t-SNE and compares
  within-task and across-task cosine distances.
* ``top_tokens`` (paper §4): each task's mean test θ through the final norm and unembedding.
* ``conflicts`` (paper §5): demonstrations of task A with θ of task B patched in, at every layer.
* ``order``: the same demonstrations in several orders; ICL and task-vector predictions per order.

Every stage writes raw predictions or vectors; scoring happens in the report. One job per model
loads the model once for all tasks (loading costs more than most tasks' analysis).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from taskvectors import engine
from taskvectors.models import ModelRecord, load_model
from taskvectors.predictions import predictions_frame
from taskvectors.prompts import get_template
from taskvectors.provenance import provenance
from taskvectors.stages.extract import activations_table, example_vectors, icl_predictions
from taskvectors.stages.patch import sweep_rows, vectors_by_example, zero_shot_prompts
from taskvectors.storage import column_vectors, read_json, read_table, write_table
from taskvectors.tasks.algorithmic import derived_seed
from taskvectors.tasks.registry import TaskSpec, load_pairs


def demo_pool(prompt_doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every (x, y) pair the prompt file uses as a demonstration, deduplicated and sorted."""
    return sorted({tuple(d) for ex in prompt_doc["examples"] for d in ex["demos"]})


def sample_examples(pool, n: int, n_demos: int, n_dummy: int, seed: int, *key) -> list[dict]:
    """``n`` examples with fresh demonstrations and dummy queries drawn from ``pool``."""
    rng = np.random.default_rng(derived_seed(seed, *key))
    examples = []
    for i in range(n):
        picked = rng.choice(len(pool), size=n_demos + 1 + n_dummy, replace=False)
        demos = [pool[j] for j in picked[:n_demos]]
        query, *dummies = [pool[j][0] for j in picked[n_demos:]]
        examples.append(
            {
                "example_id": i,
                "split": "geometry",
                "query": query,
                "answers": [pool[picked[n_demos]][1]],
                "demos": demos,
                "dummies": dummies,
            }
        )
    return examples


def geometry(model, tokenizer, prompt_doc, *, n_vectors: int, batch_size: int) -> pa.Table:
    """``n_vectors`` θ per layer, each from its own sampled demonstrations and dummy queries."""
    settings = prompt_doc["settings"]
    pool = demo_pool(prompt_doc)
    size = settings["n_demos"] + 1 + settings["n_dummy"]
    if len(pool) < size:
        raise ValueError(f"task {prompt_doc['task']['name']}: {len(pool)} pairs, need {size}")
    examples = sample_examples(
        pool,
        n_vectors,
        settings["n_demos"],
        settings["n_dummy"],
        settings["seed"],
        prompt_doc["task"]["name"],
        "geometry",
    )
    template = get_template(prompt_doc["template"])
    thetas, _ = example_vectors(model, tokenizer, template, examples, batch_size, "geometry")
    return activations_table(examples, thetas)


def top_tokens(model, tokenizer, activations: pd.DataFrame, k: int) -> pd.DataFrame:
    """Top-``k`` tokens of the mean test θ at every layer, through final norm and unembedding."""
    test = activations[activations["split"] == "test"].sort_values(["layer", "example_id"])
    layers = sorted(test["layer"].unique())
    means = torch.stack(
        [torch.from_numpy(column_vectors(test[test["layer"] == layer]).mean(0)) for layer in layers]
    )
    values, ids = engine.project_to_vocab(model, means).topk(k, dim=-1)
    return pd.DataFrame(
        [
            {
                "layer": int(layer),
                "rank": rank,
                "token_id": int(ids[i, rank]),
                "token": tokenizer.decode([int(ids[i, rank])]),
                "logit": float(values[i, rank]),
            }
            for i, layer in enumerate(layers)
            for rank in range(k)
        ]
    ).astype({"layer": "int16", "rank": "int16", "token_id": "int32"})


def conflict_examples(doc_a, pairs_b: Mapping[str, Sequence[str]], n: int, n_demos: int):
    """Queries valid for both tasks, with demonstrations of A (never containing the query)."""
    pool = demo_pool(doc_a)
    inputs_a = sorted({x for x, _ in pool} | {ex["query"] for ex in doc_a["examples"]})
    answers_a = {x: [y] for x, y in pool} | {ex["query"]: ex["answers"] for ex in doc_a["examples"]}
    shared = [x for x in inputs_a if x in pairs_b]
    rng = np.random.default_rng(
        derived_seed(doc_a["settings"]["seed"], "conflicts", doc_a["task"]["name"])
    )
    examples = []
    for i, query in enumerate(rng.permutation(shared)[:n]):
        candidates = [p for p in pool if p[0] != query]
        demos = [candidates[j] for j in rng.choice(len(candidates), n_demos, replace=False)]
        examples.append(
            {
                "example_id": i,
                "split": "test",
                "query": str(query),
                "demos": demos,
                "answers_a": list(answers_a[query]),
                "answers_b": list(pairs_b[query]),
            }
        )
    return examples


def conflicts(
    model,
    tokenizer,
    doc_a,
    doc_b,
    activations_b: pd.DataFrame,
    pairs_b: Mapping[str, Sequence[str]],
    *,
    n: int,
    n_demos: int,
    batch_rows: int,
    max_new_tokens: int,
) -> pd.DataFrame:
    """Predictions of A's ICL prompts, unpatched (``icl``) and with θ_B at every layer (``tv``)."""
    examples = conflict_examples(doc_a, pairs_b, n, n_demos)
    if not examples:
        return pd.DataFrame()
    test_b = [ex for ex in doc_b["examples"] if ex["split"] == "test"]
    theta_b = vectors_by_example(activations_b[activations_b["split"] == "test"], test_b)
    vectors = theta_b[[i % len(test_b) for i in range(len(examples))]]
    template = get_template(doc_a["template"])
    prompts = [template.icl_prompt([tuple(d) for d in ex["demos"]], ex["query"]) for ex in examples]
    rows = sweep_rows(
        model,
        tokenizer,
        prompts,
        examples,
        vectors,
        max_new_tokens=max_new_tokens,
        batch_rows=batch_rows,
        desc="conflicts",
    )
    frame = predictions_frame(rows)
    frame["condition"] = frame["condition"].replace({"baseline": "icl"})
    by_id = {ex["example_id"]: ex for ex in examples}
    frame["query"] = [by_id[i]["query"] for i in frame["example_id"]]
    frame["answers_a"] = [by_id[i]["answers_a"] for i in frame["example_id"]]
    frame["answers_b"] = [by_id[i]["answers_b"] for i in frame["example_id"]]
    return frame


def order(
    model,
    tokenizer,
    prompt_doc,
    *,
    n_examples: int,
    n_permutations: int,
    batch_size: int,
    batch_rows: int,
    max_new_tokens: int,
) -> pd.DataFrame:
    """ICL and task-vector predictions (every layer) for permutations of the same demonstrations."""
    template = get_template(prompt_doc["template"])
    test = [ex for ex in prompt_doc["examples"] if ex["split"] == "test"][:n_examples]
    rng = np.random.default_rng(
        derived_seed(prompt_doc["settings"]["seed"], "order", prompt_doc["task"]["name"])
    )
    frames = []
    for permutation in range(n_permutations):
        shuffled = [
            {
                **ex,
                "demos": ex["demos"]
                if permutation == 0
                else [ex["demos"][j] for j in rng.permutation(len(ex["demos"]))],
            }
            for ex in test
        ]
        thetas, first_ids = example_vectors(
            model, tokenizer, template, shuffled, batch_size, f"order {permutation}"
        )
        rows = icl_predictions(
            model, tokenizer, template, shuffled, first_ids, max_new_tokens, batch_size
        )
        rows += sweep_rows(
            model,
            tokenizer,
            zero_shot_prompts(template, shuffled),
            shuffled,
            thetas,
            max_new_tokens=max_new_tokens,
            batch_rows=batch_rows,
            desc="order",
        )
        frames.append(predictions_frame(rows).assign(permutation=permutation))
    frame = pd.concat(frames, ignore_index=True)
    return frame[frame["condition"] != "baseline"].astype({"permutation": "int16"})


def _outputs(paths: Sequence[str], tasks: Sequence[str]) -> dict[str, Path]:
    return {task: Path(path) for task, path in zip(tasks, paths, strict=True)}


def run_geometry(
    record: ModelRecord,
    prompt_paths: Sequence[str],
    out_paths: Sequence[str],
    tasks: Sequence[str],
    *,
    n_vectors: int,
    batch_size: int,
) -> None:
    """Job ``geometry``: one vectors file per task."""
    outputs = _outputs(out_paths, tasks)
    model, tokenizer = load_model(record)
    block = provenance(model=record.to_dict(), n_vectors=n_vectors)
    for task, path in zip(tasks, prompt_paths, strict=True):
        doc = read_json(path)
        table = geometry(model, tokenizer, doc, n_vectors=n_vectors, batch_size=batch_size)
        write_table(
            outputs[task],
            table,
            {**block, "task": task},
            row_group_size=n_vectors,
        )


def run_top_tokens(
    record: ModelRecord,
    activation_paths: Sequence[str],
    out_paths: Sequence[str],
    tasks: Sequence[str],
    *,
    k: int,
) -> None:
    """Job ``top_tokens``: one table per task."""
    outputs = _outputs(out_paths, tasks)
    model, tokenizer = load_model(record)
    block = provenance(model=record.to_dict(), k=k)
    for task, path in zip(tasks, activation_paths, strict=True):
        table = top_tokens(model, tokenizer, read_table(path), k)
        write_table(outputs[task], table, {**block, "task": task})


def run_conflicts(
    record: ModelRecord,
    results_dir: Path,
    out_paths: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    tasks: Mapping[str, Mapping],
    data_dir: Path,
    *,
    n_examples: int,
    n_demos: int,
    batch_rows: int,
    max_new_tokens: int,
) -> None:
    """Job ``conflicts``: one predictions file per (A, B) pair."""
    model, tokenizer = load_model(record)
    model_dir = record.alias
    block = provenance(model=record.to_dict(), n_examples=n_examples, n_demos=n_demos)
    for (a, b), path in zip(pairs, out_paths, strict=True):
        doc_a = read_json(results_dir / "prompts" / model_dir / f"{a}.json")
        doc_b = read_json(results_dir / "prompts" / model_dir / f"{b}.json")
        activations_b = read_table(results_dir / "activations" / model_dir / f"{b}.parquet")
        pairs_b = {p.input: list(p.answers) for p in load_pairs(TaskSpec(**tasks[b]), data_dir)}
        frame = conflicts(
            model,
            tokenizer,
            doc_a,
            doc_b,
            activations_b,
            pairs_b,
            n=n_examples,
            n_demos=n_demos,
            batch_rows=batch_rows,
            max_new_tokens=max_new_tokens,
        )
        write_table(path, frame, {**block, "task_a": a, "task_b": b})


def run_order(
    record: ModelRecord,
    prompt_paths: Sequence[str],
    out_paths: Sequence[str],
    tasks: Sequence[str],
    *,
    n_examples: int,
    n_permutations: int,
    batch_size: int,
    batch_rows: int,
    max_new_tokens: int,
) -> None:
    """Job ``order``: one predictions file per task."""
    outputs = _outputs(out_paths, tasks)
    model, tokenizer = load_model(record)
    block = provenance(model=record.to_dict(), n_examples=n_examples, n_permutations=n_permutations)
    for task, path in zip(tasks, prompt_paths, strict=True):
        frame = order(
            model,
            tokenizer,
            read_json(path),
            n_examples=n_examples,
            n_permutations=n_permutations,
            batch_size=batch_size,
            batch_rows=batch_rows,
            max_new_tokens=max_new_tokens,
        )
        write_table(outputs[task], frame, {**block, "task": task})
