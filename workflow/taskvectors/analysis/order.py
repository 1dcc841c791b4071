"""Sensitivity to the order of the demonstrations.

ICL is known to depend on demo order. A task vector is one hidden state computed from the demos,
so the question is whether θ(S) washes the order out. Each example is run under several
permutations of its demos; we measure how often the prediction stays the same (agreement) and how
much accuracy moves between permutations (spread).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd


def order_sensitivity(
    frame: pd.DataFrame, *, column: str = "prediction", correct: str = "correct"
) -> dict[str, float]:
    """Agreement and accuracy spread over permutations for one condition (and layer).

    Args:
        frame: rows ``example_id, permutation``, the prediction ``column`` and a boolean
            ``correct`` column; one row per example and permutation.

    Returns:
        ``n_examples`` and ``n_permutations``; ``agreement``: fraction of examples whose
        prediction is identical under every permutation; ``pairwise_agreement``: mean over
        examples of the fraction of permutation pairs that agree; ``accuracy``: mean accuracy;
        ``accuracy_min``, ``accuracy_max``, ``spread`` (max − min) and ``accuracy_std``
        (population std) of the per-permutation accuracies.
    """
    if frame.empty:
        keys = ("agreement", "pairwise_agreement", "accuracy", "accuracy_min", "accuracy_max")
        return {
            "n_examples": 0,
            "n_permutations": 0,
            **dict.fromkeys(keys, np.nan),
            "spread": np.nan,
            "accuracy_std": np.nan,
        }
    table = frame.pivot_table(
        index="example_id", columns="permutation", values=column, aggfunc="first"
    )
    predictions = table.to_numpy(dtype=object)
    n_permutations = predictions.shape[1]
    agreement = np.mean([len(set(row)) == 1 for row in predictions])
    pairs = list(combinations(range(n_permutations), 2))
    if pairs:
        same = np.array([[row[i] == row[j] for i, j in pairs] for row in predictions])
        pairwise = float(same.mean(axis=1).mean())
    else:
        pairwise = 1.0
    per_permutation = frame.groupby("permutation")[correct].mean()
    return {
        "n_examples": int(predictions.shape[0]),
        "n_permutations": int(n_permutations),
        "agreement": float(agreement),
        "pairwise_agreement": pairwise,
        "accuracy": float(frame[correct].mean()),
        "accuracy_min": float(per_permutation.min()),
        "accuracy_max": float(per_permutation.max()),
        "spread": float(per_permutation.max() - per_permutation.min()),
        "accuracy_std": float(per_permutation.std(ddof=0)),
    }
