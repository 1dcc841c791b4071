"""The analysis stages that write raw files: the model-side ones on a tiny model (sampling
invariants and output shapes), and geometry, which copies rows of the activations tables."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
import torch

from taskvectors.analyses.conflicts.job import TaskSide, conflict_examples, conflict_predictions
from taskvectors.analyses.geometry.job import run_geometry
from taskvectors.analyses.jobs import AnalysisJob
from taskvectors.analyses.order.job import order_predictions
from taskvectors.analyses.top_tokens.job import top_tokens
from taskvectors.engine.inference import activations_table, example_vectors
from taskvectors.results.files import PromptDocument
from taskvectors.results.storage import read_provenance, read_table, write_table
from taskvectors.tasks.pairs import Pair
from taskvectors.tasks.prompts import get_template
from tiny_models import tiny_model

LETTERS = "abcdefghijklmnop"
TEMPLATE = get_template("paper")
EVALUATION = {"batch_size": 4, "batch_rows": 32}


def prompt_doc(task: str = "letters", n: int = 6) -> PromptDocument:
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
    return PromptDocument.from_dict(
        {
            "task": {"name": task, "scoring": "exact"},
            "template": TEMPLATE.to_dict(),
            "settings": {"n_demos": 3, "n_dummy": 2, "seed": 41},
            "examples": examples,
        }
    )


@pytest.fixture(scope="module")
def job():
    torch.manual_seed(0)
    model, tokenizer = tiny_model("llama")
    return AnalysisJob(record=None, model=model, tokenizer=tokenizer, block={"test": True})


MODEL_RECORD = {"alias": "tiny", "source": "local", "dtype": "float32", "n_layers": 3}
PROMPT_SETTINGS = {"n_demos": 3, "n_dev": 3, "n_test": 3, "n_dummy": 2, "seed": 41}


def activations_file(tmp_path, task: str = "letters", n_layers: int = 3, width: int = 4):
    """A run_task activations file of ``prompt_doc()``'s six examples (ids 0-2 dev, 3-5 test),
    every θ distinct, with run_task's provenance."""
    examples = list(prompt_doc(task).examples)
    thetas = torch.arange(len(examples) * n_layers * width, dtype=torch.float32)
    table = activations_table(examples, thetas.reshape(len(examples), n_layers, width))
    path = tmp_path / f"{task}.activations.parquet"
    block = {"model": MODEL_RECORD, "settings": {"prompts": PROMPT_SETTINGS, "task": task}}
    write_table(path, table, block, row_group_size=len(examples))
    return path


def test_geometry_copies_the_activations_of_the_first_n_vectors_examples(tmp_path):
    source = activations_file(tmp_path)
    out = tmp_path / "letters.parquet"
    settings = {"enabled": True, "n_vectors": 4}
    run_geometry({"letters": source}, {"letters": out}, settings)
    frame, activations = read_table(out), read_table(source)
    # test before dev, each by example_id; every layer, sorted by layer
    chosen = [("test", 3), ("test", 4), ("test", 5), ("dev", 0)]
    assert list(zip(frame["split"], frame["example_id"], strict=True)) == chosen * 3
    assert list(frame["layer"]) == [0] * 4 + [1] * 4 + [2] * 4
    rows = activations.set_index(["split", "example_id", "layer"])["hidden"]
    for row in frame.itertuples(index=False):
        assert (row.hidden == rows[(row.split, row.example_id, row.layer)]).all()
    schema = pq.read_schema(out).remove_metadata()
    assert schema == pq.read_schema(source).remove_metadata()  # fixed-size float32 lists kept
    block = read_provenance(out)
    assert block["model"]["alias"] == "tiny" and block["task"] == "letters"
    assert block["settings"] == {"analysis": "geometry", **settings, "prompts": PROMPT_SETTINGS}
    assert pq.ParquetFile(out).metadata.num_row_groups == 3  # one per layer


def test_geometry_refuses_more_vectors_than_the_activations_hold(tmp_path):
    source = activations_file(tmp_path)
    out = tmp_path / "letters.parquet"
    with pytest.raises(ValueError, match="7 vectors per task requested") as error:
        run_geometry({"letters": source}, {"letters": out}, {"n_vectors": 7})
    assert str(source) in str(error.value) and "activations hold 6 examples" in str(error.value)
    assert not out.exists()


def test_top_tokens_ranks_k_tokens_at_every_layer(job):
    examples = list(prompt_doc().examples)
    thetas, _ = example_vectors(job.model, job.tokenizer, TEMPLATE, examples, 4, "t")
    activations = activations_table(examples, thetas).to_pandas()
    table = top_tokens(job, activations, k=3)
    assert len(table) == 3 * job.model.config.num_hidden_layers
    for _, layer in table.groupby("layer"):
        assert list(layer["rank"]) == [0, 1, 2]
        assert layer["logit"].is_monotonic_decreasing


def side(answer: str, inputs: str) -> TaskSide:
    usable = [Pair(x, (answer + x,)) for x in inputs]
    full = {x: (answer + x, "alt" + x) for x in LETTERS}
    return TaskSide(TEMPLATE, usable, full)


def test_conflict_queries_pass_both_filters_and_reach_n():
    a, b = side("A", LETTERS), side("B", "abcdef")  # B's filter keeps six inputs
    examples_a, examples_b = conflict_examples(a, b, n=10, n_demos=2, n_dummy=2, seed=41, key="k")
    assert len(examples_a) == 10  # queries reused with fresh demonstrations
    assert {ex.query for ex in examples_a} <= set("abcdef")
    for ex_a, ex_b in zip(examples_a, examples_b, strict=True):
        assert ex_a.query == ex_b.query
        assert ex_a.query not in [x for x, _ in ex_a.demos] + [x for x, _ in ex_b.demos]
        assert ex_a.answers == ("A" + ex_a.query, "alt" + ex_a.query)  # A's full answers
        assert len(ex_b.demos) == 2 and len(ex_b.dummies) == 2


def test_conflicts_patch_theta_b_at_every_layer(job):
    a, b = side("A", LETTERS), side("B", LETTERS)
    settings = {"n_examples": 4, "n_demos": 2, "n_dummy": 2, "seed": 41}
    frame = conflict_predictions(job, a, b, settings, EVALUATION, "a__b")
    layers = job.model.config.num_hidden_layers
    assert len(frame) == 4 * (layers + 1)
    assert set(frame["condition"]) == {"icl", "tv"}
    assert {"answers_a", "answers_b", "query"} <= set(frame.columns)


def test_order_keeps_the_original_order_first(job):
    frame = order_predictions(
        job, prompt_doc(), 1, n_examples=2, n_permutations=2, evaluation=EVALUATION
    )
    assert sorted(frame["permutation"].unique()) == [0, 1, 2]
    per_permutation = frame.groupby("permutation").size()
    assert per_permutation.eq(2 * 2).all()  # ICL + TV at the best layer, per example
    assert set(frame["condition"]) == {"icl", "tv"} and set(frame["layer"]) == {-1, 1}


def test_order_without_a_best_layer_has_icl_only(job):
    frame = order_predictions(
        job, prompt_doc(), None, n_examples=2, n_permutations=1, evaluation=EVALUATION
    )
    assert set(frame["condition"]) == {"icl"}
