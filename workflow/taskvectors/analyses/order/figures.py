"""The order figures (same conventions as ``taskvectors.report.figures``: one colour per
condition, every number with its interval, the paper's numbers hatched)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from taskvectors.report.figures import (
    CONDITION_COLOURS,
    INK,
    condition_legend,
    interval_dots,
    theme,
)
from taskvectors.report.names import short_task_name


def order_panels(sensitivity: pd.DataFrame, difference: pd.DataFrame, model: str):
    """Order sensitivity (1 − pairwise agreement) of ICL and TV per task with intervals, and
    the paired difference TV − ICL with its interval (left of 0: TV is steadier).

    Args:
        sensitivity: ``task, condition (icl, tv), value, low, high``.
        difference: ``task, value, low, high`` (the ``tv_minus_icl`` rows).
    """
    theme()
    tasks = list(dict.fromkeys(difference["task"]))
    n = len(tasks)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 1.0 + 0.36 * n), sharey=True)
    y = np.arange(n)[::-1]
    for offset, condition in ((0.13, "icl"), (-0.13, "tv")):
        rows = sensitivity[sensitivity["condition"] == condition].set_index("task").reindex(tasks)
        interval_dots(
            left, rows["value"], y + offset, rows["low"], rows["high"],
            color=CONDITION_COLOURS[condition],
        )  # fmt: skip
    rows = difference.set_index("task").reindex(tasks)
    interval_dots(right, rows["value"], y, rows["low"], rows["high"], color=INK, fmt="s")
    right.axvline(0, color="#c53030", lw=0.9, ls="--")
    left.set_yticks(y, ["over tasks" if t == "overall" else short_task_name(t) for t in tasks])
    left.set_xlabel("order sensitivity (1 − pairwise agreement)")
    left.set_title(f"{model}: sensitivity to the order of the demonstrations")
    condition_legend(fig, ("icl", "tv"))
    right.set_xlabel("TV − ICL sensitivity (< 0: TV more order-invariant)")
    right.set_title("Paired difference, 95% interval")
    fig.tight_layout()
    return fig
