"""Deciding whether a model's prediction answers a query, as the paper scores it.

Predictions are stored raw; this is the one place that turns them into correct/incorrect, so a
change here never reruns a model stage. Comparison is case-sensitive everywhere (``to_upper``
would be meaningless otherwise). Modes:

* ``exact``: the prediction's first line equals the canonical answer;
* ``any_of``: it equals any accepted answer (translation synonyms, antonym alternatives);
* ``prefix``: it and an accepted answer are both non-empty and one is a prefix of the other, which
  is how the paper scores knowledge tasks from a first token (``Par`` for ``Paris``, or a longer
  greedy answer ``Paris, France``).
"""

from __future__ import annotations

from collections.abc import Sequence

SCORING_MODES = ("exact", "any_of", "prefix")
# Which predictions-table column is scored: the first generated token (the paper) or the greedy
# multi-token answer (``evaluation.answer: greedy``).
ANSWER_COLUMNS = {"first_token": "first_token", "greedy": "answer"}


def answer_column(answer_mode: str) -> str:
    """The predictions column scored under ``answer_mode`` (``first_token`` or ``greedy``)."""
    if answer_mode not in ANSWER_COLUMNS:
        raise ValueError(f"unknown answer mode {answer_mode!r}; choose {sorted(ANSWER_COLUMNS)}")
    return ANSWER_COLUMNS[answer_mode]


def first_line(text: str) -> str:
    """The text up to the first newline, stripped of surrounding whitespace."""
    return text.split("\n", 1)[0].strip()


def is_correct(prediction: str, answers: Sequence[str], mode: str) -> bool:
    """Whether ``prediction`` answers correctly under ``mode`` (``answers`` canonical first)."""
    if mode not in SCORING_MODES:
        raise ValueError(
            f"unknown scoring mode {mode!r}; expected one of {', '.join(SCORING_MODES)}"
        )
    if isinstance(answers, str):
        raise ValueError(f"answers must be a sequence of strings, not the string {answers!r}")
    accepted = [str(answer).strip() for answer in answers]  # also numpy arrays from Parquet
    if not accepted:
        raise ValueError("answers must be a non-empty sequence of strings, got none")
    predicted = first_line(prediction)
    if mode == "exact":
        return predicted == accepted[0]
    if mode == "any_of":
        return predicted in accepted
    return bool(predicted) and any(
        answer and (predicted.startswith(answer) or answer.startswith(predicted))
        for answer in accepted
    )
