"""Conflicting tasks (paper §5): demonstrations of task A, task vector of task B.

If the patched θ_B carries the task, the model should answer B's question on A's prompt, so the
prediction follows B (``to_b`` high) although the demos show A. The unpatched ICL run of the same
prompts is the control: it should follow A. A prediction is scored against both answer lists, each
with its own task's scoring mode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

IsCorrect = Callable[[str, Sequence[str], str], bool]


def _answers(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in np.asarray(value).tolist()]


def score_conflicts(
    frame: pd.DataFrame, *, column: str, mode_a: str, mode_b: str, is_correct: IsCorrect
) -> pd.DataFrame:
    """``frame`` with two boolean columns added: ``to_a`` and ``to_b``, whether the prediction in
    ``column`` is correct for task A (``answers_a``) and for task B (``answers_b``)."""
    scored = frame.copy()
    predictions = scored[column].fillna("").astype(str)
    scored["to_a"] = [
        bool(is_correct(p, _answers(a), mode_a))
        for p, a in zip(predictions, scored["answers_a"], strict=True)
    ]
    scored["to_b"] = [
        bool(is_correct(p, _answers(b), mode_b))
        for p, b in zip(predictions, scored["answers_b"], strict=True)
    ]
    return scored


def conflict_rates_by_layer(scored: pd.DataFrame) -> pd.DataFrame:
    """Rates per condition and layer from ``score_conflicts`` output:
    ``condition, layer, n, to_a, to_b``."""
    return (
        scored.groupby(["condition", "layer"], sort=True)
        .agg(n=("to_a", "size"), to_a=("to_a", "mean"), to_b=("to_b", "mean"))
        .reset_index()
    )


def conflict_rates(
    frame: pd.DataFrame,
    *,
    layer: int,
    column: str,
    mode_a: str,
    mode_b: str,
    is_correct: IsCorrect,
) -> pd.DataFrame:
    """How often predictions follow A and follow B, for the ``icl`` run and for ``tv`` at ``layer``.

    Args:
        frame: a conflicts predictions table (``condition, layer, answers_a, answers_b`` and the
            prediction ``column``).
        layer: the layer of the patched θ_B to report (the paper uses B's best layer).
        column: ``first_token`` or ``answer`` (see ``common.prediction_column``).
        mode_a, mode_b: scoring modes of A and B.
        is_correct: ``scoring.is_correct``.

    Returns:
        Two rows, ``icl`` then ``tv``: ``condition, layer, n, to_a, to_b`` (rates in [0, 1]; a
        condition without rows gets ``n = 0`` and NaN rates).
    """
    selected = frame[
        (frame["condition"] == "icl") | ((frame["condition"] == "tv") & (frame["layer"] == layer))
    ]
    scored = score_conflicts(
        selected, column=column, mode_a=mode_a, mode_b=mode_b, is_correct=is_correct
    )
    rows = []
    for condition in ("icl", "tv"):
        part = scored[scored["condition"] == condition]
        rows.append(
            {
                "condition": condition,
                "layer": layer if condition == "tv" else -1,
                "n": len(part),
                "to_a": part["to_a"].mean() if len(part) else np.nan,
                "to_b": part["to_b"].mean() if len(part) else np.nan,
            }
        )
    return pd.DataFrame(rows)
