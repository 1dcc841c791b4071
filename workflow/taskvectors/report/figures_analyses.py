"""The analyses' figures: geometry, conflicting tasks, order and prompt-format sensitivity.

Same conventions as ``figures``: one colour per condition, every number drawn with the interval
its score table gives, the paper's numbers hatched. Each function returns a matplotlib figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from taskvectors.analysis.common import short_task_name
from taskvectors.report.figures import (
    CONDITION_COLOURS,
    CONDITION_LABELS,
    INK,
    PAPER_HATCH,
    condition_handles,
    condition_legend,
    interval_bars,
    interval_dots,
    theme,
)

WITHIN_COLOUR, ACROSS_COLOUR = "#d69e2e", "#a0aec0"


def task_palette(tasks: Sequence[str]) -> dict[str, tuple]:
    """Distinct colours for up to ~20 tasks."""
    base = sns.color_palette("tab20", 20) if len(tasks) > 10 else sns.color_palette("tab10", 10)
    return {task: base[i % len(base)] for i, task in enumerate(tasks)}


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


CONFLICT_SERIES = (
    ("icl", "to_a", False, "ICL → answer of A (demos)"),
    ("icl", "to_b", True, "ICL → answer of B"),
    ("tv", "to_a", False, "θ of B patched → answer of A"),
    ("tv", "to_b", True, "θ of B patched → answer of B"),
)


def conflict_bars(panels: Sequence[tuple[str, pd.DataFrame]]):
    """Per (A demos, B vector) pair: how often the prediction is A's or B's answer under ICL and
    under the patched θ_B, with 95% intervals. One panel per model, then the paper's.

    Args:
        panels: ``(title, frame)``; a frame has ``pair`` and, for ``s`` in ``icl_to_a,
            icl_to_b, tv_to_a, tv_to_b``: ``s`` and (optionally) ``s_low, s_high``.
    """
    theme()
    n_pairs = max(len(frame) for _, frame in panels)
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(1.4 + (1.3 * n_pairs + 0.6) * len(panels), 3.9),
        sharey=True,
        squeeze=False,
    )
    for ax, (title, frame) in zip(axes[0], panels, strict=True):
        x = np.arange(len(frame))
        for i, (condition, target, hatched, _) in enumerate(CONFLICT_SERIES):
            column = f"{condition}_{target}"
            interval_bars(
                ax,
                x + (i - 1.5) * 0.2,
                frame[column],
                frame.get(f"{column}_low"),
                frame.get(f"{column}_high"),
                width=0.19,
                color=CONDITION_COLOURS[condition],
                alpha=0.5 if hatched else 1.0,
                hatch=PAPER_HATCH if hatched else None,
                linewidth=0.4,
            )
        ax.set_xticks(x, [p.replace(" → ", "\n→ ") for p in frame["pair"]], fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, 1.05)
    axes[0][0].set_ylabel("fraction of predictions")
    handles = [
        Patch(
            facecolor=CONDITION_COLOURS[c],
            alpha=0.5 if h else 1.0,
            hatch=PAPER_HATCH if h else None,
            edgecolor="white",
            label=label,
        )
        for c, _, h, label in CONFLICT_SERIES
    ]
    fig.legend(handles=handles, loc="lower center", ncol=4, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig


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


SPACING_MARKERS = {"none": "o", "leading": "^"}


def prompt_format_dots(frame: pd.DataFrame):
    """Accuracy of baseline, ICL and TV under both spacings, per task, with intervals.

    Args:
        frame: ``task, spacing, condition, accuracy, low, high`` of one model.
    """
    theme()
    tasks = list(dict.fromkeys(frame["task"]))
    conditions = [c for c in ("baseline", "tv", "icl") if c in set(frame["condition"])]
    fig, axes = plt.subplots(
        1,
        len(conditions),
        figsize=(3.6 * len(conditions) + 1.5, 1.6 + 0.5 * len(tasks)),
        sharey=True,
        squeeze=False,
    )
    y = np.arange(len(tasks))[::-1]
    for ax, condition in zip(axes[0], conditions, strict=True):
        for offset, spacing in ((0.12, "none"), (-0.12, "leading")):
            rows = frame[(frame["condition"] == condition) & (frame["spacing"] == spacing)]
            rows = rows.set_index("task").reindex(tasks)
            interval_dots(
                ax,
                rows["accuracy"],
                y + offset,
                rows["low"],
                rows["high"],
                color=CONDITION_COLOURS[condition],
                fmt=SPACING_MARKERS[spacing],
                ms=5,
                elinewidth=1.2,
                mfc="white" if spacing == "leading" else CONDITION_COLOURS[condition],
            )
        ax.set_title(CONDITION_LABELS[condition])
        ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel("test accuracy")
    axes[0][0].set_yticks(y, [short_task_name(t) for t in tasks])
    handles = [
        Line2D(
            [],
            [],
            color=INK,
            marker=SPACING_MARKERS[s],
            lw=0,
            mfc="white" if s == "leading" else INK,
            label=label,
        )
        for s, label in (
            ("none", "unspaced  example:{x}->{y}"),
            ("leading", "spaced  example: {x}-> {y}"),
        )
    ]
    fig.legend(handles=handles, loc="lower center", ncol=2, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig


def legend_for(conditions: Sequence[str]) -> list:
    """Legend patches of the given conditions (re-exported for the GD figures)."""
    return condition_handles(conditions)
