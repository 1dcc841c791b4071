"""Scoring one (model, task): every prediction scored three ways, the layer sweep, the best layer.

The one place where raw predictions become correct/incorrect for the main results (the analyses'
scoring stages call the same functions), so ``evaluate`` and the ``best``-layer mode of the model
job can never disagree. Scores (docs/outputs.md): ``correct_first`` (first generated token, the
task's mode), ``correct_full`` (greedy answer), ``correct_strict`` (first token id equals an
accepted answer's own first token in context) and ``correct``, the headline one of the first two.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from taskvectors.results.files import PromptDocument
from taskvectors.scoring.answers import answer_column, is_correct, is_correct_strict
from taskvectors.scoring.stats import wilson_intervals

SCORE_COLUMNS = ("correct", "correct_first", "correct_full", "correct_strict")


def examples_frame(document: PromptDocument) -> pd.DataFrame:
    """``example_id, split, query, answers, answer_first_token_ids`` of the document's examples."""
    return pd.DataFrame(
        [
            {
                "example_id": ex.example_id,
                "split": ex.split,
                "query": ex.query,
                "answers": list(ex.answers),
                "answer_first_token_ids": list(ex.answer_first_token_ids),
            }
            for ex in document.examples
        ]
    )


def score(predictions: pd.DataFrame, document: PromptDocument, answer_mode: str) -> pd.DataFrame:
    """Predictions joined with their examples, with the four score columns (docs/outputs.md).

    Rows without a generated token (``token_id`` -1: the model-free baselines) get
    ``correct_strict`` False, since no first token was produced.
    """
    table = predictions.merge(
        examples_frame(document), on=["example_id", "split"], validate="many_to_one"
    )
    mode = document.scoring
    answers = table["answers"].tolist()
    table["correct_first"] = [
        is_correct(p, a, mode) for p, a in zip(table["first_token"], answers, strict=True)
    ]
    table["correct_full"] = [
        is_correct(p, a, mode) for p, a in zip(table["answer"], answers, strict=True)
    ]
    # Exact tasks accept only the canonical answer, so only its first token counts.
    first_ids = table["answer_first_token_ids"].map(lambda ids: ids[:1] if mode == "exact" else ids)
    table["correct_strict"] = [
        bool(t >= 0) and is_correct_strict(int(t), ids)
        for t, ids in zip(table["token_id"], first_ids, strict=True)
    ]
    column = "correct_first" if answer_column(answer_mode) == "first_token" else "correct_full"
    table["correct"] = table[column]
    return table.drop(columns=["answer_first_token_ids"])


def earliest_best_layer(layers: Sequence[int], accuracy: Sequence[float]) -> int | None:
    """The layer of the highest accuracy (earliest on ties), or None when every layer scores 0:
    an all-zero sweep has no best layer, rather than layer 0 by the tie rule."""
    values = np.asarray(accuracy, dtype=float)
    if values.size == 0 or not np.nanmax(values) > 0:
        return None
    order = np.argsort(np.asarray(layers), kind="stable")
    return int(np.asarray(layers)[order][int(np.nanargmax(values[order]))])


def layer_sweep(scored: pd.DataFrame) -> tuple[pd.DataFrame, int | None]:
    """Task-vector accuracy per ``(split, layer)`` with Wilson intervals, and the dev-best layer.

    The sweep scores the first token on dev (the only token the dev sweep decodes), as the paper
    chooses its layer; test rows use the headline score.
    """
    tv = scored[scored["condition"] == "tv"].copy()
    tv["hit"] = np.where(tv["split"] == "dev", tv["correct_first"], tv["correct"])
    sweep = tv.groupby(["split", "layer"], as_index=False).agg(
        n=("hit", "size"), successes=("hit", "sum")
    )
    sweep["accuracy"] = sweep["successes"] / sweep["n"]
    sweep["low"], sweep["high"] = wilson_intervals(sweep["successes"], sweep["n"])
    dev = sweep[sweep["split"] == "dev"]
    best = earliest_best_layer(dev["layer"].tolist(), dev["accuracy"].tolist())
    sweep["is_best"] = sweep["layer"] == (best if best is not None else -2)
    columns = ["split", "layer", "n", "successes", "accuracy", "low", "high", "is_best"]
    sweep = sweep[columns].sort_values(["split", "layer"]).reset_index(drop=True)
    return sweep.astype({"layer": "int16", "n": "int32", "successes": "int32"}), best


def choose_layer_on_dev(dev_predictions: pd.DataFrame, document: PromptDocument) -> int | None:
    """The model job's chooser in ``sweep_test: best`` mode: the dev-best layer of its sweep."""
    scored = score(dev_predictions, document, "first_token")
    return layer_sweep(scored)[1]


def test_results(scored: pd.DataFrame, best: int | None) -> pd.DataFrame:
    """Test rows of every condition; the task vector at the best layer only (none if no best)."""
    test = scored[scored["split"] == "test"]
    keep = (test["condition"] != "tv") | (test["layer"] == (best if best is not None else -2))
    columns = [
        "example_id", "query", "answers", "condition", "layer", "token_id", "first_token",
        "answer", *SCORE_COLUMNS,
    ]  # fmt: skip
    return test.loc[keep, columns].sort_values(["condition", "example_id"]).reset_index(drop=True)
