"""The geometry figures (same conventions as ``taskvectors.report.figures``: one colour per
condition, every number with its interval, the paper's numbers hatched)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from taskvectors.report.figures import (
    task_palette,
    theme,
)
from taskvectors.report.names import short_task_name

WITHIN_COLOUR, ACROSS_COLOUR = "#d69e2e", "#a0aec0"


def geometry_panels(points: pd.DataFrame, distances: pd.DataFrame, means: dict[str, float]):
    """t-SNE of one model's task vectors coloured by task, and the within- vs across-task
    cosine distances (centred vectors) as histograms.

    Args:
        points: ``task, x, y`` (the score table's ``tsne`` rows).
        distances: ``within, distance`` (its ``distance`` rows).
        means: ``{"within": ..., "across": ...}`` means from its ``stat`` rows (drawn dashed).
    """
    theme()
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(11.5, 4.3), gridspec_kw={"width_ratios": [1.3, 1]}
    )
    tasks = list(dict.fromkeys(points["task"]))
    colours = task_palette(tasks)
    for task in tasks:
        rows = points[points["task"] == task]
        left.scatter(
            rows["x"],
            rows["y"],
            s=15,
            color=colours[task],
            alpha=0.85,
            label=short_task_name(task),
            edgecolors="white",
            linewidths=0.3,
        )
    left.set_title("t-SNE of task vectors")
    left.set_xticks([])
    left.set_yticks([])
    left.legend(
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        fontsize=7.5,
        ncol=1 if len(tasks) <= 12 else 2,
        markerscale=1.2,
        handletextpad=0.2,
    )
    values = distances["distance"].to_numpy(dtype=float)
    bins = np.linspace(np.nanmin(values, initial=0), np.nanmax(values, initial=1e-6), 40)
    for within, colour, name in ((False, ACROSS_COLOUR, "across"), (True, WITHIN_COLOUR, "within")):
        part = distances.loc[distances["within"].astype(bool) == within, "distance"]
        label = f"{name} tasks" if name == "across" else "within a task"
        if name in means and not math.isnan(means[name]):
            label += f" (mean {means[name]:.2f})"
            right.axvline(means[name], color=colour, lw=1.8, ls="--")
        right.hist(part, bins=bins, density=True, color=colour, alpha=0.65, label=label)
    right.set_xlabel("cosine distance of centred vectors (1 − cos)")
    right.set_ylabel("density")
    right.set_title("Pairwise distances")
    right.legend(fontsize=8.5)
    fig.tight_layout()
    return fig
