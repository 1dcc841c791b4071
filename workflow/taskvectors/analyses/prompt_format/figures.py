"""The prompt format figures (same conventions as ``taskvectors.report.figures``: one colour per
condition, every number with its interval, the paper's numbers hatched)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from taskvectors.report.figures import (
    CONDITION_COLOURS,
    CONDITION_LABELS,
    INK,
    interval_dots,
    theme,
)
from taskvectors.report.names import short_task_name

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
