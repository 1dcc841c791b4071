"""Hand-made raw tables of the function-vector job, scored by the analysis's own scoring, for the
report's tests (``Analysis.synthetic``) and this analysis's scoring tests (:func:`raw_tables`)."""

import numpy as np
import pandas as pd

from taskvectors.analyses.synthetic import SyntheticModel, SyntheticScores

TASKS = ("algorithmic_to_upper", "translation_fr_en", "knowledge_country_capital")


def raw_tables(
    tasks=TASKS, n_layers: int = 4, n_heads: int = 3, n: int = 20, ks=(1, 2)
) -> tuple[dict, dict, dict, dict]:
    """Hand-made raw tables of the function-vector job, already scored, and the main evals:
    ``(predictions, cie, geometry, evals)`` per task. The FV answers example ``i`` right when
    ``i % 4 != 0`` (75%), the task's own heads' FV when ``i % 2 == 0`` (50%), shuffled ICL when
    ``i % 5 != 0`` (80%) and with the FV when ``i % 10 != 0`` (90%), the TV when ``i % 2 == 0``
    (50%), ICL always; head (1, 2) has the largest CIE in every task. The head means used 7 of
    10 clean prompts, except in the second task, where none was answered correctly."""
    predictions, cie, geometry, evals = {}, {}, {}, {}
    for t, task in enumerate(tasks):
        rows = []
        for k in ks:
            for layer in range(n_layers):
                for i in range(n):
                    hit = layer == 1 and (k == ks[-1] or i % 2 == 0)
                    rows.append(("dev", i, k, layer, hit, hit, False, "fv"))
            for i in range(n, 2 * n):
                hit = i % 4 != 0 if k == ks[-1] else i % 2 == 0
                rows.append(("test", i, k, 1, hit, hit, k == ks[-1], "fv"))
        for condition, k, layer, rule in (
            ("fv_task_heads", ks[-1], 1, lambda i: i % 2 == 0),
            ("icl_shuffled", -1, -1, lambda i: i % 5 != 0),
            ("icl_shuffled_fv", ks[-1], 1, lambda i: i % 10 != 0),
        ):
            for i in range(n, 2 * n):
                rows.append(("test", i, k, layer, rule(i), rule(i), False, condition))
        predictions[task] = pd.DataFrame(rows, columns=[
            "split", "example_id", "k", "layer", "correct_first", "correct_full", "chosen",
            "condition"])  # fmt: skip
        heads = [(layer, head) for layer in range(n_layers) for head in range(n_heads)]
        effect = [
            0.5 if (layer, head) == (1, 2) else 0.01 * (layer + head + t) for layer, head in heads
        ]
        ranks = np.argsort(np.argsort(-np.asarray(effect), kind="stable"), kind="stable")
        cie[task] = pd.DataFrame({
            "layer": [h[0] for h in heads], "head": [h[1] for h in heads], "cie": effect,
            "cie_universal": effect, "rank_task": ranks, "rank_universal": ranks,
            "passes_filter": t != 2, "n_prompts": 5, "n_mean_prompts": 10,
            "n_mean_correct": 0 if t == 1 else 7, "n_mean_used": 10 if t == 1 else 7,
        })  # fmt: skip
        geometry[task] = pd.DataFrame(
            [("cosine", layer, -1, "", 0.1 * layer) for layer in range(n_layers)]
            + [("token", 1, r, tok, 5.0 - r) for r, tok in enumerate([" A", " B", " C"])],
            columns=["kind", "layer", "rank", "token", "value"],
        )
        eval_rows = []
        for condition, rule in (
            ("icl", lambda i: True),
            ("tv", lambda i: i % 2 == 0),
            ("baseline", lambda i: i % 5 == 0),
            ("majority", lambda i: False),
            ("copy", lambda i: i % 10 == 0),
        ):
            for i in range(n, 2 * n):
                hit = bool(rule(i))
                layer = 1 if condition == "tv" else -1
                eval_rows.append((i, condition, layer, hit, hit, hit))
        columns = ["example_id", "condition", "layer", "correct", "correct_first", "correct_full"]
        evals[task] = pd.DataFrame(eval_rows, columns=columns)
    return predictions, cie, geometry, evals


def scores(model: SyntheticModel) -> SyntheticScores:
    """The score table of :func:`raw_tables` through the analysis's own scoring."""
    from taskvectors.analyses.function_vectors.score import score_tables

    table = score_tables(*raw_tables(), model=model.model)
    names = ("cie", "accuracy", "k", "layers")
    figures = tuple(f"function_vectors_{name}_{model.model}.png" for name in names)
    return SyntheticScores(table, "Function vectors", figures)
