"""A made-up geometry score table for the report's tests (``Analysis.synthetic``): one tight
cluster per task at the middle layer, within-task distances well below across-task ones."""

import math

import pandas as pd

from taskvectors.analyses.synthetic import SyntheticModel, SyntheticScores


def scores(model: SyntheticModel) -> SyntheticScores:
    rows = []
    for i, task in enumerate(model.tasks):
        centre = [math.cos(i) * 8, math.sin(i) * 8]
        for dx, dy in model.rng.normal(size=(12, 2)):
            rows.append({"kind": "tsne", "task": task, "x": centre[0] + dx, "y": centre[1] + dy})
    for within, mean in ((True, 0.35), (False, 0.9)):
        for value in model.rng.normal(mean, 0.1, size=120):
            rows.append({"kind": "distance", "task": "", "within": within, "distance": value})
    for scope in ("all", "shared_inputs"):
        for statistic, value, null in (
            ("nn_accuracy", 0.93, 0.17),
            ("silhouette", 0.41, -0.02),
            ("within_mean", 0.35, math.nan),
            ("across_mean", 0.9, math.nan),
        ):
            rows.append(
                {
                    "kind": "stat",
                    "task": "",
                    "scope": scope,
                    "statistic": statistic,
                    "value": value - (0.1 if scope != "all" else 0),
                    "null_mean": null,
                    "null_p95": null + 0.08,
                    "p_value": 0.005 if not math.isnan(null) else math.nan,
                }
            )
    frame = pd.DataFrame(rows).assign(layer=model.n_layers // 2)
    for column in ("x", "y", "distance", "value", "null_mean", "null_p95", "p_value"):
        frame[column] = frame[column].astype(float)
    frame["within"] = frame["within"].astype("boolean")
    frame["scope"] = frame["scope"].fillna("")
    frame["statistic"] = frame["statistic"].fillna("")
    return SyntheticScores(frame, "Geometry of task vectors", (f"geometry_{model.model}.png",))
