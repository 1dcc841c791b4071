"""The recognition/learning figures (``taskvectors.report.figures`` conventions: one colour per
method, every number with its 95% interval, small multiples sharing their axes)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from taskvectors.report.figures import (
    CONDITION_COLOURS,
    condition_legend,
    interval_bars,
    panel_grid,
    theme,
)
from taskvectors.report.names import short_task_name

METHODS = ("baseline", "tv", "fv", "icl")
CONDITION_ORDER = ("gold", "shuffled", "random", "abstract", "show_query")
#: Sweep line styles: gold, abstract and the novel tasks' own condition.
SWEEP_STYLES = {"gold": "-", "abstract": "--", "show_query": ":"}


def condition_panels(accuracy: pd.DataFrame, tasks: Sequence[str]):
    """Test accuracy against each condition's target, baseline / TV / FV / ICL side by side per
    condition (FV when the rows have it), one panel per task.

    Args:
        accuracy: ``task, condition, method, value, low, high`` (the ``accuracy`` rows with
            ``target == "condition"``).
    """
    theme()
    fig, axes = panel_grid(len(tasks), 4, (3.0, 2.3), (0.6, 0.9))
    methods = [m for m in METHODS if m in set(accuracy["method"])]
    width = 0.8 / len(methods)
    present = set(accuracy["condition"])
    conditions = [c for c in CONDITION_ORDER if c in present]  # shared x axis: one order
    x = np.arange(len(conditions))
    for ax, task in zip(axes.flat, tasks, strict=False):
        part = accuracy[accuracy["task"] == task]
        for k, method in enumerate(methods):
            rows = part[part["method"] == method].set_index("condition").reindex(conditions)
            rows = rows[rows["value"].notna()]
            interval_bars(
                ax,
                x[[conditions.index(c) for c in rows.index]] + (k - (len(methods) - 1) / 2) * width,
                rows["value"], rows["low"], rows["high"],
                width=width, color=CONDITION_COLOURS[method],
            )  # fmt: skip
        ax.set_xticks(x, conditions, rotation=30, ha="right")
        ax.set_title(short_task_name(task))
        ax.set_ylim(0, 1.05)
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy")
    condition_legend(fig, methods)
    fig.tight_layout()
    return fig


def sweep_panels(sweep: pd.DataFrame, tasks: Sequence[str]):
    """Dev TV accuracy per layer (against the condition's target) with its interval band, gold
    against abstract (familiar tasks) or the novel task's conditions, one panel per task.

    Args:
        sweep: ``task, condition, layer, value, low, high`` (the ``sweep`` rows).
    """
    theme()
    fig, axes = panel_grid(len(tasks), 4, (3.0, 2.1), (0.6, 0.9))
    for ax, task in zip(axes.flat, tasks, strict=False):
        part = sweep[sweep["task"] == task]
        for condition, style in SWEEP_STYLES.items():
            rows = part[part["condition"] == condition].sort_values("layer")
            if rows.empty:
                continue
            ax.plot(rows["layer"], rows["value"], ls=style, color=CONDITION_COLOURS["tv"],
                    label=condition)  # fmt: skip
            ax.fill_between(rows["layer"], rows["low"], rows["high"], alpha=0.15,
                            color=CONDITION_COLOURS["tv"])  # fmt: skip
        ax.set_title(short_task_name(task))
        ax.set_ylim(0, 1.05)
        ax.legend(loc="upper right", fontsize=7.5)
    for ax in axes[-1, :]:
        ax.set_xlabel("layer")
    for ax in axes[:, 0]:
        ax.set_ylabel("dev TV accuracy")
    fig.tight_layout()
    return fig
