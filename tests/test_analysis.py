"""The analyses on small hand-made frames whose answers are known."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from taskvectors.analysis import (
    best_layer,
    conflict_rates,
    cosine_distances,
    display_token,
    geometry_layer,
    match_paper_model,
    mean_layer_curve,
    model_means,
    order_sensitivity,
    paper_conflicts,
    paper_filter,
    paper_layer_curves,
    paper_model_means,
    paper_task_results,
    prediction_column,
    scoring_mode,
    short_task_name,
    takeaway,
    task_family,
    top_tokens_at,
    tsne_embedding,
    tsne_perplexity,
)
from taskvectors.analysis.reference import PAPER_TASK_NAMES
from taskvectors.scoring import is_correct

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"


# -- common ----------------------------------------------------------------------------------


def test_prediction_column_follows_the_answer_setting():
    assert prediction_column({}) == "first_token"
    assert prediction_column({"evaluation": {}}) == "first_token"
    assert prediction_column({"evaluation": {"answer": "first_token"}}) == "first_token"
    assert prediction_column({"evaluation": {"answer": "greedy"}}) == "answer"
    with pytest.raises(ValueError, match="unknown answer mode .beam."):
        prediction_column({"evaluation": {"answer": "beam"}})


def test_task_family_from_category_or_prefix():
    assert task_family("algorithmic_next_letter") == "algorithmic"
    assert task_family("knowledge_country_capital", None) == "knowledge"
    assert task_family("my_task") == "custom"
    assert task_family("translation") == "custom"  # a bare family word is not a prefix
    assert task_family("my_task", "Arithmetic") == "arithmetic"  # a user task's own family
    assert task_family("algorithmic_next_letter", float("nan")) == "algorithmic"


def test_short_task_name():
    assert short_task_name("algorithmic_next_letter") == "next letter"
    assert short_task_name("translation_en_fr") == "en fr"
    assert short_task_name("my_task") == "my_task"


def test_scoring_mode_prefers_the_registry_entry():
    assert scoring_mode("translation_fr_en") == "any_of"
    assert scoring_mode("knowledge_country_capital") == "prefix"
    assert scoring_mode("algorithmic_next_letter") == "exact"
    assert scoring_mode("linguistic_antonyms", {"scoring": "exact"}) == "exact"
    assert scoring_mode("my_task", SimpleNamespace(scoring="prefix")) == "prefix"


def test_family_defaults_agree_with_the_registry():
    from taskvectors.tasks.registry import load_registry

    registry = load_registry(Path(__file__).resolve().parents[1] / "data")
    assert {name: scoring_mode(name) for name in registry} == {
        name: spec.scoring for name, spec in registry.items()
    }


# -- headline --------------------------------------------------------------------------------


def _summary() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["m1", "m1", "m1", "m2", "m2"],
            "task": ["a", "b", "c", "a", "b"],
            "baseline": [0.10, 0.30, 0.85, 0.20, 0.60],
            "icl": [0.90, 0.50, 0.95, 0.80, 0.79],
            "tv": [0.70, 0.40, 0.90, 0.40, 0.70],
        }
    )


def test_paper_filter_drops_pairs_below_the_gain():
    kept, dropped = paper_filter(_summary())
    # m1/b gains exactly 0.20 (0.5 - 0.3 is 0.19999... in floats) and is kept; m1/c gains 0.10 and
    # m2/b 0.19: dropped.
    assert list(zip(kept.model, kept.task, strict=True)) == [("m1", "a"), ("m1", "b"), ("m2", "a")]
    assert list(zip(dropped.model, dropped.task, strict=True)) == [("m1", "c"), ("m2", "b")]
    assert len(kept) + len(dropped) == 5


def test_model_means_ratio_of_means_in_given_order():
    kept, _ = paper_filter(_summary())
    means = model_means(kept, model_order=["m2", "m1"]).set_index("model")
    assert list(means.index) == ["m2", "m1"]
    assert means.loc["m1", "n_tasks"] == 2
    assert means.loc["m1", "tv"] == pytest.approx(0.55)
    assert means.loc["m1", "icl"] == pytest.approx(0.70)
    assert means.loc["m1", "tv_icl_ratio"] == pytest.approx(0.55 / 0.70)
    assert means.loc["m2", "tv_icl_ratio"] == pytest.approx(0.5)
    assert model_means(kept.iloc[:0]).empty


def test_takeaway_line():
    means = model_means(paper_filter(_summary())[0]).set_index("model")
    line = takeaway("m1", means.loc["m1"], 3)
    assert line == (
        "m1: task vectors recover 79% of ICL accuracy (0.55 vs 0.70, baseline 0.20) "
        "over 2 of 3 tasks"
    )
    assert "no task passes the paper's filter" in takeaway("m3", None, 4)


# -- layers ----------------------------------------------------------------------------------


def _sweep(dev: list[float], test: list[float] | None = None, is_best=None) -> pd.DataFrame:
    test = test or [0.0] * len(dev)
    frame = pd.DataFrame(
        {
            "split": ["dev"] * len(dev) + ["test"] * len(test),
            "layer": list(range(len(dev))) + list(range(len(test))),
            "accuracy": dev + test,
        }
    )
    if is_best is not None:
        frame["is_best"] = is_best
    return frame


def test_best_layer_is_the_earliest_dev_argmax():
    assert best_layer(_sweep([0.1, 0.6, 0.3, 0.6], test=[0.9, 0.0, 0.0, 0.0])) == 1
    assert best_layer(_sweep([0.5, 0.5, 0.5])) == 0
    assert best_layer(_sweep([0.1, 0.2, 0.3]), split="test") == 0


def test_best_layer_uses_the_pipelines_mark_when_unambiguous():
    marked = [False, False, True, False, False, False, False, False]
    assert best_layer(_sweep([0.1, 0.6, 0.3, 0.6], is_best=marked)) == 2
    two = [True, True, False, False] + [False] * 4
    assert best_layer(_sweep([0.1, 0.6, 0.3, 0.6], is_best=two)) == 1


def test_geometry_layer_maximises_the_mean_over_tasks():
    a = _sweep([0.2, 0.9, 0.1]).assign(task="a")
    b = _sweep([0.6, 0.1, 0.9]).assign(task="b")
    # means 0.4, 0.5, 0.5 -> layer 1 (earliest of the tie)
    assert geometry_layer(pd.concat([a, b])) == 1


def test_mean_layer_curve_normalises_depth():
    a = _sweep([0.2, 0.4, 0.6]).assign(task="a", model="m")
    b = _sweep([0.4, 0.6, 0.8]).assign(task="b", model="m")
    curve = mean_layer_curve(pd.concat([a, b]), {"m": 3})
    assert curve["accuracy"].tolist() == pytest.approx([0.3, 0.5, 0.7])
    assert curve["depth"].tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert curve["n_tasks"].tolist() == [2, 2, 2]
    assert mean_layer_curve(pd.concat([a, b]))["depth"].tolist() == pytest.approx([0, 0.5, 1])


# -- geometry --------------------------------------------------------------------------------


def test_cosine_distances_within_and_across():
    vectors = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    within, across = cosine_distances(vectors, ["a", "a", "b", "b"])
    assert sorted(within) == pytest.approx([0.0, 0.0])
    assert sorted(across) == pytest.approx([1.0, 1.0, 1.0, 1.0])
    opposite = cosine_distances(np.array([[1.0, 1.0], [-1.0, -1.0]]), ["a", "b"])[1]
    assert opposite == pytest.approx([2.0])
    with pytest.raises(ValueError):
        cosine_distances(vectors, ["a"])


def test_tsne_is_deterministic_and_adapts_perplexity():
    assert tsne_perplexity(1000) == 30
    assert tsne_perplexity(10) == 3
    assert tsne_perplexity(4) == 1
    rng = np.random.default_rng(0)
    vectors = np.concatenate([rng.normal(0, 0.1, (6, 16)), rng.normal(5, 0.1, (6, 16))])
    first, second = tsne_embedding(vectors), tsne_embedding(vectors)
    assert first.shape == (12, 2)
    np.testing.assert_allclose(first, second)
    with pytest.raises(ValueError):
        tsne_embedding(vectors[:3])


# -- conflicts -------------------------------------------------------------------------------


def test_conflict_rates_score_against_both_tasks():
    frame = pd.DataFrame(
        {
            "condition": ["icl"] * 4 + ["tv"] * 4 + ["tv"] * 4,
            "layer": [-1] * 4 + [2] * 4 + [3] * 4,
            "first_token": ["d", "d", "D", "x", "D", "D", "D", "d", "d", "d", "d", "d"],
            "answer": ["d"] * 12,
            "answers_a": [np.array(["d"])] * 12,
            "answers_b": [np.array(["D"])] * 12,
        }
    )
    rates = conflict_rates(
        frame,
        layer=2,
        column="first_token",
        mode_a="exact",
        mode_b="exact",
        is_correct=is_correct,
    ).set_index("condition")
    assert rates.loc["icl", "n"] == 4 and rates.loc["tv", "n"] == 4
    assert rates.loc["icl", "to_a"] == 0.5 and rates.loc["icl", "to_b"] == 0.25
    assert rates.loc["tv", "to_a"] == 0.25 and rates.loc["tv", "to_b"] == 0.75
    assert rates.loc["tv", "layer"] == 2
    greedy = conflict_rates(
        frame, layer=3, column="answer", mode_a="exact", mode_b="exact", is_correct=is_correct
    ).set_index("condition")
    assert greedy.loc["tv", "to_a"] == 1.0 and greedy.loc["icl", "to_b"] == 0.0


def test_conflict_rates_use_each_tasks_mode():
    frame = pd.DataFrame(
        {
            "condition": ["tv", "tv"],
            "layer": [0, 0],
            "first_token": ["Par", "Ber"],
            "answers_a": [["Paris"], ["Berlin"]],
            "answers_b": [["Par"], ["x"]],
        }
    )
    rates = conflict_rates(
        frame, layer=0, column="first_token", mode_a="prefix", mode_b="exact", is_correct=is_correct
    ).set_index("condition")
    assert rates.loc["tv", "to_a"] == 1.0 and rates.loc["tv", "to_b"] == 0.5
    assert rates.loc["icl", "n"] == 0 and np.isnan(rates.loc["icl", "to_a"])


# -- order -----------------------------------------------------------------------------------


def test_order_sensitivity_agreement_and_spread():
    # 3 examples x 3 permutations. Example 0 always "a"; example 1 "b","b","c"; example 2 all
    # different. Correct answers: 0 -> a, 1 -> b, 2 -> x.
    predictions = {0: ["a", "a", "a"], 1: ["b", "b", "c"], 2: ["x", "y", "z"]}
    truth = {0: "a", 1: "b", 2: "x"}
    rows = [
        {"example_id": e, "permutation": p, "prediction": preds[p], "correct": preds[p] == truth[e]}
        for e, preds in predictions.items()
        for p in range(3)
    ]
    stats = order_sensitivity(pd.DataFrame(rows))
    assert stats["n_examples"] == 3 and stats["n_permutations"] == 3
    assert stats["agreement"] == pytest.approx(1 / 3)
    # pairwise: example 0 -> 3/3, example 1 -> 1/3 (only (0,1) agree), example 2 -> 0/3
    assert stats["pairwise_agreement"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    # per-permutation accuracy: p0 3/3, p1 2/3, p2 1/3
    assert stats["accuracy_max"] == pytest.approx(1.0)
    assert stats["accuracy_min"] == pytest.approx(1 / 3)
    assert stats["spread"] == pytest.approx(2 / 3)
    assert stats["accuracy_std"] == pytest.approx(np.std([1, 2 / 3, 1 / 3]))
    assert stats["accuracy"] == pytest.approx(6 / 9)


def test_order_sensitivity_of_nothing_is_nan():
    stats = order_sensitivity(
        pd.DataFrame(columns=["example_id", "permutation", "prediction", "correct"])
    )
    assert stats["n_examples"] == 0 and np.isnan(stats["agreement"])


# -- tokens ----------------------------------------------------------------------------------


def test_top_tokens_at_a_layer_in_rank_order():
    frame = pd.DataFrame(
        {"layer": [0, 0, 1, 1, 1], "rank": [1, 0, 2, 0, 1], "token": ["x", "y", " c", " a", "b"]}
    )
    assert top_tokens_at(frame, 1) == [" a", "b", " c"]
    assert top_tokens_at(frame, 1, k=2) == [" a", "b"]
    assert top_tokens_at(frame, 7) == []
    assert display_token(" Paris") == "␣Paris"
    assert display_token("\n") == "⏎"
    assert display_token("") == "∅"


# -- reference -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("gpt-j",), "GPT-J 6B"),
        (("EleutherAI/gpt-j-6b",), "GPT-J 6B"),
        (("pythia-6.9b",), "Pythia 6.9B"),
        (("my-alias", "EleutherAI/pythia-2.8b"), "Pythia 2.8B"),
        (("huggyllama/llama-7b",), "LLaMA 7B"),
        (("llama-33b",), "LLaMA 30B"),
        (("pythia-1.4b",), None),
        (("pythia-6.9b-deduped",), None),
        (("meta-llama/Llama-2-7b-hf",), None),
        (("TinyLlama-1.1B",), None),
        (("gemma-3-270m", None), None),
    ],
)
def test_match_paper_model(names, expected):
    assert match_paper_model(*names) == expected


def test_paper_means_reproduce_the_published_table():
    reference = pd.read_csv(REFERENCE / "hendel2023_main_results.csv")
    means = paper_model_means(reference).set_index("model").round(3)
    assert means.loc["GPT-J 6B", ["baseline", "tv", "icl"]].tolist() == [0.119, 0.679, 0.814]
    assert means.loc["LLaMA 7B", "n_tasks"] == 17  # list_first dropped (baseline 0.87)
    assert means.loc["LLaMA 13B", "tv_icl_ratio"] == 0.914
    results = paper_task_results(reference)
    assert set(results["task"]) == set(PAPER_TASK_NAMES)
    assert len(results) == 126


def test_paper_layer_curves_peak_where_published():
    per_task, mean = paper_layer_curves(
        pd.read_csv(REFERENCE / "hendel2023_dev_accuracy_by_layer.csv")
    )
    peaks = mean.loc[mean.groupby("paper_model")["accuracy"].idxmax()].set_index("paper_model")
    assert peaks.loc["GPT-J 6B", "layer"] == 13
    assert peaks.loc["LLaMA 7B", "layer"] == 14
    assert peaks.loc["Pythia 6.9B", "layer"] == 13
    assert per_task.groupby("paper_model")["layer"].max().to_dict() == {
        "GPT-J 6B": 27,
        "LLaMA 7B": 31,
        "Pythia 6.9B": 31,
    }
    assert per_task["depth"].between(0, 1).all()


def test_paper_conflicts_table():
    table = paper_conflicts()
    assert len(table) == 5
    row = table.set_index(["task_a", "task_b"]).loc[("translation_en_es", "translation_en_fr")]
    assert row["tv_to_b"] == 0.07
