"""Scoring of the geometry analysis: its raw files into its documented score table."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from taskvectors.analyses.geometry import statistics
from taskvectors.analyses.spec import ScoreRequest
from taskvectors.results.files import (
    read_result_table,
)
from taskvectors.seeding import derived_seed

SEED = 41
MAX_DISTANCE_PAIRS = 20000


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
    points = statistics.tsne_embedding(statistics.centre_vectors(vectors))
    tsne = pd.DataFrame({"kind": "tsne", "task": labels, "x": points[:, 0], "y": points[:, 1]})
    within, across = statistics.cosine_distances(statistics.centre_vectors(vectors), labels)
    rng = np.random.default_rng(derived_seed(SEED, "geometry distances"))
    distances = pd.concat(
        [
            pd.DataFrame({"kind": "distance", "within": flag, "distance": _sample(values, rng)})
            for flag, values in ((True, within), (False, across))
        ]
    )
    stats = statistics.geometry_statistics(vectors, labels, seed=SEED).assign(kind="stat")
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


def score(request: ScoreRequest) -> pd.DataFrame:
    return score_geometry(request.raw[""], _sweeps(request))


def _sweeps(request: ScoreRequest) -> dict[str, pd.DataFrame]:
    return {t: read_result_table(p, "sweep") for t, p in request.inputs["sweeps"].items()}
