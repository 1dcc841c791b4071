"""Deciding whether a model's prediction answers a query, as the paper scores it.

Predictions are stored raw; this is the one place that turns them into correct/incorrect, so a
change here never reruns a model stage. Comparison is case-sensitive everywhere (``to_upper``
would be meaningless otherwise). Modes:

* ``exact``: the prediction's first line equals the canonical answer;
* ``any_of``: it equals any accepted answer (translation synonyms, antonym alternatives);
* ``prefix``: it and an accepted answer are both non-empty and one is a prefix of the other, which
  is how the paper scores knowledge tasks from a first token (``Par`` for ``Paris``, or a longer
  greedy answer ``Paris, France``).

The prefix rule is kept for comparability with the paper, but it is loose on a first token: a
one-letter token scores (``B`` for ``Belmopan``, ``N`` for ``Niamey``), and some tokenizers start
many names with one. The **strict first-token score** (:func:`is_correct_strict`) sits beside it:
the predicted token id must equal an accepted answer's own first token under the model's
tokenizer, in context. The prompt file records those ids per example
(``answer_first_token_ids``, one per accepted answer, ``-1`` for an answer that merges with the
prompt's last token and so has no first token of its own); the leading space an answer's token
carries in spaced prompts is part of the id, so nothing is stripped. For ``exact`` tasks pass only
the canonical answer's id (the first).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

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


def is_correct_strict(token_id: int, answer_first_token_ids: Sequence[int]) -> bool:
    """Whether the predicted first token is an accepted answer's own first token (in context).

    ``answer_first_token_ids`` comes from the prompt file (``-1`` entries never match).
    """
    if isinstance(token_id, bool) or not isinstance(token_id, Integral):
        raise ValueError(f"token_id must be an integer token id, got {token_id!r}")
    ids = [int(i) for i in answer_first_token_ids]  # also numpy arrays from Parquet
    if not ids:
        raise ValueError("answer_first_token_ids must be a non-empty sequence, got none")
    return token_id >= 0 and int(token_id) in ids
