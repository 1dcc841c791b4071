"""Layer choices and layer curves.

The paper picks the layer at which a task vector is patched per task, as the argmax of dev
accuracy over all layers, the earliest layer on ties; the test accuracy of that layer is the
reported TV accuracy. To compare models of different depth, curves are drawn against relative
depth ``layer / (n_layers - 1)`` (0 = first block, 1 = last block).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def _earliest_argmax(layers: pd.Series, values: pd.Series) -> int:
    values = values.to_numpy(dtype=float)
    if len(values) == 0 or np.all(np.isnan(values)):
        raise ValueError("no accuracy to choose a layer from")
    best = np.nanmax(values)
    return int(np.min(layers.to_numpy()[values == best]))


def best_layer(sweep: pd.DataFrame, split: str = "dev") -> int:
    """The best layer of one task's sweep: the dev argmax, earliest on ties.

    A sweep written by the pipeline marks it with ``is_best``; when exactly one row of the split is
    marked, that mark is used, otherwise the layer is recomputed from ``accuracy``.
    """
    rows = sweep[sweep["split"] == split] if "split" in sweep else sweep
    if "is_best" in rows and rows["is_best"].fillna(False).astype(bool).sum() == 1:
        return int(rows.loc[rows["is_best"].fillna(False).astype(bool), "layer"].iloc[0])
    return _earliest_argmax(rows["layer"], rows["accuracy"])


def relative_depth(layer: pd.Series | np.ndarray, n_layers: int) -> pd.Series | np.ndarray:
    """``layer / (n_layers - 1)``; a one-layer model sits at depth 0."""
    return layer / max(n_layers - 1, 1)


def mean_layer_curve(
    sweeps: pd.DataFrame, n_layers: Mapping[str, int] | None = None, split: str = "dev"
) -> pd.DataFrame:
    """Mean accuracy over tasks at each layer, per model.

    Args:
        sweeps: long table ``model, task, split, layer, accuracy``.
        n_layers: layers per model, for the relative depth; defaults to ``max(layer) + 1``.
        split: which split's accuracy to average.

    Returns:
        ``model, layer, depth, accuracy, n_tasks``.
    """
    rows = sweeps[sweeps["split"] == split]
    curve = (
        rows.groupby(["model", "layer"], sort=False)
        .agg(accuracy=("accuracy", "mean"), n_tasks=("task", "nunique"))
        .reset_index()
        .sort_values(["model", "layer"], kind="stable")
    )
    depth_of = dict(n_layers or {})
    for model, layers in rows.groupby("model")["layer"]:
        depth_of.setdefault(model, int(layers.max()) + 1)
    curve["depth"] = [
        relative_depth(layer, depth_of[model])
        for model, layer in zip(curve.model, curve.layer, strict=True)
    ]
    return curve[["model", "layer", "depth", "accuracy", "n_tasks"]].reset_index(drop=True)


def geometry_layer(sweeps: pd.DataFrame, split: str = "dev") -> int:
    """One layer for a model's geometry plots: argmax over layers of the mean dev accuracy across
    its tasks, earliest on ties. ``sweeps`` holds one model's ``task, split, layer, accuracy``."""
    rows = sweeps[sweeps["split"] == split]
    mean = rows.groupby("layer")["accuracy"].mean()
    return _earliest_argmax(pd.Series(mean.index), pd.Series(mean.to_numpy()))
