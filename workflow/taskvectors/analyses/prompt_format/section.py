"""The report section of the prompt format analysis: renders its score tables
(``scores/prompt_format/<model>.parquet``) and computes no score."""

from __future__ import annotations

import pandas as pd

from taskvectors.analyses.prompt_format import figures
from taskvectors.report.context import Context
from taskvectors.report.names import short_task_name
from taskvectors.report.page import (
    Cell,
    Row,
    Section,
    Table,
    interval_cell,
)


def section(ctx: Context) -> Section:
    """The default run's accuracies beside the other spacing of the prompt."""
    section = Section(
        "prompt-format",
        "Prompt-format sensitivity",
        "The paper's code puts a space before the input and the answer for some tasks "
        "(example: ville-> city), and the format moves accuracy a lot. For each task where the "
        "spacing rule applies: baseline, ICL and TV (at the default run's best layer) under "
        "both spacings, with 95% Wilson intervals, beside the spacing the run itself uses.",
    )
    for model in ctx.models:
        scores = ctx.scores("prompt_format", model)
        section.add(
            ctx.out.figure(
                f"prompt_format_{model}",
                figures.prompt_format_dots(scores),
                f"{model}: accuracy under both spacings",
                "Filled circles: unspaced; hollow triangles: spaced. Lines: 95% intervals.",
                scores,
            )
        )
        section.add(_prompt_format_table(ctx, model, scores))
    return section


def _prompt_format_table(ctx: Context, model: str, scores: pd.DataFrame) -> Table:
    rows = []
    for task in [t for t in ctx.tasks if t in set(scores["task"])]:
        part = scores[scores["task"] == task]
        default = part.loc[part["is_default"].astype(bool), "spacing"]
        layer = part.loc[part["condition"] == "tv", "layer"]
        cells = [
            Cell(short_task_name(task), cls="name", title=task),
            Cell(default.iloc[0] if len(default) else "–"),
            Cell(f"L{int(layer.iloc[0])}" if len(layer) else "–"),
        ]
        for condition in ("baseline", "icl", "tv"):
            for spacing in ("none", "leading"):
                r = part[(part["condition"] == condition) & (part["spacing"] == spacing)]
                if r.empty:
                    cells.append(Cell("–"))
                    continue
                r = r.iloc[0]
                cells.append(interval_cell(r["accuracy"], r["low"], r["high"], condition))
        rows.append(Row(cells))
    columns = ["Task", "Run's spacing", "TV layer"]
    columns += [f"{c} · {s}" for c in ("Baseline", "ICL", "TV") for s in ("none", "leading")]
    return Table(
        f"prompt_format_{model}_table",
        f"{model}: test accuracy under both spacings (n per cell in the CSV).",
        columns,
        rows,
        ctx.out.data(f"prompt_format_{model}_table", scores),
        3,
    )
