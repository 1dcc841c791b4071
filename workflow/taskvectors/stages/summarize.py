"""Stage 6, ``summarize``: one row per model × task with the paper's three numbers.

Reads every ``eval`` and ``sweeps`` file of the run and writes ``summary.csv`` with the columns
``model, task, category, n_test, baseline, icl, tv, best_layer, n_layers``, plus the provenance of
the run beside it (``summary.provenance.json``), since a CSV has no metadata of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from taskvectors.provenance import provenance
from taskvectors.storage import atomic_path, read_json, read_table, write_json

COLUMNS = ["model", "task", "category", "n_test", "baseline", "icl", "tv", "best_layer", "n_layers"]


def summary_row(
    model: str, task: str, category: str, results: pd.DataFrame, sweep: pd.DataFrame, n_layers: int
) -> dict:
    accuracy = results.groupby("condition")["correct"].mean()
    return {
        "model": model,
        "task": task,
        "category": category,
        "n_test": int(results["example_id"].nunique()),
        "baseline": float(accuracy.get("baseline", float("nan"))),
        "icl": float(accuracy.get("icl", float("nan"))),
        "tv": float(accuracy.get("tv", float("nan"))),
        "best_layer": int(sweep.loc[sweep["is_best"], "layer"].iloc[0]),
        "n_layers": n_layers,
    }


def summarize(
    runs: Sequence[Mapping[str, str]], categories: Mapping[str, str], out_path: Path
) -> pd.DataFrame:
    """Aggregate the runs (dicts with ``model, task, eval, sweep, model_record`` paths)."""
    rows = []
    for run in runs:
        record = read_json(run["model_record"])
        rows.append(
            summary_row(
                run["model"],
                run["task"],
                categories[run["task"]],
                read_table(run["eval"]),
                read_table(run["sweep"]),
                int(record["n_layers"]),
            )
        )
    summary = pd.DataFrame(rows, columns=COLUMNS).sort_values(["model", "task"])
    with atomic_path(out_path) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.4f")
    models = {run["model"]: read_json(run["model_record"]) for run in runs}
    write_json(
        Path(out_path).with_suffix(".provenance.json"),
        {
            "provenance": provenance(models=sorted(models)),
            "models": {
                alias: {k: v for k, v in rec.items() if k != "provenance"}
                for alias, rec in models.items()
            },
        },
    )
    return summary
