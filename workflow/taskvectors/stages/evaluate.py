"""Stage 5, ``evaluate``: score predictions, sweep accuracy by layer, pick the best layer.

The only model-free stage between inference and aggregation: it scores the raw predictions of the
``extract`` (ICL) and ``patch`` (baseline, task vector at every layer) stages with the task's
scoring mode. The best layer is the argmax of dev accuracy (earliest on ties, as in the paper) and
the task vector's test accuracy is read at that layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from taskvectors.provenance import provenance
from taskvectors.scoring import answer_column, is_correct
from taskvectors.storage import write_table


def score(
    predictions: pd.DataFrame, examples: pd.DataFrame, mode: str, column: str
) -> pd.DataFrame:
    """Predictions joined with their examples' query and answers, with ``prediction, correct``."""
    table = predictions.merge(examples, on=["example_id", "split"], validate="many_to_one")
    table["prediction"] = table[column]
    table["correct"] = [
        is_correct(p, a, mode) for p, a in zip(table["prediction"], table["answers"], strict=True)
    ]
    return table


def layer_accuracy(scored: pd.DataFrame) -> pd.DataFrame:
    """Task-vector accuracy per (split, layer), with the dev argmax (earliest on ties) flagged."""
    tv = scored[scored["condition"] == "tv"]
    sweep = tv.groupby(["split", "layer"], as_index=False).agg(
        accuracy=("correct", "mean"), n=("correct", "size")
    )
    dev = sweep[sweep["split"] == "dev"].sort_values("layer")
    best = int(dev.loc[dev["accuracy"].idxmax(), "layer"]) if len(dev) else -1
    sweep["is_best"] = sweep["layer"] == best
    return sweep.astype({"layer": "int16", "n": "int32", "accuracy": "float64"})


def best_layer(sweep: pd.DataFrame) -> int:
    return int(sweep.loc[sweep["is_best"], "layer"].iloc[0])


def test_results(scored: pd.DataFrame, best: int) -> pd.DataFrame:
    """Per test example: baseline, ICL, and the task vector at the best layer."""
    test = scored[scored["split"] == "test"]
    keep = (test["condition"] != "tv") | (test["layer"] == best)
    columns = ["example_id", "query", "answers", "condition", "layer", "prediction", "correct"]
    return test.loc[keep, columns].sort_values(["condition", "example_id"]).reset_index(drop=True)


def evaluate(
    prompt_doc: Mapping[str, Any],
    icl: pd.DataFrame,
    patched: pd.DataFrame,
    *,
    answer_mode: str,
    sweeps_path: Path,
    eval_path: Path,
) -> dict[str, float]:
    """Score one (model, task); write the layer sweep and the test results; return the headline."""
    examples = pd.DataFrame(prompt_doc["examples"])[["example_id", "split", "query", "answers"]]
    mode = prompt_doc["task"]["scoring"]
    scored = score(pd.concat([icl, patched]), examples, mode, answer_column(answer_mode))
    sweep = layer_accuracy(scored)
    best = best_layer(sweep)
    results = test_results(scored, best)
    block = provenance(
        task=prompt_doc["task"]["name"],
        answer_mode=answer_mode,
        scoring=mode,
        best_layer=best,
        prompts=prompt_doc["settings"],
    )
    block["model"] = prompt_doc["provenance"].get("model")
    write_table(sweeps_path, sweep, block)
    write_table(eval_path, results, block)
    return results.groupby("condition")["correct"].mean().to_dict()
