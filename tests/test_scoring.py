"""Scoring modes: exact, any_of and prefix, case-sensitive, on the prediction's first line."""

from __future__ import annotations

import numpy as np
import pytest

from taskvectors.scoring.answers import SCORING_MODES, first_line, is_correct, is_correct_strict


def test_first_line_takes_the_text_before_the_first_newline_stripped() -> None:
    assert first_line(" Paris\nexample:x->") == "Paris"
    assert first_line("\nParis") == ""
    assert first_line("  ") == ""
    assert first_line("a b ") == "a b"


@pytest.mark.parametrize("mode", SCORING_MODES)
def test_case_matters_in_every_mode(mode) -> None:
    assert is_correct("A", ["A"], mode)
    assert not is_correct("a", ["A"], mode)
    assert not is_correct("Paris", ["paris"], mode)


def test_exact_compares_with_the_canonical_answer_only() -> None:
    assert is_correct(" slow\n", ["slow", "sluggish"], "exact")
    assert not is_correct("sluggish", ["slow", "sluggish"], "exact")
    assert not is_correct("slo", ["slow"], "exact")


def test_any_of_accepts_every_listed_answer() -> None:
    assert is_correct("sluggish", ["slow", "sluggish"], "any_of")
    assert is_correct(" slow", ["slow", "sluggish"], "any_of")
    assert not is_correct("fast", ["slow", "sluggish"], "any_of")


def test_prefix_works_either_way_and_needs_non_empty_strings() -> None:
    assert is_correct("Par", ["Paris"], "prefix")  # a first token of the answer
    assert is_correct("Paris, France", ["Paris"], "prefix")  # a longer greedy answer
    assert is_correct("Rom", ["Paris", "Rome"], "prefix")  # any accepted answer
    assert not is_correct("", ["Paris"], "prefix")
    assert not is_correct("\nParis", ["Paris"], "prefix")
    assert not is_correct("Lyon", ["Paris"], "prefix")


def test_answers_are_stripped_before_comparison() -> None:
    assert is_correct("Paris", [" Paris"], "exact")


def test_unknown_mode_and_empty_answers_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown scoring mode 'wordnet'"):
        is_correct("a", ["a"], "wordnet")
    with pytest.raises(ValueError, match="non-empty"):
        is_correct("a", [], "exact")
    with pytest.raises(ValueError, match="not the string 'a'"):
        is_correct("a", "a", "exact")


def test_answers_may_be_a_numpy_array_as_read_from_parquet() -> None:
    answers = np.array(["slow", "sluggish"], dtype=object)
    assert is_correct("sluggish", answers, "any_of")
    assert not is_correct("sluggish", answers, "exact")


def test_strict_score_needs_the_answers_own_first_token() -> None:
    # "Belmopan" starts with token 600 in context; the one-letter token 33 ("B") passes the
    # paper's prefix rule but not the strict one
    assert is_correct("B", ["Belmopan"], "prefix")
    assert not is_correct_strict(33, [600])
    assert is_correct_strict(600, [600])
    assert is_correct_strict(7, [600, 7])  # any accepted answer's first token
    assert is_correct_strict(np.int64(7), np.array([600, 7]))  # as read back from Parquet


def test_strict_score_never_matches_an_answer_without_a_token() -> None:
    assert not is_correct_strict(-1, [-1])
    with pytest.raises(ValueError, match="non-empty"):
        is_correct_strict(3, [])
    with pytest.raises(ValueError, match="integer token id"):
        is_correct_strict("3", [3])
