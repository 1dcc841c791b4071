"""Figures of the "ICL versus gradient descent" section, from ``scores/gd`` rows.

Gradient descent (GD) is drawn in its own colour beside the baseline, ICL and the task vector;
rows of the randomly initialised control model are hatched. Every number carries the interval
of its score row.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from taskvectors.report.figures import (
    CONDITION_COLOURS,
    CONDITION_LABELS,
    PAPER_HATCH,
    condition_legend,
    errors,
    interval_bars,
    interval_dots,
    panel_grid,
    theme,
)
from taskvectors.report.names import short_task_name

ACCURACY_CONDITIONS = ("baseline", "icl", "tv", "gd")


def task_label(task: str) -> str:
    return "over tasks" if task == "overall" else short_task_name(task)


def accuracy_bars(frame: pd.DataFrame, tasks: Sequence[str]):
    """Accuracy of baseline, ICL, TV and GD per task (and over tasks), one panel per metric.

    Args:
        frame: ``kind == accuracy`` rows of the pretrained model: ``task, condition, metric,
            value, low, high``.
        tasks: display order (``overall`` last if present).
    """
    theme()
    metrics = list(dict.fromkeys(frame["metric"]))
    conditions = [c for c in ACCURACY_CONDITIONS if c in set(frame["condition"])]
    fig, axes = plt.subplots(
        len(metrics),
        1,
        figsize=(max(9.0, 1.0 + 1.1 * len(tasks)), 2.6 * len(metrics) + 0.5),
        squeeze=False,
        sharex=True,
    )
    x = np.arange(len(tasks))
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        rows = frame[frame["metric"] == metric]
        for i, condition in enumerate(conditions):
            part = rows[rows["condition"] == condition].set_index("task").reindex(tasks)
            interval_bars(
                ax,
                x + (i - (len(conditions) - 1) / 2) * 0.2,
                part["value"].to_numpy(dtype=float),
                part["low"],
                part["high"],
                width=0.18,
                color=CONDITION_COLOURS[condition],
                linewidth=0.4,
            )
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(f"accuracy ({metric.replace('_', ' ')})")
    axes[-1, 0].set_xticks(
        x, [task_label(t) for t in tasks], rotation=25, ha="right", rotation_mode="anchor"
    )
    condition_legend(fig, conditions)
    fig.tight_layout()
    return fig


def similarity_bars(frame: pd.DataFrame):
    """How close TV and GD (and the baseline) are to ICL: one panel per metric (agreement with
    ICL's answer, KL from ICL, top-10 overlap), pretrained model solid, random-init control
    hatched, with intervals.

    Args:
        frame: ``kind`` in (agreement, distribution) rows over tasks: ``metric, condition,
            model_init, value, low, high``.
    """
    theme()
    metrics = list(dict.fromkeys(frame["metric"]))
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(3.3 * len(metrics) + 0.6, 3.5), squeeze=False
    )
    for ax, metric in zip(axes[0], metrics, strict=True):
        rows = frame[frame["metric"] == metric]
        conditions = [c for c in ("baseline", "tv", "gd") if c in set(rows["condition"])]
        inits = [i for i in ("pretrained", "random") if i in set(rows["model_init"])]
        x = np.arange(len(conditions))
        for j, init in enumerate(inits):
            part = rows[rows["model_init"] == init].set_index("condition").reindex(conditions)
            interval_bars(
                ax,
                x + (j - (len(inits) - 1) / 2) * 0.38,
                part["value"].to_numpy(dtype=float),
                part["low"],
                part["high"],
                width=0.36,
                color=[CONDITION_COLOURS[c] for c in conditions],
                alpha=0.45 if init == "random" else 1.0,
                hatch=PAPER_HATCH if init == "random" else None,
            )
        ax.set_xticks(
            x, [CONDITION_LABELS[c].replace(" (zero-shot)", "") for c in conditions], fontsize=8.5
        )
        ax.set_title(metric.replace("_", " "), fontsize=10)
    handles = [
        Patch(facecolor="#a0aec0", label="pretrained model"),
        Patch(
            facecolor="#a0aec0",
            alpha=0.45,
            hatch=PAPER_HATCH,
            edgecolor="white",
            label="random-init control",
        ),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=2, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig


def order_dots(frame: pd.DataFrame, tasks: Sequence[str]):
    """GD (one demonstration per step, several orders) against ICL over the same orders: one
    panel per metric, per task, with intervals.

    Args:
        frame: ``kind == order`` rows: ``task, condition, metric, value, low, high``.
    """
    theme()
    metrics = list(dict.fromkeys(frame["metric"]))
    fig, axes = plt.subplots(
        1,
        len(metrics),
        figsize=(max(7.0, 3.8 * len(metrics) + 1.4), 1.2 + 0.42 * len(tasks)),
        sharey=True,
        squeeze=False,
    )
    y = np.arange(len(tasks))[::-1]
    conditions = [c for c in ("icl", "tv", "gd") if c in set(frame["condition"])]
    for ax, metric in zip(axes[0], metrics, strict=True):
        rows = frame[frame["metric"] == metric]
        for k, condition in enumerate(conditions):
            part = rows[rows["condition"] == condition].set_index("task").reindex(tasks)
            offset = (k - (len(conditions) - 1) / 2) * 0.22
            interval_dots(
                ax,
                part["value"],
                y - offset,
                part["low"],
                part["high"],
                color=CONDITION_COLOURS[condition],
            )
        ax.set_title(metric.replace("_", " "), fontsize=10)
    axes[0][0].set_yticks(y, [task_label(t) for t in tasks])
    condition_legend(fig, conditions)
    fig.tight_layout()
    return fig


def n_demos_lines(frame: pd.DataFrame, tasks: Sequence[str]):
    """Accuracy of ICL, TV and GD against the number of demonstrations, one panel per task.

    Args:
        frame: ``kind == n_demos`` rows: ``task, condition, n_demos, value, low, high``.
    """
    theme()
    fig, axes = panel_grid(len(tasks), 4, panel=(2.8, 2.3), margin=(0.4, 0.6))
    conditions = [c for c in ("icl", "tv", "gd") if c in set(frame["condition"])]
    for ax, task in zip(axes.flat, tasks, strict=False):
        for condition in conditions:
            part = frame[(frame["task"] == task) & (frame["condition"] == condition)]
            part = part.sort_values("n_demos")
            ax.errorbar(
                part["n_demos"],
                part["value"],
                yerr=errors(part["value"], part["low"], part["high"]),
                color=CONDITION_COLOURS[condition],
                marker="o",
                ms=3.5,
                lw=1.5,
                elinewidth=0.9,
            )
        ax.set_title(task_label(task), fontsize=9)
        ax.set_xscale("log", base=2)
        ax.set_ylim(-0.03, 1.05)
    demos = sorted(int(n) for n in frame["n_demos"].dropna().unique())
    for ax in axes[-1]:
        ax.set_xticks(demos, [str(n) for n in demos])
        ax.set_xlabel("demonstrations")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy")
    condition_legend(fig, conditions)
    fig.tight_layout()
    return fig
