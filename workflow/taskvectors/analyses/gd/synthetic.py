"""A made-up GD score table for the report's tests (``Analysis.synthetic``): the task vector
agrees with ICL more than the fine-tuned model does, on two tasks and overall."""

import math

import pandas as pd

from taskvectors.analyses.synthetic import SyntheticModel, SyntheticScores

#: The synthetic run's tasks GD covers.
TASKS = ("algorithmic_to_upper", "translation_fr_en")


def scores(model: SyntheticModel) -> SyntheticScores:
    rows = []

    def add(kind, task, condition, metric, value, model_init="pretrained", n_demos=None, text=""):
        rows.append(
            {
                "kind": kind,
                "task": task,
                "model_init": model_init,
                "condition": condition,
                "metric": metric,
                "value": value,
                "low": value - 0.08,
                "high": value + 0.07,
                "n": model.n_test,
                "n_demos": n_demos,
                "text": text,
            }
        )

    for task in (*TASKS, "overall"):
        for condition, value in (("baseline", 0.1), ("icl", 0.85), ("tv", 0.7), ("gd", 0.4)):
            add("accuracy", task, condition, "first_token", value)
            add("accuracy", task, condition, "full_answer", value - 0.05)
        for model_init, scale in (("pretrained", 1.0), ("random", 0.2)):
            add("agreement", task, "tv", "agreement_with_icl", 0.75 * scale, model_init)
            add("agreement", task, "gd", "agreement_with_icl", 0.45 * scale, model_init)
            for condition, kl in (("baseline", 3.1), ("tv", 0.9), ("gd", 2.2)):
                add("distribution", task, condition, "kl_median", kl / scale, model_init)
                add("distribution", task, condition, "top10_overlap", 1 / (1 + kl), model_init)
        for condition, value in (("icl", 0.3), ("gd", 0.15)):
            add("order", task, condition, "sensitivity", value)
        verdict = f"On {task}, the task vector is closer to ICL than GD (agreement 0.75 vs 0.45)."
        add("verdict", task, "", "", math.nan, text=verdict)
    for n_demos in (1, 2, 4, 8):
        for condition, value in (("icl", 0.4), ("tv", 0.3), ("gd", 0.2)):
            accuracy = min(1.0, value + 0.1 * math.log2(n_demos))
            add("n_demos", TASKS[0], condition, "accuracy", accuracy, n_demos=n_demos)
    for task in TASKS:
        add("hyperparameters", task, "gd", "learning_rate", 0.001, text="adam, lora rank 4")
        add("hyperparameters", task, "gd", "steps", 8.0, text="chosen on dev")
    frame = pd.DataFrame(rows)
    frame["n_demos"] = frame["n_demos"].astype("float64")
    names = ("gd_accuracy", "gd_similarity", "gd_order", "gd_n_demos")
    figures = tuple(f"{name}_{model.model}.png" for name in names)
    return SyntheticScores(frame, "ICL versus gradient descent", figures)
