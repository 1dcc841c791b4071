"""A made-up order-sensitivity score table for the report's tests (``Analysis.synthetic``): ICL
more order-sensitive than the task vector on every task and overall."""

import numpy as np
import pandas as pd

from taskvectors.analyses.synthetic import SyntheticModel, SyntheticScores


def scores(model: SyntheticModel) -> SyntheticScores:
    rows = []
    for i, task in enumerate([*model.tasks, "overall"]):
        sensitivity = {"icl": 0.30 + 0.02 * i, "tv": 0.12 + 0.01 * i}
        for condition in ("icl", "tv"):
            s = sensitivity[condition]
            for metric, value in (
                ("agreement", 1 - s * 1.2),
                ("pairwise_agreement", 1 - s),
                ("accuracy_mean", 0.8),
                ("accuracy_range", s / 2),
                ("sensitivity", s),
            ):
                rows.append(
                    {
                        "task": task,
                        "condition": condition,
                        "metric": metric,
                        "value": value,
                        "low": value - 0.05,
                        "high": value + 0.05,
                        "verdict": "",
                    }
                )
        difference = sensitivity["tv"] - sensitivity["icl"]
        verdict = "yes" if task != "algorithmic_to_upper" else "undetermined (interval crosses 0)"
        rows.append(
            {
                "task": task,
                "condition": "tv_minus_icl",
                "metric": "sensitivity",
                "value": difference,
                "low": difference - 0.07,
                "high": difference + 0.06,
                "verdict": verdict,
            }
        )
    frame = pd.DataFrame(rows)
    frame["n"] = np.where(frame["task"] == "overall", model.n_test * len(model.tasks), model.n_test)
    frame["n_permutations"] = 11
    return SyntheticScores(frame, "Order sensitivity", (f"order_{model.model}.png",))
