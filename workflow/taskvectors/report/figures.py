"""The main results' figures: headline bars, per-task accuracies and the layer sweeps.

Every figure uses the same colour per condition (``CONDITION_COLOURS``) and draws each number
with its 95% interval as an error bar or band, exactly as the tables give them; the paper's
numbers are drawn hatched and lighter (the paper publishes no intervals). Each function returns a
``matplotlib.figure.Figure``; saving and embedding is ``page.Output``'s job.
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
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from taskvectors.report.names import short_task_name  # noqa: E402

CONDITION_COLOURS = {
    "baseline": "#9aa0a6",
    "tv": "#e0542d",
    "fv": "#b7791f",
    "icl": "#2b6cb0",
    "gd": "#2f855a",
    "majority": "#4a5568",
    "copy": "#805ad5",
}
CONDITION_LABELS = {
    "baseline": "Baseline (zero-shot)",
    "tv": "Task vector",
    "fv": "Function vector",
    "icl": "ICL",
    "gd": "Gradient descent",
    "majority": "Majority answer",
    "copy": "Copy the input",
}
MAIN = ("baseline", "tv", "icl")
LEGEND_ORDER = (
    "Baseline (zero-shot)",
    "Task vector",
    "Function vector",
    "ICL",
    "Majority answer",
    "Task vector, paper",
    "ICL, paper",
    "Copy the input",
)
PAPER_ALPHA = 0.45
PAPER_HATCH = "////"
INK = "#2d3748"
PAPER_GREY = "#718096"

_RC = {
    "axes.edgecolor": "#cbd5e0",
    "axes.labelcolor": INK,
    "axes.titleweight": "bold",
    "axes.titlesize": 10.5,
    "text.color": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "grid.color": "#edf2f7",
    "legend.frameon": False,
    "font.size": 9.5,
    "hatch.linewidth": 0.6,
    "errorbar.capsize": 2.5,
}


def theme() -> None:
    """The report's seaborn theme (white grid, muted ink)."""
    sns.set_theme(style="whitegrid", rc=_RC)


def errors(values: Sequence[float], low: Sequence[float], high: Sequence[float]) -> np.ndarray:
    """Asymmetric error-bar lengths ``(2, n)`` from an estimate and its interval (NaN → 0)."""
    values = np.asarray(values, dtype=float)
    below = np.nan_to_num(values - np.asarray(low, dtype=float), nan=0.0)
    above = np.nan_to_num(np.asarray(high, dtype=float) - values, nan=0.0)
    return np.vstack([np.clip(below, 0, None), np.clip(above, 0, None)])


def condition_handles(conditions: Sequence[str], paper: bool = False) -> list:
    """Legend patches for ``conditions`` (plus the paper's hatch when ``paper``)."""
    handles = [Patch(color=CONDITION_COLOURS[c], label=CONDITION_LABELS[c]) for c in conditions]
    if paper:
        handles.append(
            Patch(facecolor="white", edgecolor=INK, hatch=PAPER_HATCH, label="Hendel et al. 2023")
        )
    return handles


def interval_bars(
    ax,
    x,
    values,
    low=None,
    high=None,
    *,
    width: float,
    color,
    alpha: float | None = None,
    hatch: str | None = None,
    linewidth: float | None = None,
    elinewidth: float = 0.8,
):
    """Bars of ``values`` at ``x``, white-edged, with the interval ``low``..``high`` of each as an
    error bar (none when ``low`` is None); returns the error-bar lengths (``errors``) or None.

    ``linewidth`` (the bar edges) and ``alpha`` default to matplotlib's."""
    yerr = None if low is None else errors(values, low, high)
    ax.bar(
        x,
        values,
        width,
        yerr=yerr,
        color=color,
        alpha=alpha,
        hatch=hatch,
        edgecolor="white",
        linewidth=linewidth,
        error_kw={"ecolor": INK, "elinewidth": elinewidth},
    )
    return yerr


def interval_dots(
    ax,
    values,
    y,
    low,
    high,
    *,
    color,
    fmt: str = "o",
    ms: float = 4.5,
    elinewidth: float = 1.3,
    **style,
) -> None:
    """Dots of ``values`` at heights ``y``, each with its interval ``low``..``high`` as a
    horizontal line without caps; ``style``: further ``errorbar`` settings (``label``, ``mfc``)."""
    ax.errorbar(
        values,
        y,
        xerr=errors(values, low, high),
        fmt=fmt,
        ms=ms,
        color=color,
        capsize=0,
        elinewidth=elinewidth,
        **style,
    )


def condition_legend(fig, conditions: Sequence[str]) -> None:
    """The legend of ``conditions`` (``condition_handles``) in one row above the panels."""
    fig.legend(
        handles=condition_handles(conditions),
        loc="lower center",
        ncol=len(conditions),
        bbox_to_anchor=(0.5, 1.0),
    )


def panel_grid(
    n_panels: int, max_cols: int, panel: tuple[float, float], margin: tuple[float, float]
):
    """``(fig, axes)``: small multiples sharing both axes, at most ``max_cols`` a row, each panel
    ``panel`` inches (width, height) plus ``margin`` for the figure; unused cells hidden."""
    ncols = min(max_cols, n_panels)
    nrows = math.ceil(n_panels / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(panel[0] * ncols + margin[0], panel[1] * nrows + margin[1]),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    for ax in list(axes.flat)[n_panels:]:
        ax.set_visible(False)
    return fig, axes


def _bar_group(ax, x: np.ndarray, frame: pd.DataFrame, *, paper: bool) -> None:
    """Baseline / TV / ICL bars around each ``x``, with error bars when the frame has them."""
    width = 0.26
    for i, condition in enumerate(MAIN):
        values = frame[condition].to_numpy(dtype=float)
        yerr = interval_bars(
            ax,
            x + (i - 1) * width,
            values,
            frame.get(f"{condition}_low"),
            frame.get(f"{condition}_high"),
            width=width * 0.92,
            color=CONDITION_COLOURS[condition],
            alpha=PAPER_ALPHA if paper else 1.0,
            hatch=PAPER_HATCH if paper else None,
            linewidth=0.5,
            elinewidth=0.9,
        )
        tops = values if yerr is None else values + yerr[1]
        for xi, value, top in zip(x, values, tops, strict=True):
            if not math.isnan(value):
                ax.text(
                    xi + (i - 1) * width,
                    top + 0.015,
                    f"{value:.2f}",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color=INK,
                )


def headline_bars(ours: pd.DataFrame, paper: pd.DataFrame):
    """Mean baseline / TV / ICL per model with 95% intervals (this run) beside the paper's
    per-model means (its Fig. 4).

    Args:
        ours: one row per model: ``label`` (tick text), ``ratio`` and, for each condition ``c``,
            ``c, c_low, c_high``.
        paper: ``model, baseline, tv, icl, tv_icl_ratio`` (the paper's means).
    """
    theme()
    n_ours, n_paper = max(len(ours), 1), max(len(paper), 1)
    fig, axes = plt.subplots(
        1,
        2,
        figsize=(2.4 + 1.3 * (n_ours + n_paper), 4.0),
        sharey=True,
        gridspec_kw={"width_ratios": [n_ours + 0.6, n_paper]},
    )
    for ax, frame, is_paper, ratio in (
        (axes[0], ours, False, "ratio"),
        (axes[1], paper, True, "tv_icl_ratio"),
    ):
        x = np.arange(len(frame))
        _bar_group(ax, x, frame, paper=is_paper)
        for xi, value in zip(x, frame[ratio], strict=True):
            if not pd.isna(value):
                ax.text(
                    xi,
                    1.12,
                    f"TV/ICL {value:.0%}",
                    ha="center",
                    fontsize=8.5,
                    fontweight="bold",
                    color=CONDITION_COLOURS["tv"],
                )
        labels = frame["label"] if "label" in frame else frame["model"]
        crowded = len(frame) > 6
        ax.set_xticks(
            x,
            labels,
            rotation=30 if crowded else 0,
            ha="right" if crowded else "center",
            fontsize=8.5,
        )
        ax.set_xlim(-0.6, len(frame) - 0.4)
    axes[0].set_title("This run (95% intervals)")
    axes[0].set_ylabel("mean test accuracy over tasks")
    axes[1].set_title("Hendel et al. 2023 (published means)")
    axes[0].set_ylim(0, 1.2)
    axes[0].set_yticks(np.linspace(0, 1, 6))
    fig.legend(
        handles=condition_handles(MAIN, paper=True),
        loc="lower center",
        ncol=4,
        bbox_to_anchor=(0.5, 0.99),
    )
    fig.tight_layout()
    return fig


def per_task_dots(frame: pd.DataFrame, model: str):
    """One model's test accuracy per task: baseline, TV and ICL with their intervals, the
    majority and copy baselines as marks, and the paper's TV and ICL (hollow) where published.

    Args:
        frame: one row per task in display order: ``task, family`` and, for each condition
            ``c`` of baseline, tv, icl, majority, copy: ``c, c_low, c_high``; optional
            ``paper_tv, paper_icl``; ``flagged`` (a baseline explains ICL or TV).
    """
    theme()
    n = len(frame)
    height = 1.3 + 0.5 * n
    fig, ax = plt.subplots(figsize=(9.6, height))
    y = np.arange(n)[::-1]
    for offset, condition in zip((-0.2, 0.0, 0.2), MAIN, strict=True):
        interval_dots(
            ax,
            frame[condition].to_numpy(dtype=float),
            y + offset,
            frame[f"{condition}_low"],
            frame[f"{condition}_high"],
            color=CONDITION_COLOURS[condition],
            ms=5,
            elinewidth=1.4,
            label=CONDITION_LABELS[condition],
        )
    for condition, marker in (("majority", "|"), ("copy", "x")):
        ax.scatter(
            frame[condition],
            y,
            marker=marker,
            s=70,
            color=CONDITION_COLOURS[condition],
            label=CONDITION_LABELS[condition],
            zorder=3,
            linewidths=1.6,
        )
    for column, condition in (("paper_tv", "tv"), ("paper_icl", "icl")):
        if column in frame and frame[column].notna().any():
            offset = 0.0 if condition == "tv" else 0.2
            ax.scatter(
                frame[column],
                y + offset,
                marker="D",
                s=26,
                facecolors="white",
                edgecolors=CONDITION_COLOURS[condition],
                linewidths=1.2,
                zorder=4,
                label=f"{CONDITION_LABELS[condition]}, paper",
            )
    labels = [
        short_task_name(t) + (" ⚑" if flag else "")
        for t, flag in zip(frame["task"], frame["flagged"], strict=True)
    ]
    ax.set_yticks(y, labels)
    families = list(frame["family"])
    for i in range(1, n):
        if families[i] != families[i - 1]:
            ax.axhline(y[i] + 0.5, color="#cbd5e0", lw=0.8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel("test accuracy (95% Wilson interval)")
    ax.set_title(
        f"{model}: accuracy per task (⚑ a trivial baseline reaches ICL's or TV's interval)",
        fontsize=10,
    )
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: LEGEND_ORDER.index(labels[i]))
    fig.legend(
        [handles[i] for i in order],
        [labels[i] for i in order],
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=4,
        fontsize=8.5,
    )
    fig.tight_layout()
    return fig


def sweep_grid(
    sweeps: pd.DataFrame,
    levels: pd.DataFrame,
    paper_curves: pd.DataFrame,
    n_layers: int,
    ncols: int = 6,
):
    """Small multiples of one model's task-vector accuracy by layer, with 95% bands.

    Dev accuracy (solid, with its band) chooses the layer (marked; "no best layer" when none);
    test accuracy is light (a point when only the best layer was run on test); ICL and the
    baseline are horizontal lines with their bands; the paper's dev curves of the same task
    (GPT-J 6B, LLaMA 7B, Pythia 6.9B) are thin grey lines placed by relative depth.

    Args:
        sweeps: ``task, split, layer, accuracy, low, high, is_best`` of one model.
        levels: ``task, icl, icl_low, icl_high, baseline, baseline_low, baseline_high``.
        paper_curves: ``paper_model, task, depth, accuracy`` (the paper's per-task dev curves).
        n_layers: the model's number of layers (relative depth → layer).
    """
    theme()
    tasks = list(dict.fromkeys(sweeps["task"]))
    fig, axes = panel_grid(len(tasks), ncols, panel=(2.2, 1.95), margin=(0.4, 0.8))
    levels = levels.set_index("task")
    for ax, task in zip(axes.flat, tasks, strict=False):
        _sweep_panel(
            ax,
            sweeps[sweeps["task"] == task],
            levels.loc[task],
            paper_curves[paper_curves["task"] == task],
            n_layers,
        )
        ax.set_title(short_task_name(task), fontsize=9)
        ax.set_ylim(-0.03, 1.05)
    for ax in axes[-1]:
        ax.set_xlabel("layer")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy")
    tv = CONDITION_COLOURS["tv"]
    handles = [
        Line2D([], [], color=tv, lw=1.8, label="task vector, dev (95% band)"),
        Line2D([], [], color=tv, lw=1.2, alpha=0.45, marker=".", label="task vector, test"),
        Line2D([], [], color=INK, marker="o", lw=0, label="best layer (dev argmax)"),
        Line2D([], [], color=CONDITION_COLOURS["icl"], ls="--", label="ICL, test"),
        Line2D([], [], color=CONDITION_COLOURS["baseline"], ls=":", label="baseline, test"),
        Line2D([], [], color=PAPER_GREY, lw=0.8, label="paper, same task (by depth)"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig


def _sweep_panel(ax, rows: pd.DataFrame, level: pd.Series, paper: pd.DataFrame, n_layers: int):
    for condition, style in (("icl", "--"), ("baseline", ":")):
        colour = CONDITION_COLOURS[condition]
        ax.axhspan(
            level[f"{condition}_low"], level[f"{condition}_high"], color=colour, alpha=0.08, lw=0
        )
        ax.axhline(level[condition], color=colour, lw=1, ls=style)
    for _, curve in paper.groupby("paper_model"):
        ax.plot(
            curve["depth"] * (n_layers - 1), curve["accuracy"], color=PAPER_GREY, lw=0.7, alpha=0.55
        )
    colour = CONDITION_COLOURS["tv"]
    rows = rows.sort_values("layer")
    dev, test = rows[rows["split"] == "dev"], rows[rows["split"] == "test"]
    ax.fill_between(dev["layer"], dev["low"], dev["high"], color=colour, alpha=0.15, lw=0)
    ax.plot(dev["layer"], dev["accuracy"], color=colour, lw=1.8)
    ax.errorbar(
        test["layer"],
        test["accuracy"],
        yerr=errors(test["accuracy"], test["low"], test["high"]) if len(test) < 3 else None,
        color=colour,
        alpha=0.45,
        lw=1.2,
        marker="." if len(test) < 3 else None,
    )
    best = dev[dev["is_best"]]
    if best.empty:
        ax.text(
            0.97,
            0.93,
            "no best layer",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=7.5,
            color="#c53030",
        )
        return
    layer, value = int(best["layer"].iloc[0]), float(best["accuracy"].iloc[0])
    ax.axvline(layer, color=INK, lw=0.7, ls=":", alpha=0.6)
    ax.plot([layer], [value], "o", color=colour, ms=5, mec="white", mew=1)
    ax.annotate(
        f"L{layer}",
        (layer, value),
        xytext=(4, 4),
        textcoords="offset points",
        fontsize=8,
        color=INK,
    )


def depth_overview(ours: pd.DataFrame, paper_means: pd.DataFrame, models: Sequence[str]):
    """Every task's dev curve of this run's models against relative depth (thin lines), beside
    the paper's mean dev curves of GPT-J 6B, LLaMA 7B and Pythia 6.9B (dashed).

    Args:
        ours: ``model, task, depth, accuracy`` (dev rows of the sweeps).
        paper_means: ``paper_model, depth, accuracy`` (the paper's per-model means).
    """
    theme()
    fig, ax = plt.subplots(figsize=(9.6, 3.9))
    colours = dict(zip(models, sns.color_palette("colorblind", max(len(models), 3)), strict=False))
    handles = []
    for model in models:
        for _, curve in ours[ours["model"] == model].groupby("task"):
            ax.plot(curve["depth"], curve["accuracy"], color=colours[model], lw=0.9, alpha=0.35)
        handles.append(
            Line2D([], [], color=colours[model], lw=1.5, label=f"{model}: one line per task")
        )
    greys = ("#1a202c", "#805ad5", "#2c7a7b")
    for colour, (name, curve) in zip(greys, paper_means.groupby("paper_model"), strict=False):
        ax.plot(curve["depth"], curve["accuracy"], color=colour, lw=1.6, ls="--")
        handles.append(
            Line2D([], [], color=colour, lw=1.6, ls="--", label=f"{name} (paper, mean of 18 tasks)")
        )
    ax.set_xlabel("relative depth  layer / (n_layers − 1)")
    ax.set_ylabel("dev accuracy")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8.5)
    fig.tight_layout()
    return fig


def model_colours(models: Sequence[str]) -> Mapping[str, tuple]:
    """Distinct colours for models."""
    return dict(zip(models, sns.color_palette("colorblind", max(len(models), 3)), strict=False))


def task_palette(tasks: Sequence[str]) -> dict[str, tuple]:
    """Distinct colours for up to ~20 tasks."""
    base = sns.color_palette("tab20", 20) if len(tasks) > 10 else sns.color_palette("tab10", 10)
    return {task: base[i % len(base)] for i, task in enumerate(tasks)}
