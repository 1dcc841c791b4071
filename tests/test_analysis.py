"""The analyses' statistics and the report's helpers on small hand-made frames whose answers are
known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from taskvectors.analyses.geometry.score import geometry_layer
from taskvectors.analyses.geometry.statistics import (
    SHARED_INPUT_PAIRS,
    centre_vectors,
    cosine_distance_matrix,
    cosine_distances,
    geometry_statistics,
    nearest_neighbour_accuracy,
    nearest_neighbours,
    permutation_null,
    shared_input_pairs,
    silhouette,
    tsne_embedding,
    tsne_perplexity,
)
from taskvectors.analyses.order.statistics import (
    example_agreement,
    order_comparison,
    order_matrices,
    order_table,
    order_verdict,
)
from taskvectors.report.headline import model_means, paper_filter, takeaway
from taskvectors.report.names import display_token, short_task_name, task_family
from taskvectors.report.reference import (
    PAPER_TASK_NAMES,
    match_paper_model,
    paper_conflicts,
    paper_layer_curves,
    paper_model_means,
    paper_task_results,
)
from taskvectors.results.files import best_layer
from taskvectors.scoring.stats import Interval

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"


# -- common ----------------------------------------------------------------------------------


def test_task_family_from_category_or_prefix():
    assert task_family("algorithmic_next_letter") == "algorithmic"
    assert task_family("knowledge_country_capital", None) == "knowledge"
    assert task_family("novel_letter_shift") == "novel"
    assert short_task_name("novel_letter_shift") == "letter shift"
    assert task_family("my_task") == "custom"
    assert task_family("translation") == "custom"  # a bare family word is not a prefix
    assert task_family("my_task", "Arithmetic") == "arithmetic"  # a user task's own family
    assert task_family("algorithmic_next_letter", float("nan")) == "algorithmic"


def test_short_task_name():
    assert short_task_name("algorithmic_next_letter") == "next letter"
    assert short_task_name("translation_en_fr") == "en fr"
    assert short_task_name("my_task") == "my_task"


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


def test_best_layer_is_the_layer_evaluate_marked():
    marked = [False, False, True, False, False, False, False, False]
    assert best_layer(_sweep([0.1, 0.6, 0.3, 0.6], is_best=marked)) == 2
    assert best_layer(_sweep([0.1, 0.6, 0.3, 0.6], is_best=[False] * 8)) is None


def test_geometry_layer_maximises_the_mean_over_tasks():
    a = _sweep([0.2, 0.9, 0.1]).assign(task="a")
    b = _sweep([0.6, 0.1, 0.9]).assign(task="b")
    # means 0.4, 0.5, 0.5 -> layer 1 (earliest of the tie)
    assert geometry_layer({"a": a, "b": b}) == 1


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


def test_centring_removes_the_shared_direction():
    # Two tasks along x and y, both riding on a large shared offset: raw cosines are all close
    # to 1, centred ones separate the tasks.
    offset = np.array([100.0, 100.0, 0.0])
    vectors = np.array([[1.0, 0, 0], [2.0, 0, 0], [0, 1.0, 0], [0, 2.0, 0]]) + offset
    labels = ["a", "a", "b", "b"]
    raw_within, raw_across = cosine_distances(vectors, labels)
    within, across = cosine_distances(centre_vectors(vectors), labels)
    assert raw_across.max() < 1e-3
    assert within.mean() < 0.3 and across.mean() > 1.5
    np.testing.assert_allclose(centre_vectors(vectors).mean(axis=0), 0, atol=1e-12)
    assert raw_within.shape == within.shape == (2,)


def test_nearest_neighbours_leave_one_out():
    distance = np.array([[0.0, 0.1, 0.5], [0.1, 0.0, 0.2], [0.5, 0.2, 0.0]])
    assert nearest_neighbours(distance).tolist() == [1, 0, 1]
    assert nearest_neighbour_accuracy(distance, np.array([0, 0, 1])) == pytest.approx(2 / 3)
    ties = np.zeros((3, 3))
    assert nearest_neighbours(ties).tolist() == [1, 0, 0]  # lowest index on ties


def test_silhouette_matches_sklearn():
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(30, 8)) + np.repeat(rng.normal(size=(3, 8)), 10, axis=0)
    codes = np.repeat([0, 1, 2], 10)
    codes[29] = 3  # a singleton label scores 0, as in sklearn
    distance = cosine_distance_matrix(vectors)
    np.fill_diagonal(distance, 0.0)
    expected = silhouette_score(distance, codes, metric="precomputed")
    assert silhouette(distance, codes) == pytest.approx(expected)
    assert np.isnan(silhouette(distance, np.zeros(30, dtype=int)))


def test_permutation_null_p_value():
    codes = np.array([0, 0, 1, 1])
    test = permutation_null(lambda c: float(c[0] == c[1]), codes, n_permutations=99, seed=3)
    assert test.value == 1.0
    # P(first two shuffled labels agree) = 1/3, so about a third of the null reaches 1.
    assert test.null_mean == pytest.approx(1 / 3, abs=0.12)
    assert test.null_p95 == 1.0
    assert test.p_value == pytest.approx((1 + test.null_mean * 99) / 100)
    again = permutation_null(lambda c: float(c[0] == c[1]), codes, n_permutations=99, seed=3)
    assert again == test


def _clustered(tasks: list[str], n: int, spread: float, seed: int) -> tuple[np.ndarray, list]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(tasks), 32))
    vectors = np.concatenate([c + spread * rng.normal(size=(n, 32)) for c in centres])
    return vectors + 50.0, [t for t in tasks for _ in range(n)]  # shared offset


def test_geometry_statistics_find_clusters_and_not_noise():
    tasks = ["algorithmic_next_letter", "algorithmic_prev_letter", "translation_en_fr", "x"]
    vectors, labels = _clustered(tasks, 12, 0.3, seed=0)
    table = geometry_statistics(vectors, labels, n_permutations=99, seed=1)
    assert list(table.columns) == [
        "scope",
        "task_a",
        "task_b",
        "n_vectors",
        "n_tasks",
        "statistic",
        "value",
        "null_mean",
        "null_p95",
        "p_value",
        "n_permutations",
        "within_mean",
        "across_mean",
    ]
    pair = "algorithmic_next_letter|algorithmic_prev_letter"
    assert table["scope"].unique().tolist() == ["all", pair]  # en_es absent: no translation pair
    rows = table.set_index(["scope", "statistic"])
    assert rows.loc[("all", "nn_accuracy"), "value"] == 1.0
    chance = 11 / 47  # a random other vector shares the label: (12 − 1) / (48 − 1)
    assert rows.loc[("all", "nn_accuracy"), "null_mean"] == pytest.approx(chance, abs=0.1)
    assert rows.loc[("all", "nn_accuracy"), "p_value"] == pytest.approx(0.01)
    assert rows.loc[(pair, "silhouette"), "value"] > rows.loc[(pair, "silhouette"), "null_p95"]
    assert rows.loc[(pair, "nn_accuracy"), "n_vectors"] == 24
    assert (
        rows.loc[("all", "silhouette"), "within_mean"]
        < rows.loc[("all", "silhouette"), "across_mean"]
    )
    # Pure noise: labels carry nothing, so the statistic sits inside its null.
    noise = geometry_statistics(
        np.random.default_rng(2).normal(size=(48, 32)), labels, n_permutations=99, seed=1
    ).set_index(["scope", "statistic"])
    assert noise.loc[("all", "nn_accuracy"), "p_value"] > 0.05
    assert noise.loc[("all", "silhouette"), "p_value"] > 0.05


def test_shared_input_pairs_are_filtered_to_present_tasks():
    assert shared_input_pairs(["translation_en_fr", "translation_en_es", "x"]) == [
        ("translation_en_fr", "translation_en_es")
    ]
    assert shared_input_pairs([]) == []
    from taskvectors.tasks.registry import load_registry

    registry = load_registry(Path(__file__).resolve().parents[1] / "data")
    assert {task for pair in SHARED_INPUT_PAIRS for task in pair} <= set(registry)


# -- conflicts -------------------------------------------------------------------------------


# -- order -----------------------------------------------------------------------------------


def _order_frame(task: str, condition: str, predictions: dict, truth: dict) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "task": task,
                "condition": condition,
                "example_id": e,
                "permutation": p,
                "prediction": preds[p],
                "correct": preds[p] == truth[e],
            }
            for e, preds in predictions.items()
            for p in range(len(preds))
        ]
    )


def test_example_agreement_counts_against_the_first_order():
    predictions = np.array([["a", "a", "a"], ["b", "b", "c"], ["x", "y", "x"]], dtype=object)
    agreement = example_agreement(predictions)
    assert agreement["agreement_first"].tolist() == pytest.approx([1, 0.5, 0.5])
    assert agreement["agreement_all"].tolist() == [1, 0, 0]
    assert agreement["pairwise_agreement"].tolist() == pytest.approx([1, 1 / 3, 1 / 3])
    single = example_agreement(np.array([["a"]], dtype=object))
    assert np.isnan(single["pairwise_agreement"][0]) and single["agreement_all"][0] == 1


def test_order_matrices_sort_and_refuse_gaps():
    frame = _order_frame("t", "icl", {5: ["a", "b"], 2: ["c", "c"]}, {5: "a", 2: "c"})
    ids, predicted, correct = order_matrices(frame.iloc[::-1])
    assert ids.tolist() == [2, 5] and predicted.tolist() == [["c", "c"], ["a", "b"]]
    assert correct.tolist() == [[True, True], [True, False]]
    with pytest.raises(ValueError, match="every permutation"):
        order_matrices(frame.iloc[1:])
    with pytest.raises(ValueError, match="one layer"):
        order_matrices(pd.concat([frame, frame]))


def test_order_table_values_and_intervals():
    predictions = {0: ["a", "a", "a"], 1: ["b", "b", "c"], 2: ["x", "y", "z"]}
    truth = {0: "a", 1: "b", 2: "x"}
    frame = _order_frame("t", "icl", predictions, truth)
    table = order_table(frame, seed=1)
    assert table["task"].tolist() == ["t", "overall"]
    row = table.iloc[0]
    assert row["n_examples"] == 3 and row["n_permutations"] == 3
    assert row["agreement_first"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert row["agreement_all"] == pytest.approx(1 / 3)
    assert row["pairwise_agreement"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert row["accuracy_mean"] == pytest.approx(6 / 9)
    assert row["accuracy_range"] == pytest.approx(2 / 3)
    assert row["accuracy_std"] == pytest.approx(np.std([1, 2 / 3, 1 / 3]))
    for metric in ("agreement_first", "pairwise_agreement", "accuracy_range"):
        assert row[f"{metric}_low"] <= row[metric] <= row[f"{metric}_high"]
    assert row["agreement_all_low"] == 0.0 and row["agreement_all_high"] == 1.0
    overall = table.iloc[1].drop(["task", "n_examples"])  # one task: overall equals it
    pd.testing.assert_series_equal(overall, row.drop(["task", "n_examples"]), check_names=False)


def _stable_tv_unstable_icl(n: int, seed: int) -> pd.DataFrame:
    """TV gives the same answer in every order; ICL changes its answer in a third of orders."""
    rng = np.random.default_rng(seed)
    truth = {e: "y" for e in range(n)}
    tv = {e: ["y"] * 5 for e in range(n)}
    icl = {e: ["y" if rng.random() > 0.33 else "n" for _ in range(5)] for e in range(n)}
    return pd.concat([_order_frame("t", "tv", tv, truth), _order_frame("t", "icl", icl, truth)])


def test_order_comparison_says_yes_when_tv_is_clearly_steadier():
    frame = _stable_tv_unstable_icl(50, seed=0)
    table = order_comparison(frame, seed=3).set_index("task")
    row = table.loc["t"]
    assert row["sensitivity_tv"] == 0.0 and row["sensitivity_icl"] > 0.2
    assert row["tv_minus_icl"] == pytest.approx(-row["sensitivity_icl"])
    assert row["tv_minus_icl_high"] < 0 and row["verdict"] == "yes"
    assert row["verdict_text"].startswith("TV more order-invariant than ICL: yes (")
    assert table.loc["overall", "verdict"] == "yes" and table.loc["overall", "n_examples"] == 50
    # Swapping the roles turns the verdict around.
    assert order_comparison(frame, a="icl", b="tv", seed=3).loc[0, "verdict"] == "no"


def test_order_comparison_is_undetermined_when_both_behave_alike():
    frame = _stable_tv_unstable_icl(40, seed=1)
    icl = frame[frame["condition"] == "icl"]
    frame = pd.concat([icl, icl.assign(condition="tv")])
    row = order_comparison(frame, seed=3, metric="first").iloc[0]
    assert row["tv_minus_icl"] == 0.0 and row["verdict"] == "undetermined (interval crosses 0)"
    with pytest.raises(ValueError, match="unknown metric"):
        order_comparison(frame, seed=3, metric="range")


def test_order_verdict_from_an_interval():
    assert order_verdict(Interval(-0.1, -0.2, -0.01, 50)) == "yes"
    assert order_verdict(Interval(0.1, 0.01, 0.2, 50)) == "no"
    assert order_verdict(Interval(0.0, -0.1, 0.1, 50)) == "undetermined (interval crosses 0)"
    assert order_verdict(Interval(0.0, 0.0, 0.0, 50)) == "undetermined (interval crosses 0)"
    assert order_verdict(Interval(np.nan, np.nan, np.nan, 0)) == "undetermined (no data)"


# -- tokens ----------------------------------------------------------------------------------


def test_display_token_shows_whitespace():
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
