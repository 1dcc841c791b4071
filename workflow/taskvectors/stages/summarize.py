"""Stage ``summarize``: the run's tables — one row per model × task, and per-model means.

``summary.csv`` holds every condition's accuracy with its 95% Wilson interval, the full-answer and
strict first-token scores, TV − ICL with its paired bootstrap interval, and which model-free
baseline (majority, copy) reaches ICL's or TV's interval. ``summary_models.csv`` holds the means
over tasks with intervals over tasks and examples, for the model's tasks, the paper's filter (ICL
gain over the baseline at least 0.20), and the tasks every model keeps (so that models are compared
on the same tasks). Both carry their provenance in ``summary.provenance.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from taskvectors.results.files import PromptDocument
from taskvectors.results.provenance import provenance
from taskvectors.results.storage import atomic_path, write_json
from taskvectors.scoring.stats import (
    baseline_flags,
    proportion_table,
    task_differences,
    task_mean_bootstrap,
)
from taskvectors.seeding import derived_seed

CONDITIONS = ("baseline", "icl", "tv", "majority", "copy")
MODEL_CONDITIONS = ("baseline", "icl", "tv")
PAPER_GAIN = 0.20
SEED = 41


@dataclass(frozen=True)
class TaskRun:
    """The files of one (model, task) that the summary reads, already loaded."""

    model: str
    task: str
    category: str
    document: PromptDocument
    results: pd.DataFrame  # the eval table
    best_layer: int | None
    n_layers: int


def summary_row(run: TaskRun) -> dict:
    """One row of ``summary.csv`` (columns in docs/outputs.md)."""
    results = run.results
    row = {
        "model": run.model,
        "task": run.task,
        "category": run.category,
        "spacing": run.document.spacing.get("chosen", "none"),
        "n_pairs": int(run.document.filter.get("n_kept", 0)),
        "n_pairs_unspaced": run.document.spacing.get("n_kept", {}).get("none"),
        "n_pairs_spaced": run.document.spacing.get("n_kept", {}).get("leading"),
        "n_test": int(results["example_id"].nunique()),
        "n_queries": int(results["query"].nunique()),
        "best_layer": run.best_layer,
        "n_layers": run.n_layers,
    }
    headline = proportion_table(results, ["condition"]).set_index("condition")
    for condition in CONDITIONS:
        entry = headline.loc[condition] if condition in headline.index else None
        row[condition] = np.nan if entry is None else float(entry["accuracy"])
        row[f"{condition}_low"] = np.nan if entry is None else float(entry["ci_low"])
        row[f"{condition}_high"] = np.nan if entry is None else float(entry["ci_high"])
    for score in ("full", "strict"):
        means = results.groupby("condition")[f"correct_{score}"].mean()
        for condition in MODEL_CONDITIONS:
            row[f"{condition}_{score}"] = float(means.get(condition, np.nan))
    frame = results.assign(task=run.task)
    difference = task_differences(frame, seed=derived_seed(SEED, run.model))
    for suffix in ("", "_low", "_high"):
        value = difference[f"tv_minus_icl{suffix}"]
        row[f"tv_minus_icl{suffix}"] = float(value.iloc[0]) if len(value) else np.nan
    flags = baseline_flags(proportion_table(frame, ["task", "condition"]))
    row["explained_by"] = str(flags["explained_by"].iloc[0]) if len(flags) else ""
    return row


def model_means(rows: pd.DataFrame, runs: Sequence[TaskRun]) -> pd.DataFrame:
    """``summary_models.csv``: per model and task set, means over tasks with intervals."""
    kept = rows[(rows["icl"] - rows["baseline"]) >= PAPER_GAIN]
    per_model_kept = {m: set(g["task"]) for m, g in kept.groupby("model")}
    models = list(dict.fromkeys(rows["model"]))
    shared = set.intersection(*(per_model_kept.get(m, set()) for m in models)) if models else set()
    records = []
    for model in models:
        task_sets = {
            "all": set(rows.loc[rows["model"] == model, "task"]),
            "paper_filter": per_model_kept.get(model, set()),
            "shared": shared,
        }
        for name, tasks in task_sets.items():
            records.append(_means(model, name, sorted(tasks), runs))
    return pd.DataFrame(records)


def _means(model: str, task_set: str, tasks: list[str], runs: Sequence[TaskRun]) -> dict:
    frame = pd.concat(
        [r.results.assign(task=r.task) for r in runs if r.model == model and r.task in tasks]
        or [pd.DataFrame(columns=["task", "example_id", "condition", "correct"])],
        ignore_index=True,
    )
    record = {"model": model, "task_set": task_set, "n_tasks": len(tasks), "tasks": ";".join(tasks)}
    seed = derived_seed(SEED, model, task_set)
    tv_icl = task_mean_bootstrap(frame, a="tv", b="icl", seed=seed).set_index("statistic")
    base = task_mean_bootstrap(frame, a="baseline", b="icl", seed=seed).set_index("statistic")
    picks = {
        "tv": tv_icl.loc["tv"],
        "icl": tv_icl.loc["icl"],
        "baseline": base.loc["baseline"],
        "ratio": tv_icl.loc["tv_icl_ratio"],
        "tv_minus_icl": tv_icl.loc["tv_minus_icl"],
    }
    for name, entry in picks.items():
        record[name] = float(entry["estimate"])
        record[f"{name}_low"] = float(entry["ci_low"])
        record[f"{name}_high"] = float(entry["ci_high"])
    return record


def summarize(
    runs: Sequence[TaskRun],
    model_records: Mapping[str, Mapping],
    summary_path: Path,
    models_path: Path,
    provenance_path: Path,
) -> pd.DataFrame:
    """Write ``summary.csv``, ``summary_models.csv`` and their provenance; return the summary."""
    summary = pd.DataFrame([summary_row(run) for run in runs])
    for column in ("best_layer", "n_pairs_unspaced", "n_pairs_spaced"):
        summary[column] = summary[column].astype("Int64")
    summary = summary.sort_values(["model", "task"]).reset_index(drop=True)
    means = model_means(summary, runs)
    for frame, path in ((summary, summary_path), (means, models_path)):
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False, float_format="%.4f")
    write_json(
        provenance_path,
        {
            "provenance": provenance(models=sorted(model_records), seed=SEED),
            "models": {
                alias: {k: v for k, v in record.items() if k != "provenance"}
                for alias, record in model_records.items()
            },
        },
    )
    return summary
