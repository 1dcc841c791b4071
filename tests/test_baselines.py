"""The majority and copy baselines, scored by the same rule as the model's predictions."""

from __future__ import annotations

import pandas as pd
import pytest

from taskvectors.results.predictions import COLUMNS
from taskvectors.scoring.answers import is_correct
from taskvectors.scoring.baselines import baseline_predictions, majority_answer


def test_majority_is_the_most_frequent_first_answer():
    answers = [["Islam"], ["Christianity", "Catholicism"], ["Christianity"], ["Judaism"]]
    assert majority_answer(answers) == "Christianity"
    # only the canonical (first) answer counts: "Islam" is listed twice but first once
    assert majority_answer([["Islam"], ["Judaism", "Islam"], ["Judaism"]]) == "Judaism"
    assert majority_answer([[" Paris "], ["Paris"], ["Rome"]]) == "Paris"  # compared stripped


def test_majority_ties_go_to_the_smallest_string_whatever_the_order():
    tied = [["b"], ["a"], ["c"], ["b"], ["a"]]
    assert majority_answer(tied) == "a"
    assert majority_answer(list(reversed(tied))) == "a"
    assert majority_answer([["Z"], ["a"]]) == "Z"  # code-point order: uppercase first


def test_majority_refuses_empty_input():
    with pytest.raises(ValueError):
        majority_answer([])
    with pytest.raises(ValueError):
        majority_answer([["a"], []])
    with pytest.raises(ValueError):
        majority_answer(["ab"])  # a bare string is not a list of answers


def _queries() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "example_id": [3, 1, 2],
            "split": ["test"] * 3,
            "query": ["put", "go", "Mexico"],
            "answers": [["put"], ["went"], ["Mexico City"]],
        }
    )


def test_baseline_predictions_follow_the_predictions_schema():
    table = baseline_predictions(_queries(), "went")
    assert tuple(table.columns) == COLUMNS
    assert table["condition"].tolist() == ["majority"] * 3 + ["copy"] * 3
    assert table["example_id"].tolist() == [3, 1, 2, 3, 1, 2]
    assert (table["layer"] == -1).all() and (table["token_id"] == -1).all()
    assert table["answer"].tolist() == ["went"] * 3 + ["put", "go", "Mexico"]
    assert table["first_token"].tolist() == table["answer"].tolist()
    assert str(table["example_id"].dtype) == "int32" and str(table["layer"].dtype) == "int16"
    with pytest.raises(ValueError, match="query"):
        baseline_predictions(_queries().drop(columns="query"), "went")


def _accuracy(table: pd.DataFrame, queries: pd.DataFrame, mode: str, column: str) -> dict:
    merged = table.merge(queries, on=["example_id", "split"], validate="many_to_one")
    merged["correct"] = [
        is_correct(p, a, mode) for p, a in zip(merged[column], merged["answers"], strict=True)
    ]
    return merged.groupby("condition")["correct"].mean().to_dict()


def test_baselines_score_like_the_model_in_each_mode():
    queries = _queries()
    table = baseline_predictions(queries, majority_answer(queries["answers"]))
    assert majority_answer(queries["answers"]) == "Mexico City"  # three-way tie, smallest string
    exact = _accuracy(table, queries, "exact", "first_token")
    # copy is right on "put", majority on "Mexico City"
    assert exact == {"copy": pytest.approx(1 / 3), "majority": pytest.approx(1 / 3)}
    # Under the knowledge tasks' prefix rule the copied "Mexico" also answers "Mexico City".
    prefix = _accuracy(table, queries, "prefix", "answer")
    assert prefix == {"copy": pytest.approx(2 / 3), "majority": pytest.approx(1 / 3)}


def test_a_strict_first_token_can_be_supplied():
    table = baseline_predictions(_queries(), "went", first_token=lambda text: text[:2])
    assert table["first_token"].tolist() == ["we"] * 3 + ["pu", "go", "Me"]
    assert table["answer"].tolist()[3:] == ["put", "go", "Mexico"]
