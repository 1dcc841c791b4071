"""Scoring of the recognition/learning analysis on hand-made raw tables (no model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from taskvectors.analyses import get
from taskvectors.analyses.recognition_learning.plan import conditions_of
from taskvectors.analyses.recognition_learning.score import score_recognition_learning
from taskvectors.results.storage import write_table

N = 20
LETTERS = "abcdefghijklmnopqrst"


def raw_rows(task: str, family: str, condition: str, hits: dict[str, int]) -> list[dict]:
    """``N`` test queries per method, the first ``hits[method]`` answered right (against the
    condition's target for icl/tv, the gold answer for the baseline), and a dev sweep of three
    layers whose layer 1 is best."""
    rows = []
    for i in range(N):
        gold = LETTERS[i].upper()
        target = f"L{i}" if condition == "abstract" else gold
        base = {"example_id": i, "task": task, "family": family, "condition": condition,
                "target": [target], "gold": [gold], "target_shown": i % 2 == 0,
                "scoring": "exact", "token_id": 1, "query": LETTERS[i]}  # fmt: skip
        for method, layer in (("icl", -1), ("tv", 1), ("fv", 2), ("baseline", -1)):
            if method not in hits:  # fv: only when the job had function vectors
                continue
            right = gold if method == "baseline" else target
            answer = right if i < hits[method] else "?"
            rows.append({**base, "split": "test", "method": method, "layer": layer,
                         "first_token": answer, "answer": answer})  # fmt: skip
        for layer, k in ((0, 2), (1, 5), (2, 5)):
            answer = target if i < k else "?"
            rows.append({**base, "split": "dev", "method": "tv", "layer": layer,
                         "first_token": answer, "answer": answer})  # fmt: skip
    return rows


@pytest.fixture
def scores(tmp_path) -> pd.DataFrame:
    raw = {}
    plan = {
        "algorithmic_next_letter": ("algorithmic", {
            "gold": {"icl": 18, "tv": 16, "fv": 9, "baseline": 2},
            "shuffled": {"icl": 14, "tv": 12, "fv": 5, "baseline": 2},
            "abstract": {"icl": 10, "tv": 1, "fv": 0, "baseline": 0},
        }),
        "novel_letter_shift": ("novel", {"gold": {"icl": 1, "tv": 0, "baseline": 0}}),
    }  # fmt: skip
    for task, (family, conditions) in plan.items():
        rows = [r for c, hits in conditions.items() for r in raw_rows(task, family, c, hits)]
        raw[task] = tmp_path / f"{task}.parquet"
        write_table(raw[task], pd.DataFrame(rows), {"analysis": "recognition_learning"})
    return score_recognition_learning(raw, "first_token")


def one(scores: pd.DataFrame, **keys) -> pd.Series:
    mask = np.ones(len(scores), dtype=bool)
    for column, value in keys.items():
        mask &= (scores[column] == value).to_numpy()
    rows = scores[mask]
    assert len(rows) == 1, keys
    return rows.iloc[0]


def test_the_table_has_the_declared_columns(scores):
    assert list(scores.columns) == list(get("recognition_learning").score_columns)


def test_accuracy_against_the_condition_target_and_gold_with_wilson_intervals(scores):
    icl = one(scores, task="algorithmic_next_letter", condition="abstract", method="icl",
              target="condition", metric="accuracy")  # fmt: skip
    assert icl["value"] == pytest.approx(10 / N) and icl["low"] < 0.5 < icl["high"]
    gold = one(scores, task="algorithmic_next_letter", condition="abstract", method="icl",
               target="gold", metric="accuracy")  # fmt: skip
    assert gold["value"] == 0  # the labels are never the gold letters


def test_the_best_layer_is_the_earliest_dev_argmax(scores):
    best = one(scores, task="algorithmic_next_letter", condition="gold", metric="best_layer")
    assert best["value"] == 1
    sweep = scores[(scores["metric"] == "sweep") & (scores["task"] == "algorithmic_next_letter")]
    assert len(sweep) == 3 * 3  # three layers per condition


def test_differences_against_gold_are_paired_by_query(scores):
    diff = one(scores, task="algorithmic_next_letter", condition="shuffled", method="icl",
               metric="diff_vs_gold")  # fmt: skip
    assert diff["value"] == pytest.approx((14 - 18) / N)
    assert diff["low"] <= diff["value"] <= diff["high"] and diff["n"] == N


def test_recognition_needs_shuffled_above_the_baseline(scores):
    row = one(scores, task="algorithmic_next_letter", condition="shuffled", method="icl",
              metric="above_baseline")  # fmt: skip
    assert row["value"] == pytest.approx((14 - 2) / N) and row["low"] > 0
    assert row["verdict"] == "recognition"


def test_learning_needs_abstract_or_novel_above_chance(scores):
    icl = one(scores, task="algorithmic_next_letter", condition="abstract", method="icl",
              metric="above_chance")  # fmt: skip
    assert icl["verdict"] == "learning"  # 10/20 against chance 1/20
    tv = one(scores, task="algorithmic_next_letter", condition="abstract", method="tv",
             metric="above_chance")  # fmt: skip
    assert tv["verdict"] == "no learning shown"
    novel = one(scores, task="overall", family="novel", condition="gold", method="icl",
                metric="above_chance")  # fmt: skip
    assert novel["verdict"] == "no learning shown" and novel["n"] == N


def test_pooled_rows_cover_the_familiar_tasks(scores):
    row = one(scores, task="overall", family="familiar", condition="shuffled", method="tv",
              metric="above_baseline")  # fmt: skip
    assert row["n"] == N and row["value"] == pytest.approx((12 - 2) / N)


def test_novel_tasks_run_gold_and_show_query_only_when_listed():
    settings = {"tasks": ["algorithmic_next_letter"], "conditions": ["gold", "random"],
                "novel_tasks": ["novel_letter_shift", "novel_letter_permutation"],
                "show_query": ["novel_letter_permutation"]}  # fmt: skip
    assert conditions_of("algorithmic_next_letter", settings) == ["gold", "random"]
    assert conditions_of("novel_letter_shift", settings) == ["gold"]
    assert conditions_of("novel_letter_permutation", settings) == ["gold", "show_query"]


def test_a_novel_task_above_the_baseline_is_not_called_recognition(scores):
    row = one(scores, task="novel_letter_shift", condition="gold", method="icl",
              metric="above_baseline")  # fmt: skip
    assert row["verdict"] in ("above baseline", "not above baseline")


def test_function_vector_rows_are_scored_like_the_task_vectors_at_their_layer(scores):
    accuracy = one(scores, task="algorithmic_next_letter", condition="shuffled", method="fv",
                   target="condition", metric="accuracy")  # fmt: skip
    assert accuracy["value"] == pytest.approx(5 / N) and accuracy["layer"] == 2
    assert accuracy["low"] < 5 / N < accuracy["high"]
    diff = one(scores, task="algorithmic_next_letter", condition="shuffled", method="fv",
               metric="diff_vs_gold")  # fmt: skip
    assert diff["value"] == pytest.approx((5 - 9) / N) and diff["verdict"] == "not above gold"
    pooled = one(scores, task="overall", family="familiar", condition="gold", method="fv",
                 metric="above_baseline")  # fmt: skip
    assert pooled["value"] == pytest.approx((9 - 2) / N)


def test_a_job_without_function_vectors_gives_no_fv_rows(scores):
    novel = scores[scores["task"] == "novel_letter_shift"]  # its raw rows have no fv method
    assert "fv" not in set(novel["method"]) and "fv" in set(scores["method"])
