"""Two model-free baselines the paper lacks: answer the majority, or copy the query.

An accuracy means little until it is set against what a trivial rule would score on the same
queries. The zero-shot baseline measures the model without demonstrations; these two measure no
model at all:

* ``majority``: always the most frequent answer of the task's pairs (about half of
  ``location_religion`` is one answer, so 0.5 there is no achievement);
* ``copy``: the query itself (right for past forms such as ``put → put``, for capitals named
  like their country, and for ``to_upper`` never).

They are written as rows of the predictions table (``taskvectors.results.predictions``:
``example_id, split, condition, layer, token_id, first_token, answer``) so that the evaluate stage
scores them with ``scoring.is_correct`` exactly like the model's conditions, in every scoring mode.

What "first token" means for a rule that outputs whole strings: by default both ``first_token``
and ``answer`` hold the whole prediction string. For the single-token-filtered tasks (exact and
any-of scoring) every accepted answer is one token in context, so a whole-string match is what a
model emitting that one token would score. For prefix-scored knowledge tasks the whole string is
accepted whenever the model's first token of it would be (the prefix rule runs both ways), so the
baseline is scored as a model that would go on to write the full answer. A strict first-token
score can pass ``first_token=`` a function mapping a string to its first token under the model's
tokenizer, in context; ``token_id`` is -1 (no token was generated).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import pandas as pd

BASELINE_CONDITIONS = ("majority", "copy")
NO_LAYER = -1
NO_TOKEN = -1


def majority_answer(answers: Sequence[Sequence[str]]) -> str:
    """The most frequent canonical (first) answer over a task's pairs.

    Args:
        answers: one entry per pair, each the pair's accepted answers with the canonical one
            first (as stored in prompt files and eval tables). Answers are compared stripped of
            surrounding whitespace, as scoring compares them.

    Returns:
        The most frequent stripped first answer. Ties go to the smallest string in code-point
        order (``"Christianity" < "Islam"``), so the choice does not depend on the pairs' order.

    Raises:
        ValueError: when there are no pairs or a pair has no answer.
    """
    if isinstance(answers, str) or len(answers) == 0:
        raise ValueError("majority_answer needs a non-empty sequence of answer lists")
    firsts = []
    for accepted in answers:
        if isinstance(accepted, str) or len(accepted) == 0:
            raise ValueError(f"each pair needs a non-empty list of answers, got {accepted!r}")
        firsts.append(str(accepted[0]).strip())
    counts = Counter(firsts)
    return min(counts, key=lambda answer: (-counts[answer], answer))


def baseline_predictions(
    queries: pd.DataFrame,
    majority: str,
    *,
    first_token: Callable[[str], str] | None = None,
) -> pd.DataFrame:
    """Predictions of the ``majority`` and ``copy`` baselines for every query.

    Args:
        queries: one row per example, with ``example_id``, ``split`` and ``query`` (the prompt
            file's examples, e.g. the test split).
        majority: the task's majority answer (``majority_answer``).
        first_token: optional map from a predicted string to its first token (for a strict
            first-token score); by default the ``first_token`` column holds the whole string.

    Returns:
        The predictions table: ``example_id, split, condition, layer, token_id, first_token,
        answer``, one row per query and baseline (all ``majority`` rows, then all ``copy`` rows,
        each in the order of ``queries``); ``layer`` and ``token_id`` are -1.
    """
    missing = {"example_id", "split", "query"} - set(queries.columns)
    if missing:
        raise ValueError(f"queries lack the column(s) {sorted(missing)}")
    frames = []
    for condition in BASELINE_CONDITIONS:
        if condition == "majority":
            answer = pd.Series(majority, index=queries.index, dtype=object)
        else:
            answer = queries["query"].astype(str)
        first = answer if first_token is None else answer.map(first_token)
        frames.append(
            pd.DataFrame(
                {
                    "example_id": queries["example_id"].to_numpy(),
                    "split": queries["split"].to_numpy(),
                    "condition": condition,
                    "layer": NO_LAYER,
                    "token_id": NO_TOKEN,
                    "first_token": first.to_numpy(),
                    "answer": answer.to_numpy(),
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    return table.astype({"example_id": "int32", "layer": "int16", "token_id": "int32"})
