"""Stage ``score_analysis``: the model-free scoring of every analysis, into documented tables.

The analyses' model jobs store raw predictions and vectors; this stage scores them with the same
scoring module as the main results, adds the statistics (Wilson intervals, bootstraps, permutation
nulls) and writes one table per analysis and model (docs/outputs.md, ``scores/``), with the columns
of its kind ``score_kind(analysis)`` in ``taskvectors.results.TABLE_KINDS``, the schema the report
reads them with. The report only renders these tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from taskvectors.analysis import geometry as geo
from taskvectors.analysis.gd_scores import score_gd_tables
from taskvectors.analysis.order import order_comparison, order_table
from taskvectors.results import (
    PromptDocument,
    read_result_table,
    score_kind,
    table_columns,
    table_provenance,
)
from taskvectors.scoring import is_correct
from taskvectors.seeding import derived_seed
from taskvectors.stats import wilson_intervals

SEED = 41
MAX_DISTANCE_PAIRS = 20000


def _sweep_best(sweep: pd.DataFrame) -> int | None:
    best = sweep.loc[sweep["is_best"], "layer"]
    return int(best.iloc[0]) if len(best) else None


def score_table(analysis: str, frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """``frames`` as one table in the columns of ``analysis``'s score kind (``TABLE_KINDS``);
    with no frames, an empty table of those columns."""
    columns = list(table_columns(score_kind(analysis)))
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def _accuracy(frame: pd.DataFrame, by: Sequence[str], hit: str) -> pd.DataFrame:
    table = frame.groupby(list(by), as_index=False).agg(n=(hit, "size"), successes=(hit, "sum"))
    table["accuracy"] = table["successes"] / table["n"]
    table["low"], table["high"] = wilson_intervals(table["successes"], table["n"])
    return table


# --- geometry ---------------------------------------------------------------------------------


def geometry_layer(sweeps: Mapping[str, pd.DataFrame]) -> int:
    """The layer of the best mean dev accuracy over tasks (earliest on ties)."""
    dev = pd.concat([s[s["split"] == "dev"] for s in sweeps.values()])
    mean = dev.groupby("layer")["accuracy"].mean().sort_index()
    return int(mean.idxmax())


def score_geometry(raw: Mapping[str, Path], sweeps: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """t-SNE points, centred cosine distances and clustering statistics at one layer."""
    layer = geometry_layer(sweeps)
    frames = {}
    for task, path in raw.items():
        vectors_of_task = read_result_table(path, "activations")
        frames[task] = vectors_of_task[vectors_of_task["layer"] == layer]
    labels = np.concatenate([[t] * len(f) for t, f in frames.items()])
    vectors = np.concatenate([np.stack(f["hidden"].to_numpy()) for f in frames.values()])
    points = geo.tsne_embedding(geo.centre_vectors(vectors))
    tsne = pd.DataFrame({"kind": "tsne", "task": labels, "x": points[:, 0], "y": points[:, 1]})
    within, across = geo.cosine_distances(geo.centre_vectors(vectors), labels)
    rng = np.random.default_rng(derived_seed(SEED, "geometry distances"))
    distances = pd.concat(
        [
            pd.DataFrame({"kind": "distance", "within": flag, "distance": _sample(values, rng)})
            for flag, values in ((True, within), (False, across))
        ]
    )
    stats = geo.geometry_statistics(vectors, labels, seed=SEED).assign(kind="stat")
    identity = ["scope", "task_a", "task_b", "n_vectors", "n_tasks"]
    means = (
        stats.drop_duplicates("scope")[[*identity, "within_mean", "across_mean"]]
        .melt(id_vars=identity, var_name="statistic", value_name="value")
        .assign(kind="stat")
    )  # fmt: skip
    stats = pd.concat([stats, means], ignore_index=True)
    table = pd.concat([tsne, distances, stats], ignore_index=True)
    table["layer"] = layer
    return table


def _sample(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if len(values) <= MAX_DISTANCE_PAIRS:
        return values
    return values[rng.choice(len(values), MAX_DISTANCE_PAIRS, replace=False)]


# --- top tokens -------------------------------------------------------------------------------


def score_top_tokens(raw: Mapping[str, Path], sweeps: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Each task's top tokens at its best layer (tasks without one are left out)."""
    frames = []
    for task, path in raw.items():
        best = _sweep_best(sweeps[task])
        if best is None:
            continue
        tokens = read_result_table(path)
        tokens = tokens[tokens["layer"] == best]
        frames.append(tokens.assign(task=task))
    return score_table("top_tokens", frames)


# --- conflicts --------------------------------------------------------------------------------


def score_conflicts(
    raw: Mapping[tuple[str, str], Path],
    modes: Mapping[str, str],
    sweeps: Mapping[str, pd.DataFrame],
) -> pd.DataFrame:
    """Per pair, condition and layer: how often the answer is A's and how often B's."""
    frames = []
    for (task_a, task_b), path in raw.items():
        rows = read_result_table(path)
        if rows.empty:
            continue
        rows["hit_a"] = [
            is_correct(p, a, modes[task_a])
            for p, a in zip(rows["first_token"], rows["answers_a"], strict=True)
        ]
        rows["hit_b"] = [
            is_correct(p, b, modes[task_b])
            for p, b in zip(rows["first_token"], rows["answers_b"], strict=True)
        ]
        to_a = _accuracy(rows, ["condition", "layer"], "hit_a")
        to_b = _accuracy(rows, ["condition", "layer"], "hit_b")
        table = to_a[["condition", "layer", "n"]].copy()
        for name, part in (("to_a", to_a), ("to_b", to_b)):
            table[name], table[f"{name}_low"], table[f"{name}_high"] = (
                part["accuracy"],
                part["low"],
                part["high"],
            )
        table["is_best"] = table["layer"] == (_sweep_best(sweeps[task_b]) or -2)
        frames.append(table.assign(task_a=task_a, task_b=task_b))
    return score_table("conflicts", frames)


# --- order ------------------------------------------------------------------------------------


def score_order(
    raw: Mapping[str, Path], documents: Mapping[str, PromptDocument], answer_column: str
) -> pd.DataFrame:
    """Order sensitivity of ICL and TV per task and overall, with intervals (wide metrics)."""
    frames = []
    for task, path in raw.items():
        rows = read_result_table(path)
        if rows.empty:
            continue
        answers = {ex.example_id: ex.answers for ex in documents[task].split("test")}
        mode = documents[task].scoring
        rows["prediction"] = rows[answer_column]
        rows["correct"] = [
            is_correct(p, answers[int(i)], mode)
            for p, i in zip(rows["prediction"], rows["example_id"], strict=True)
        ]
        frames.append(rows.assign(task=task))
    if not frames:
        return score_table("order", [])
    scored = pd.concat(frames, ignore_index=True)
    scored["prediction"] = scored["prediction"].fillna("").astype(str)
    return order_long_table(order_table(scored, seed=SEED), order_comparison(scored, seed=SEED))


ORDER_METRICS = {
    "agreement": "agreement_first",
    "agreement_all": "agreement_all",
    "pairwise_agreement": "pairwise_agreement",
    "accuracy_mean": "accuracy_mean",
    "accuracy_range": "accuracy_range",
    "accuracy_std": "accuracy_std",
}


def order_long_table(metrics: pd.DataFrame, comparison: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, condition, metric) with its interval (docs/outputs.md): the metrics of
    ``order_table``, ``sensitivity`` = 1 − pairwise agreement, and the paired ``tv_minus_icl``
    sensitivity rows of ``order_comparison`` with their verdict."""
    records = []
    for _, row in metrics.iterrows():
        base = {
            "task": row["task"],
            "condition": row["condition"],
            "n": int(row["n_examples"]),
            "n_permutations": int(row["n_permutations"]),
            "verdict": "",
        }
        for metric, column in ORDER_METRICS.items():
            records.append(
                {**base, "metric": metric, "value": row[column],
                 "low": row[f"{column}_low"], "high": row[f"{column}_high"]}
            )  # fmt: skip
        pairwise = "pairwise_agreement"
        records.append(
            {**base, "metric": "sensitivity", "value": 1 - row[pairwise],
             "low": 1 - row[f"{pairwise}_high"], "high": 1 - row[f"{pairwise}_low"]}
        )  # fmt: skip
    orders = metrics.groupby("task")["n_permutations"].min().to_dict()
    for _, row in comparison.iterrows():
        records.append(
            {
                "task": row["task"], "condition": "tv_minus_icl", "metric": "sensitivity",
                "value": row["tv_minus_icl"], "low": row["tv_minus_icl_low"],
                "high": row["tv_minus_icl_high"], "n": int(row["n_examples"]),
                "n_permutations": int(orders.get(row["task"], 0)),
                "verdict": str(row["verdict"]),
            }
        )  # fmt: skip
    return pd.DataFrame(records)


# --- prompt format ----------------------------------------------------------------------------


def score_prompt_format(
    raw: Mapping[str, Path],
    documents: Mapping[str, PromptDocument],
    evals: Mapping[str, pd.DataFrame],
) -> pd.DataFrame:
    """Accuracy of baseline, ICL and TV with the other spacing beside the run's own."""
    frames = []
    for task, path in raw.items():
        other = read_result_table(path)
        mode = documents[task].scoring
        other["hit"] = [
            is_correct(p, a, mode)
            for p, a in zip(other["first_token"], other["answers"], strict=True)
        ]
        main = evals[task][evals[task]["condition"].isin(["baseline", "icl", "tv"])].copy()
        main["hit"] = main["correct_first"]
        main["spacing"] = documents[task].spacing.get("chosen", "none")
        for frame, is_default in ((main, True), (other, False)):
            table = _accuracy(frame, ["spacing", "condition", "layer"], "hit")
            frames.append(table.assign(task=task, is_default=is_default))
    return score_table("prompt_format", frames)


# --- ICL versus gradient descent --------------------------------------------------------------


def score_gd(
    raw: Mapping[str, Path],
    distributions: Mapping[str, pd.DataFrame],
    documents: Mapping[str, PromptDocument],
    evals: Mapping[str, pd.DataFrame],
    model: str,
) -> pd.DataFrame:
    """GD beside ICL, TV and the baseline (``taskvectors.analysis.gd_scores``)."""
    scored, grids = {}, {}
    for task, path in raw.items():
        rows = read_result_table(path)
        answers = {ex.example_id: ex.answers for ex in documents[task].split("test")}
        mode = documents[task].scoring
        for column, source in (("correct_first", "first_token"), ("correct_full", "answer")):
            rows[column] = [
                is_correct(p, answers[int(i)], mode)
                for p, i in zip(rows[source].fillna(""), rows["example_id"], strict=True)
            ]
        scored[task] = rows
        grids[task] = table_provenance(path).get("grid", [])
    return score_gd_tables(scored, distributions, evals, grids, model)
