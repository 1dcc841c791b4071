"""A made-up recognition-versus-learning score table for the report's tests
(``Analysis.synthetic``): ICL recognises (shuffled and random above the baseline) and learns the
abstract labels; the task vector recognises but learns nothing (abstract and novel at chance)."""

import numpy as np
import pandas as pd

from taskvectors.analyses.synthetic import SyntheticModel, SyntheticScores

CONDITIONS = ["gold", "shuffled", "random", "abstract"]
NOVEL_CONDITIONS = ["gold", "show_query"]
TASKS = {
    "algorithmic_next_letter": "algorithmic",
    "translation_fr_en": "translation",
    "novel_letter_shift": "novel",
}


def scores(model: SyntheticModel) -> SyntheticScores:
    rows = []
    base = {"task": "", "family": "", "condition": "", "method": "", "target": "condition",
            "metric": "accuracy", "layer": -1, "n": model.n_test, "chance": 1 / 26,
            "verdict": ""}  # fmt: skip

    def add(**fields):
        rows.append({**base, **fields})

    for task, family in TASKS.items():
        conditions = NOVEL_CONDITIONS if family == "novel" else CONDITIONS
        for condition in conditions:
            keys = {"task": task, "family": family, "condition": condition}
            icl = 0.9 if condition == "gold" else 0.6
            tv = 0.05 if family == "novel" or condition == "abstract" else 0.5
            fv = tv / 2  # the function vector, half the task vector's accuracy
            for method, p in (("icl", icl), ("tv", tv), ("fv", fv), ("baseline", 0.1)):
                layer = {"tv": 3, "fv": 2}.get(method, -1)
                for target in ("condition", "gold"):
                    value, low, high = model.proportion(p)
                    add(**keys, method=method, target=target, layer=layer, value=value,
                        low=low, high=high)  # fmt: skip
            add(**keys, method="tv", metric="best_layer", layer=3, value=3.0, low=np.nan,
                high=np.nan)  # fmt: skip
            for layer in range(model.n_layers):
                value, low, high = model.proportion(tv * (1 - abs(layer - 3) / 8))
                add(**keys, method="tv", metric="sweep", layer=layer, value=value, low=low,
                    high=high)  # fmt: skip
            for method, p in (("icl", icl), ("tv", tv), ("fv", fv)):
                if condition != "gold":
                    add(**keys, method=method, metric="diff_vs_gold", value=p - 0.9,
                        low=p - 1.0, high=p - 0.8, verdict="not above gold")  # fmt: skip
                verdict = "learning" if method == "icl" else "no learning shown"
                add(**keys, method=method, metric="above_chance", value=p - 0.04,
                    low=p - 0.15, high=p + 0.05, verdict=verdict)  # fmt: skip
    for pool, conditions in (("familiar", CONDITIONS), ("novel", NOVEL_CONDITIONS)):
        for condition in conditions:
            for method in ("icl", "tv", "fv"):
                keys = {"task": "overall", "family": pool, "condition": condition,
                        "method": method, "n": 2 * model.n_test}  # fmt: skip
                add(**keys, target="gold", metric="above_baseline", value=0.4, low=0.3,
                    high=0.5, verdict="recognition")  # fmt: skip
                verdict = "learning" if method == "icl" else "no learning shown"
                add(**keys, metric="above_chance", value=0.2, low=0.1, high=0.3, verdict=verdict)
    names = ("recognition_learning", "recognition_learning_sweep")
    figures = tuple(f"{name}_{model.model}.png" for name in names)
    return SyntheticScores(pd.DataFrame(rows), "Task recognition versus task learning", figures)
