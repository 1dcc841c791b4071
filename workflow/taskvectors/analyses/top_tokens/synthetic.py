"""A made-up top-tokens score table for the report's tests (``Analysis.synthetic``): 20 tokens
per task at its best layer, none for a task without one, a newline among them."""

import pandas as pd

from taskvectors.analyses.synthetic import SyntheticModel, SyntheticScores


def scores(model: SyntheticModel) -> SyntheticScores:
    rows = [
        {
            "task": task,
            "layer": layer,
            "rank": rank,
            "token": f" {task.split('_')[-1][:3]}{rank}" if rank % 3 else "\n",
            "logit": 12.0 - rank * 0.4,
        }
        for task, layer in model.best_layers.items()
        if layer is not None
        for rank in range(20)
    ]
    return SyntheticScores(pd.DataFrame(rows), "Top tokens of the task vectors", ())
