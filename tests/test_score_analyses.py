"""The model-free scoring of the analyses, on small hand-made raw tables with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from taskvectors.analyses.conflicts.score import score_conflicts
from taskvectors.analyses.geometry.score import score_geometry
from taskvectors.analyses.order.score import score_order
from taskvectors.analyses.prompt_format.score import score_prompt_format
from taskvectors.analyses.top_tokens.score import score_top_tokens
from taskvectors.engine.inference import activations_table
from taskvectors.results.files import PromptDocument
from taskvectors.results.storage import write_table

BLOCK = {"test": True}


def sweep(best: int | None, n_layers: int = 3) -> pd.DataFrame:
    accuracy = [0.0] * n_layers
    if best is not None:
        accuracy[best] = 1.0
    return pd.DataFrame(
        {
            "split": "dev", "layer": range(n_layers), "n": 4, "successes": 0,
            "accuracy": accuracy, "low": 0.0, "high": 1.0,
            "is_best": [layer == best for layer in range(n_layers)],
        }
    )  # fmt: skip


def document(task: str, n: int = 4) -> PromptDocument:
    examples = [
        {"example_id": i, "split": "test", "query": f"q{i}", "answers": [f"A{i}"],
         "demos": [["d", "D"]], "dummies": []}
        for i in range(n)
    ]  # fmt: skip
    return PromptDocument.from_dict(
        {"task": {"name": task, "scoring": "exact"}, "template": "paper", "settings": {},
         "examples": examples, "spacing": {"chosen": "leading"}}
    )  # fmt: skip


def test_geometry_separates_two_clustered_tasks(tmp_path):
    """The raw files of the geometry stage (rows of run_task's activations) score as clusters."""
    import torch

    from taskvectors.analyses.geometry.job import run_geometry
    from taskvectors.results.files import Example

    rng = np.random.default_rng(0)
    activations, raw = {}, {}
    for t, centre in (("t1", 5.0), ("t2", -5.0)):
        examples = [Example(i, "dev" if i < 5 else "test", "x", ("y",), (), ()) for i in range(10)]
        vectors = torch.tensor(centre + rng.normal(size=(10, 3, 6)), dtype=torch.float32)
        activations[t], raw[t] = tmp_path / f"{t}.activations.parquet", tmp_path / f"{t}.parquet"
        write_table(activations[t], activations_table(examples, vectors), BLOCK)
    run_geometry(activations, raw, {"n_vectors": 8})
    table = score_geometry(raw, {"t1": sweep(1), "t2": sweep(1)})
    assert (table["kind"] == "tsne").sum() == 2 * 8
    assert set(table["kind"]) == {"tsne", "distance", "stat"} and set(table["layer"]) == {1}
    nn = table[(table["kind"] == "stat") & (table["statistic"] == "nn_accuracy")].iloc[0]
    assert nn["value"] == 1.0 and nn["p_value"] < 0.05
    distances = table[table["kind"] == "distance"]
    within = distances[distances["within"] == True]["distance"].mean()  # noqa: E712
    across = distances[distances["within"] == False]["distance"].mean()  # noqa: E712
    assert within < across


def test_top_tokens_kept_at_the_best_layer_only(tmp_path):
    path = tmp_path / "t.parquet"
    frame = pd.DataFrame(
        {"layer": [0, 0, 2, 2], "rank": [0, 1, 0, 1], "token_id": 1,
         "token": ["a", "b", "c", "d"], "logit": [2.0, 1.0, 2.0, 1.0]}
    )  # fmt: skip
    write_table(path, frame, BLOCK)
    table = score_top_tokens({"t": path, "u": path}, {"t": sweep(2), "u": sweep(None)})
    assert list(table["token"]) == ["c", "d"] and set(table["task"]) == {"t"}


def test_conflicts_count_answers_of_a_and_b(tmp_path):
    path = tmp_path / "a__b.parquet"
    frame = pd.DataFrame(
        {"example_id": [0, 1, 0, 1], "split": "test", "condition": ["icl", "icl", "tv", "tv"],
         "layer": [-1, -1, 1, 1], "token_id": 1, "first_token": ["A", "A", "B", "A"],
         "answer": "", "query": "x", "answers_a": [["A"]] * 4, "answers_b": [["B"]] * 4}
    )  # fmt: skip
    write_table(path, frame, BLOCK)
    modes = {"a": "exact", "b": "exact"}
    table = score_conflicts({("a", "b"): path}, modes, {"b": sweep(1)})
    icl = table[table["condition"] == "icl"].iloc[0]
    tv = table[table["condition"] == "tv"].iloc[0]
    assert (icl["to_a"], icl["to_b"], tv["to_a"], tv["to_b"]) == (1.0, 0.0, 0.5, 0.5)
    assert bool(tv["is_best"]) and tv["to_b_low"] <= 0.5 <= tv["to_b_high"]


def test_order_rows_carry_sensitivity_and_a_verdict(tmp_path):
    rows = []
    for permutation in range(3):
        for i in range(4):
            # ICL changes its answer with the order; TV never does
            rows.append((i, "icl", -1, f"A{i}" if permutation == 0 else "z"))
            rows.append((i, "tv", 1, f"A{i}"))
    frame = pd.DataFrame(rows, columns=["example_id", "condition", "layer", "first_token"])
    frame = frame.assign(split="test", token_id=1, answer=frame["first_token"])
    frame["permutation"] = np.repeat(range(3), 8).astype("int16")
    path = tmp_path / "t.parquet"
    write_table(path, frame, BLOCK)
    table = score_order({"t": path}, {"t": document("t")}, "first_token")
    sensitivity = table[(table["metric"] == "sensitivity") & (table["task"] == "t")]
    by_condition = sensitivity.set_index("condition")["value"]
    assert by_condition["tv"] == 0 and by_condition["icl"] > 0
    assert by_condition["tv_minus_icl"] < 0
    verdict = sensitivity.loc[sensitivity["condition"] == "tv_minus_icl", "verdict"].iloc[0]
    assert verdict == "yes"


@pytest.mark.parametrize("other_correct", [True, False])
def test_prompt_format_sets_both_spacings_side_by_side(tmp_path, other_correct):
    path = tmp_path / "t.parquet"
    answer = "A0" if other_correct else "no"
    frame = pd.DataFrame(
        {"example_id": [0], "split": "test", "condition": ["icl"], "layer": [-1],
         "token_id": 1, "first_token": [answer], "answer": [answer], "spacing": ["none"],
         "query": ["q0"], "answers": [["A0"]]}
    )  # fmt: skip
    write_table(path, frame, BLOCK)
    main = pd.DataFrame(
        {"example_id": [0], "condition": ["icl"], "layer": [-1], "correct_first": [True]}
    )
    table = score_prompt_format({"t": path}, {"t": document("t")}, {"t": main})
    assert set(table["spacing"]) == {"none", "leading"}
    other = table[~table["is_default"]].iloc[0]
    assert other["accuracy"] == (1.0 if other_correct else 0.0)
