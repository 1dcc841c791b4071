"""A made-up prompt-format score table for the report's tests (``Analysis.synthetic``): on the
spaced tasks, the other spacing costs every condition 0.2."""

import pandas as pd

from taskvectors.analyses.synthetic import SyntheticModel, SyntheticScores

#: The synthetic run's tasks with a spacing choice (translation: leading, knowledge: none).
SPACED = ("translation_fr_en", "knowledge_country_capital")


def scores(model: SyntheticModel) -> SyntheticScores:
    rows = []
    for task in (t for t in SPACED if t in model.tasks):
        default = "leading" if task.startswith("translation") else "none"
        planned = dict(zip(("baseline", "icl", "tv"), model.accuracies[task], strict=True))
        for spacing, shift in (("none", -0.2), ("leading", 0.0)):
            for condition, p in planned.items():
                value, low, high = model.proportion(max(0.0, p + shift))
                rows.append(
                    {
                        "task": task,
                        "spacing": spacing,
                        "is_default": spacing == default,
                        "condition": condition,
                        "layer": (model.best_layers[task] or 0) if condition == "tv" else -1,
                        "n": model.n_test,
                        "accuracy": value,
                        "low": low,
                        "high": high,
                    }
                )
    figures = (f"prompt_format_{model.model}.png",)
    return SyntheticScores(pd.DataFrame(rows), "Prompt-format sensitivity", figures)
