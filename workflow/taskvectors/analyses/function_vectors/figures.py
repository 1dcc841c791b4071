"""The function-vector figures (``taskvectors.report.figures`` conventions: the condition colours,
every number with its interval)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from taskvectors.report.figures import CONDITION_COLOURS, INK, errors, theme

FV_COLOUR = "#b7791f"


def cie_heatmap(cie: pd.DataFrame, title: str):
    """The mean CIE ``layer × head`` (rows: layers, bottom = first).

    Args:
        cie: ``layer, head, value``.
    """
    theme()
    grid = cie.pivot(index="layer", columns="head", values="value").sort_index()
    fig, ax = plt.subplots(figsize=(max(3.0, 0.5 * grid.shape[1] + 2), 0.28 * grid.shape[0] + 1.2))
    bound = float(np.nanmax(np.abs(grid.to_numpy()))) or 1.0
    image = ax.imshow(grid.to_numpy(), cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto",
                      origin="lower")  # fmt: skip
    ax.set_xticks(range(grid.shape[1]), [str(h) for h in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [str(layer) for layer in grid.index])
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(title, color=INK, fontsize=9)
    fig.colorbar(image, ax=ax, label="CIE (Δ P(answer))")
    return fig


def curve(rows: pd.DataFrame, x: str, xlabel: str, by: str | None = None):
    """Accuracy with its interval against ``x`` (one line per value of ``by``).

    Args:
        rows: ``x``, ``value, low, high`` (and ``by``).
    """
    theme()
    fig, ax = plt.subplots(figsize=(5.2, 3.0))
    groups = rows.groupby(by) if by else [("", rows)]
    colours = plt.get_cmap("viridis")(np.linspace(0.1, 0.85, max(1, len(groups))))
    for (name, part), colour in zip(groups, colours, strict=False):
        part = part.sort_values(x)
        label = f"k = {name}" if by else None
        ax.errorbar(part[x], part["value"], yerr=errors(part["value"], part["low"], part["high"]),
                    fmt="o-", ms=3, capsize=0, color=FV_COLOUR if not by else colour,
                    label=label)  # fmt: skip
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    if by:
        ax.legend(frameon=False, fontsize=7)
    return fig


def comparison_dots(rows: pd.DataFrame, tasks: list[str], labels: dict[str, str]):
    """FV, TV and ICL accuracy per task with intervals, one row per task.

    Args:
        rows: ``task, condition (fv, tv, icl), value, low, high``.
    """
    theme()
    fig, ax = plt.subplots(figsize=(5.6, 0.3 * len(tasks) + 1.0))
    y = np.arange(len(tasks))[::-1]
    for offset, condition in zip((-0.2, 0.0, 0.2), ("icl", "tv", "fv"), strict=True):
        part = rows[rows["condition"] == condition].set_index("task").reindex(tasks)
        colour = FV_COLOUR if condition == "fv" else CONDITION_COLOURS[condition]
        ax.errorbar(part["value"], y + offset,
                    xerr=errors(part["value"], part["low"], part["high"]), fmt="o", ms=4,
                    capsize=0, color=colour, label=condition.upper())  # fmt: skip
    ax.set_yticks(y, [labels.get(t, t) for t in tasks])
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("accuracy")
    ax.legend(frameon=False, fontsize=7, ncols=3, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return fig
