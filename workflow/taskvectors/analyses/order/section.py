"""The report section of the order analysis: renders its score tables
(``scores/order/<model>.parquet``) and computes no score."""

from __future__ import annotations

import pandas as pd

from taskvectors.analyses.order import figures
from taskvectors.report.context import Context
from taskvectors.report.names import short_task_name
from taskvectors.report.page import (
    Cell,
    Row,
    Section,
    Table,
    fmt,
    fmt_interval,
    interval_cell,
    plural,
    with_interval,
)


def section(ctx: Context) -> Section:
    """How much ICL and the task vector depend on the order of the demonstrations."""
    section = Section(
        "order",
        "Order sensitivity",
        "Each test example runs under several distinct orders of its demonstrations. "
        "Sensitivity: the fraction of pairs of orders whose answers differ (1 − pairwise "
        "agreement); agreement: answers equal to the original order's. The task vector is "
        "patched at the task's best layer. Intervals: bootstrap over examples; the TV − ICL "
        "difference is paired.",
    )
    for model in ctx.models:
        scores = ctx.scores("order", model)
        sensitivity = scores[(scores["metric"] == "sensitivity")]
        difference = sensitivity[sensitivity["condition"] == "tv_minus_icl"]
        overall = difference[difference["task"] == "overall"]
        if len(overall):
            r = overall.iloc[0]
            estimate = with_interval(r["value"], r["low"], r["high"], signed=True)
            section.p(
                f"{model}, over all tasks: TV more order-invariant than ICL — {r['verdict']} "
                f"(sensitivity TV − ICL {estimate}, {plural(int(r['n']), 'example')}, "
                f"{int(r['n_permutations'])} orders each)."
            )
        section.add(
            ctx.out.figure(
                f"order_{model}",
                figures.order_panels(
                    sensitivity[sensitivity["condition"] != "tv_minus_icl"], difference, model
                ),
                f"{model}: order sensitivity, ICL beside the task vector",
                "Left: sensitivity per task (and over tasks) with 95% intervals. Right: the paired "
                "difference TV − ICL; an interval entirely left of the dashed line means the task "
                "vector is more order-invariant.",
                scores,
            )
        )
        section.add(_order_table(ctx, model, scores))
    return section


def _order_value(scores: pd.DataFrame, task: str, condition: str, metric: str) -> pd.Series | None:
    rows = scores[
        (scores["task"] == task) & (scores["condition"] == condition) & (scores["metric"] == metric)
    ]
    return rows.iloc[0] if len(rows) else None


def _order_table(ctx: Context, model: str, scores: pd.DataFrame) -> Table:
    tasks = [t for t in ctx.tasks if t in set(scores["task"])] + ["overall"]
    rows = []
    for task in tasks:
        diff = _order_value(scores, task, "tv_minus_icl", "sensitivity")
        cells = [
            Cell(
                "over tasks" if task == "overall" else short_task_name(task), cls="name", title=task
            )
        ]
        first = diff if diff is not None else _order_value(scores, task, "icl", "sensitivity")
        cells += [Cell(str(int(first["n"]))), Cell(str(int(first["n_permutations"])))]
        for condition, metric in (
            ("icl", "agreement"),
            ("tv", "agreement"),
            ("icl", "sensitivity"),
            ("tv", "sensitivity"),
            ("icl", "accuracy_range"),
            ("tv", "accuracy_range"),
        ):
            r = _order_value(scores, task, condition, metric)
            cells.append(
                Cell("–")
                if r is None
                else interval_cell(r["value"], r["low"], r["high"], condition)
            )
        cells.append(
            Cell("–")
            if diff is None
            else Cell(
                fmt(diff["value"], signed=True),
                interval=fmt_interval(diff["low"], diff["high"], signed=True),
            )
        )
        cells.append(Cell("" if diff is None else str(diff["verdict"]), cls="verdict"))
        rows.append(Row(cells, cls="total" if task == "overall" else ""))
    columns = [
        "Task",
        "Examples",
        "Orders",
        "Agreement ICL",
        "Agreement TV",
        "Sensitivity ICL",
        "Sensitivity TV",
        "Acc. range ICL",
        "Acc. range TV",
        "TV − ICL",
        "TV more order-invariant?",
    ]
    return Table(
        f"order_{model}_table",
        f"{model}: order sensitivity per task.",
        columns,
        rows,
        ctx.out.data(f"order_{model}_table", scores),
        1,
        compact=True,
    )
