"""A made-up conflicts score table for the report's tests (``Analysis.synthetic``): ICL follows
task A; the task vector of B moves answers to B most at B's best layer."""

import math

import pandas as pd

from taskvectors.analyses.synthetic import SyntheticModel, SyntheticScores


def scores(model: SyntheticModel) -> SyntheticScores:
    rows = []
    for task_a, task_b in model.pairs:
        best = model.best_layers[task_b]
        conditions = [("icl", -1, 0.9, 0.02)] + [
            ("tv", layer, 0.2, 0.7 * math.exp(-abs(layer - (best or 0))))
            for layer in range(model.n_layers)
        ]
        for condition, layer, to_a, to_b in conditions:
            a, b = model.proportion(to_a), model.proportion(to_b)
            rows.append(
                {
                    "task_a": task_a,
                    "task_b": task_b,
                    "condition": condition,
                    "layer": layer,
                    "is_best": condition == "tv" and layer == best,
                    "n": model.n_test,
                    "to_a": a[0],
                    "to_a_low": a[1],
                    "to_a_high": a[2],
                    "to_b": b[0],
                    "to_b_low": b[1],
                    "to_b_high": b[2],
                }
            )
    # one figure for all models
    return SyntheticScores(pd.DataFrame(rows), "Conflicting tasks", ("conflicts.png",))
