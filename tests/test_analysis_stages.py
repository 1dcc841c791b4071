"""The model-side analysis stages on a tiny model: sampling invariants and output shapes."""

from __future__ import annotations

import pytest
import torch

from taskvectors.prompts import get_template
from taskvectors.stages import analyses
from taskvectors.stages.extract import activations_table, example_vectors
from tiny_models import tiny_model

LETTERS = "abcdefghijklmnop"


def prompt_doc(task: str = "letters", n: int = 6) -> dict:
    pairs = [(x, x.upper()) for x in LETTERS]
    examples = []
    for i in range(n):
        query, demos = pairs[i][0], [p for p in pairs if p[0] != pairs[i][0]][i : i + 3]
        dummies = [p[0] for p in pairs if p[0] != query and p not in demos][:2]
        examples.append(
            {
                "example_id": i,
                "split": "dev" if i < n // 2 else "test",
                "query": query,
                "answers": [query.upper()],
                "demos": [list(d) for d in demos],
                "dummies": dummies,
            }
        )
    return {
        "task": {"name": task, "scoring": "exact"},
        "template": get_template("paper").to_dict(),
        "settings": {"n_demos": 3, "n_dummy": 2, "seed": 41},
        "examples": examples,
    }


@pytest.fixture(scope="module")
def llama():
    torch.manual_seed(0)
    return tiny_model("llama")


def test_sampled_examples_keep_query_demos_and_dummies_apart():
    pool = [(x, x.upper()) for x in LETTERS]
    examples = analyses.sample_examples(pool, 20, 3, 2, 41, "task", "geometry")
    assert examples == analyses.sample_examples(pool, 20, 3, 2, 41, "task", "geometry")
    for ex in examples:
        inputs = [x for x, _ in ex["demos"]]
        assert len(set(inputs)) == 3
        assert ex["query"] not in inputs and not set(ex["dummies"]) & {*inputs, ex["query"]}
    assert len({tuple(map(tuple, ex["demos"])) for ex in examples}) > 1


def test_geometry_gives_n_vectors_per_layer(llama):
    model, tokenizer = llama
    table = analyses.geometry(model, tokenizer, prompt_doc(), n_vectors=5, batch_size=4)
    frame = table.to_pandas()
    assert len(frame) == 5 * model.config.num_hidden_layers
    assert set(frame["split"]) == {"geometry"}
    assert len(frame["hidden"].iloc[0]) == model.config.hidden_size


def test_top_tokens_ranks_k_tokens_at_every_layer(llama):
    model, tokenizer = llama
    doc = prompt_doc()
    thetas, _ = example_vectors(model, tokenizer, get_template("paper"), doc["examples"], 4, "t")
    activations = activations_table(doc["examples"], thetas).to_pandas()
    table = analyses.top_tokens(model, tokenizer, activations, k=3)
    assert len(table) == 3 * model.config.num_hidden_layers
    for _, layer in table.groupby("layer"):
        assert list(layer["rank"]) == [0, 1, 2]
        assert layer["logit"].is_monotonic_decreasing


def test_conflict_examples_use_queries_both_tasks_answer():
    doc_a = prompt_doc("a")
    pairs_b = {"a": ["B1"], "b": ["B2"], "zz": ["never"]}
    examples = analyses.conflict_examples(doc_a, pairs_b, n=10, n_demos=2)
    assert {ex["query"] for ex in examples} <= {"a", "b"}
    for ex in examples:
        assert ex["query"] not in [x for x, _ in ex["demos"]]
        assert ex["answers_b"] == pairs_b[ex["query"]]
        assert ex["answers_a"] == [ex["query"].upper()]


def test_conflicts_patch_theta_b_at_every_layer(llama):
    model, tokenizer = llama
    doc_a, doc_b = prompt_doc("a"), prompt_doc("b")
    thetas, _ = example_vectors(model, tokenizer, get_template("paper"), doc_b["examples"], 4, "t")
    activations_b = activations_table(doc_b["examples"], thetas).to_pandas()
    pairs_b = {x: [x.upper()] for x in LETTERS}
    frame = analyses.conflicts(
        model,
        tokenizer,
        doc_a,
        doc_b,
        activations_b,
        pairs_b,
        n=4,
        n_demos=2,
        batch_rows=32,
        max_new_tokens=1,
    )
    layers = model.config.num_hidden_layers
    assert len(frame) == frame["example_id"].nunique() * (layers + 1)
    assert set(frame["condition"]) == {"icl", "tv"}
    assert {"answers_a", "answers_b", "query"} <= set(frame.columns)


def test_order_keeps_the_original_order_first(llama):
    model, tokenizer = llama
    frame = analyses.order(
        model,
        tokenizer,
        prompt_doc(),
        n_examples=2,
        n_permutations=3,
        batch_size=4,
        batch_rows=32,
        max_new_tokens=1,
    )
    layers = model.config.num_hidden_layers
    assert sorted(frame["permutation"].unique()) == [0, 1, 2]
    per_permutation = frame.groupby("permutation").size()
    assert per_permutation.eq(2 * (1 + layers)).all()  # ICL + one TV row per layer, per example
    assert "baseline" not in set(frame["condition"])
