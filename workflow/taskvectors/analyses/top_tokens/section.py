"""The report section of the top tokens analysis: renders its score tables
(``scores/top_tokens/<model>.parquet``) and computes no score."""

from __future__ import annotations

from taskvectors.report.context import Context
from taskvectors.report.names import display_token, short_task_name
from taskvectors.report.page import (
    Cell,
    Row,
    Section,
    Table,
)

TOP_K = 10


def section(ctx: Context) -> Section:
    """The tokens each task's mean θ ranks highest at the task's best layer."""
    section = Section(
        "top-tokens",
        "Top tokens of the task vectors",
        f"The task's mean test θ at its best layer, read through the final norm and the "
        f"unembedding: the top {TOP_K} tokens (␣ marks a leading space).",
    )
    for model in ctx.models:
        scores = ctx.scores("top_tokens", model).sort_values(["task", "rank"], kind="stable")
        scores = scores[scores["rank"] < scores.groupby("task")["rank"].transform("min") + TOP_K]
        rows = []
        for task in [t for t in ctx.tasks if t in set(scores["task"])]:
            part = scores[scores["task"] == task]
            rows.append(
                Row(
                    [
                        Cell(short_task_name(task), cls="name", title=task),
                        Cell(f"L{int(part['layer'].iloc[0])}"),
                        Cell("", chips=[display_token(str(t)) for t in part["token"]]),
                    ]
                )
            )
        section.add(
            Table(
                f"top_tokens_{model}",
                f"{model}: top tokens at each task's best layer.",
                ["Task", "Layer", f"Top {TOP_K} tokens"],
                rows,
                ctx.out.data(f"top_tokens_{model}", scores),
                3,
            )
        )
    return section
