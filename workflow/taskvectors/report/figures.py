"""The report's figures (matplotlib, Agg backend; seaborn for the theme).

Every figure uses the same colours for the three conditions, ``CONDITION_COLOURS``: grey for the
zero-shot baseline, vermilion for the task vector, blue for ICL. The paper's numbers are drawn in
the same colours, hatched and lighter, so ours and theirs read side by side. Each function returns
a ``matplotlib.figure.Figure``; saving and embedding is ``page.Output``'s job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from taskvectors.analysis.common import short_task_name  # noqa: E402

CONDITION_COLOURS = {"baseline": "#9aa0a6", "tv": "#e0542d", "icl": "#2b6cb0"}
CONDITION_LABELS = {"baseline": "Baseline (zero-shot)", "tv": "Task vector", "icl": "ICL"}
PAPER_ALPHA = 0.45
PAPER_HATCH = "////"
WITHIN_COLOUR, ACROSS_COLOUR = "#2f855a", "#a0aec0"
INK = "#2d3748"

_RC = {
    "axes.edgecolor": "#cbd5e0",
    "axes.labelcolor": INK,
    "axes.titleweight": "bold",
    "axes.titlesize": 11,
    "text.color": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "grid.color": "#edf2f7",
    "legend.frameon": False,
    "font.size": 9.5,
    "hatch.linewidth": 0.6,
}


def _theme():
    sns.set_theme(style="whitegrid", rc=_RC)


def model_palette(names: Sequence[str]) -> dict[str, tuple]:
    """Distinct colours for models (curves of several models on one axis)."""
    colours = sns.color_palette("colorblind", max(len(names), 3))
    return dict(zip(names, colours, strict=False))


def task_palette(tasks: Sequence[str]) -> dict[str, tuple]:
    """Distinct colours for up to ~20 tasks (t-SNE)."""
    base = sns.color_palette("tab20", 20) if len(tasks) > 10 else sns.color_palette("tab10", 10)
    return {task: base[i % len(base)] for i, task in enumerate(tasks)}


def _condition_legend(ax_or_fig, paper: bool, **kwargs) -> None:
    handles = [
        Patch(color=CONDITION_COLOURS[c], label=CONDITION_LABELS[c])
        for c in ("baseline", "tv", "icl")
    ]
    if paper:
        handles.append(
            Patch(facecolor="white", edgecolor=INK, hatch=PAPER_HATCH, label="Hendel et al. 2023")
        )
    ax_or_fig.legend(handles=handles, **kwargs)


def _grouped_bars(ax, means: pd.DataFrame, paper: bool) -> None:
    width = 0.26
    x = np.arange(len(means))
    for i, condition in enumerate(("baseline", "tv", "icl")):
        ax.bar(
            x + (i - 1) * width,
            means[condition],
            width * 0.92,
            color=CONDITION_COLOURS[condition],
            alpha=PAPER_ALPHA if paper else 1.0,
            hatch=PAPER_HATCH if paper else None,
            edgecolor="white",
            linewidth=0.5,
        )
    for xi, row in zip(x, means.itertuples(), strict=True):
        for i, condition in enumerate(("baseline", "tv", "icl")):
            value = getattr(row, condition)
            ax.text(
                xi + (i - 1) * width,
                value + 0.015,
                f"{value:.2f}",
                ha="center",
                va="bottom",
                fontsize=7.5,
                color=INK,
            )
        if not math.isnan(row.tv_icl_ratio):
            ax.text(
                xi,
                1.1,
                f"TV/ICL {row.tv_icl_ratio:.0%}",
                ha="center",
                fontsize=8.5,
                fontweight="bold",
                color=CONDITION_COLOURS["tv"],
            )
    many = len(means) > 8
    unfiltered = ~means["filtered"] if "filtered" in means else [False] * len(means)
    labels = [
        f"{m}\n{int(n)} tasks" + (", unfiltered" if u else "")
        for m, n, u in zip(means["model"], means["n_tasks"], unfiltered, strict=True)
    ]
    ax.set_xticks(
        x, labels, rotation=30 if many else 0, ha="right" if many else "center", fontsize=8.5
    )
    ax.set_ylim(0, 1.18)
    ax.set_xlim(-0.6, len(means) - 0.4)
    ax.set_yticks(np.linspace(0, 1, 6))


def headline_bars(ours: pd.DataFrame, paper: pd.DataFrame):
    """Mean baseline / TV / ICL per model, this run beside the paper (its Fig. 4)."""
    _theme()
    n_ours, n_paper = max(len(ours), 1), max(len(paper), 1)
    fig, axes = plt.subplots(
        1,
        2,
        figsize=(2.2 + 1.25 * (n_ours + n_paper), 3.9),
        sharey=True,
        gridspec_kw={"width_ratios": [n_ours + 0.6, n_paper]},
    )
    _grouped_bars(axes[0], ours, paper=False)
    axes[0].set_title("This run")
    axes[0].set_ylabel("mean test accuracy")
    _grouped_bars(axes[1], paper, paper=True)
    axes[1].set_title("Hendel et al. 2023 (published)")
    _condition_legend(fig, paper=True, loc="lower center", ncol=4, bbox_to_anchor=(0.5, 0.98))
    fig.tight_layout()
    return fig


def sweep_grid(sweeps: pd.DataFrame, best: Mapping[str, int], levels: pd.DataFrame, ncols=6):
    """Small multiples of one model's task-vector accuracy by layer: dev (solid) and test
    (light), best layer marked, the task's ICL and baseline accuracy as horizontal lines."""
    _theme()
    tasks = list(dict.fromkeys(sweeps["task"]))
    ncols = min(ncols, len(tasks))
    nrows = math.ceil(len(tasks) / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(2.15 * ncols + 0.4, 1.85 * nrows + 0.7),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    levels = levels.set_index("task")
    for ax, task in zip(axes.flat, tasks, strict=False):
        rows = sweeps[sweeps["task"] == task].sort_values("layer")
        test, dev = rows[rows["split"] == "test"], rows[rows["split"] == "dev"]
        if task in levels.index:
            ax.axhline(levels.at[task, "icl"], color=CONDITION_COLOURS["icl"], lw=1, ls="--")
            ax.axhline(
                levels.at[task, "baseline"], color=CONDITION_COLOURS["baseline"], lw=1, ls=":"
            )
        ax.plot(test["layer"], test["accuracy"], color=CONDITION_COLOURS["tv"], alpha=0.35, lw=1.3)
        ax.plot(dev["layer"], dev["accuracy"], color=CONDITION_COLOURS["tv"], lw=1.8)
        if task in best:
            at = dev[dev["layer"] == best[task]]["accuracy"]
            ax.axvline(best[task], color=INK, lw=0.7, ls=":", alpha=0.6)
            if len(at):
                ax.plot(
                    [best[task]],
                    [at.iloc[0]],
                    "o",
                    color=CONDITION_COLOURS["tv"],
                    ms=5,
                    mec="white",
                    mew=1,
                )
                ax.annotate(
                    f"L{best[task]}",
                    (best[task], at.iloc[0]),
                    xytext=(4, 4),
                    textcoords="offset points",
                    fontsize=8,
                    color=INK,
                )
        ax.set_title(short_task_name(task), fontsize=9)
        ax.set_ylim(-0.03, 1.05)
    for ax in list(axes.flat)[len(tasks) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("layer")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy")
    handles = [
        plt.Line2D([], [], color=CONDITION_COLOURS["tv"], lw=1.8, label="task vector, dev"),
        plt.Line2D(
            [], [], color=CONDITION_COLOURS["tv"], lw=1.3, alpha=0.35, label="task vector, test"
        ),
        plt.Line2D([], [], color=INK, marker="o", lw=0, label="best layer (dev argmax)"),
        plt.Line2D([], [], color=CONDITION_COLOURS["icl"], ls="--", label="ICL (test)"),
        plt.Line2D([], [], color=CONDITION_COLOURS["baseline"], ls=":", label="baseline (test)"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=5, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig


def depth_curves(ours: pd.DataFrame, paper: pd.DataFrame):
    """Mean dev accuracy over tasks against relative depth: this run's models (solid) beside
    the paper's GPT-J, LLaMA 7B and Pythia 6.9B (dashed)."""
    _theme()
    fig, ax = plt.subplots(figsize=(9.6, 3.9))
    models = list(dict.fromkeys(ours["model"]))
    colours = model_palette(models)
    for model in models:
        rows = ours[ours["model"] == model]
        ax.plot(
            rows["depth"],
            rows["accuracy"],
            color=colours[model],
            lw=2.2,
            marker="o",
            ms=3,
            label=f"{model} (this run)",
        )
    greys = dict(
        zip(dict.fromkeys(paper["paper_model"]), ("#4a5568", "#805ad5", "#2c7a7b"), strict=False)
    )
    for model, colour in greys.items():
        rows = paper[paper["paper_model"] == model]
        ax.plot(
            rows["depth"],
            rows["accuracy"],
            color=colour,
            lw=1.3,
            ls="--",
            alpha=0.8,
            label=f"{model} (paper)",
        )
    ax.set_xlabel("relative depth  layer / (n_layers − 1)")
    ax.set_ylabel("mean dev accuracy over tasks")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8.5)
    fig.tight_layout()
    return fig


def geometry_panels(
    embedding: np.ndarray, labels: Sequence[str], within: np.ndarray, across: np.ndarray, layer: int
):
    """t-SNE of the task vectors coloured by task, and within- vs across-task cosine distances."""
    _theme()
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.25, 1]}
    )
    tasks = list(dict.fromkeys(labels))
    colours = task_palette(tasks)
    labels = np.asarray(labels)
    for task in tasks:
        points = embedding[labels == task]
        left.scatter(
            points[:, 0],
            points[:, 1],
            s=16,
            color=colours[task],
            alpha=0.85,
            label=short_task_name(task),
            edgecolors="white",
            linewidths=0.3,
        )
    left.set_title(f"t-SNE of task vectors at layer {layer}")
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
    bins = np.linspace(0, max(within.max(initial=0), across.max(initial=0), 1e-6), 40)
    for values, colour, name in (
        (across, ACROSS_COLOUR, "across tasks"),
        (within, WITHIN_COLOUR, "within a task"),
    ):
        if len(values):
            right.hist(
                values,
                bins=bins,
                density=True,
                color=colour,
                alpha=0.65,
                label=f"{name} (mean {values.mean():.2f})",
            )
            right.axvline(values.mean(), color=colour, lw=1.8, ls="--")
    right.set_xlabel("cosine distance (1 − cos)")
    right.set_ylabel("density")
    right.set_title("Pairwise cosine distance")
    right.legend(fontsize=8.5)
    fig.tight_layout()
    return fig


def conflict_bars(rates: pd.DataFrame, paper: pd.DataFrame | None):
    """For each (A demos, B vector) pair: how often the prediction follows A and B, under ICL and
    under the patched θ_B. One panel per model, plus the paper's LLaMA 13B for reference."""
    _theme()
    panels = [(m, rates[rates["model"] == m]) for m in dict.fromkeys(rates["model"])]
    if paper is not None and len(paper):
        panels.append(("LLaMA 13B — Hendel et al. 2023", paper))
    n_pairs = max(len(p) for _, p in panels)
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(1.4 + (1.3 * n_pairs + 0.6) * len(panels), 3.8),
        sharey=True,
        squeeze=False,
    )
    series = (
        ("icl_to_a", "icl", False),
        ("icl_to_b", "icl", True),
        ("tv_to_a", "tv", False),
        ("tv_to_b", "tv", True),
    )
    for ax, (title, frame) in zip(axes[0], panels, strict=True):
        x = np.arange(len(frame))
        for i, (column, condition, hatched) in enumerate(series):
            ax.bar(
                x + (i - 1.5) * 0.2,
                frame[column],
                0.19,
                color=CONDITION_COLOURS[condition],
                alpha=0.5 if hatched else 1.0,
                hatch=PAPER_HATCH if hatched else None,
                edgecolor="white",
                linewidth=0.4,
            )
        ax.set_xticks(x, [p.replace(" → ", "\n→ ") for p in frame["pair"]], fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, 1.05)
    axes[0][0].set_ylabel("fraction of predictions")
    handles = [
        Patch(color=CONDITION_COLOURS["icl"], label="ICL → answer of A (demos)"),
        Patch(
            facecolor=CONDITION_COLOURS["icl"],
            alpha=0.5,
            hatch=PAPER_HATCH,
            edgecolor="white",
            label="ICL → answer of B",
        ),
        Patch(color=CONDITION_COLOURS["tv"], label="TV of B → answer of A"),
        Patch(
            facecolor=CONDITION_COLOURS["tv"],
            alpha=0.5,
            hatch=PAPER_HATCH,
            edgecolor="white",
            label="TV of B → answer of B",
        ),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=4, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig


def order_bars(order: pd.DataFrame):
    """Per task: agreement across demo permutations and accuracy spread, ICL beside TV."""
    _theme()
    models = list(dict.fromkeys(order["model"]))
    crowded = order["task"].nunique() > 8  # long rotated labels need room below the bars
    height = (3.8 if crowded else 2.9) * len(models) + 0.3
    fig, axes = plt.subplots(len(models), 2, figsize=(11, height), squeeze=False)
    for row, model in zip(axes, models, strict=True):
        frame = order[order["model"] == model]
        tasks = list(dict.fromkeys(frame["task"]))
        x = np.arange(len(tasks))
        for ax, metric, label in (
            (row[0], "agreement", "agreement (same answer in all orders)"),
            (row[1], "spread", "accuracy spread (max − min)"),
        ):
            for i, condition in enumerate(("icl", "tv")):
                values = frame[frame["condition"] == condition].set_index("task")[metric]
                ax.bar(
                    x + (i - 0.5) * 0.38,
                    values.reindex(tasks),
                    0.36,
                    color=CONDITION_COLOURS[condition],
                    label=CONDITION_LABELS[condition],
                )
            ax.set_xticks(
                x,
                [short_task_name(t) for t in tasks],
                rotation=60 if crowded else 25,
                ha="right",
                rotation_mode="anchor",
                fontsize=8 if crowded else None,
            )
            ax.set_title(f"{model}: {label}", fontsize=10)
            ax.set_ylim(0, 1.05 if metric == "agreement" else None)
    handles = [Patch(color=CONDITION_COLOURS[c], label=CONDITION_LABELS[c]) for c in ("icl", "tv")]
    fig.legend(handles=handles, loc="lower center", ncol=2, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig
