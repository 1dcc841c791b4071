"""The conflicts figures (same conventions as ``taskvectors.report.figures``: one colour per
condition, every number with its interval, the paper's numbers hatched)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from taskvectors.report.figures import (
    CONDITION_COLOURS,
    PAPER_HATCH,
    interval_bars,
    theme,
)

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
