"""The "ICL versus gradient descent" section, rendered from ``scores/gd/{model}.parquet``.

The score table is long: one row per (``kind``, ``task``, ``model_init``, ``condition``,
``metric``[, ``n_demos``]) with ``value, low, high, n`` and a ``text`` column for the chosen
hyperparameters and the verdict. The section shows, per model: accuracy bars (baseline, ICL, TV,
GD), closeness to ICL (agreement, KL, top-10 overlap) beside the random-init control, order
spread, accuracy against the number of demonstrations, the hyperparameters and the verdict
paragraph, all as the table gives them.
"""

from __future__ import annotations

import pandas as pd

from taskvectors.analyses.gd import figures
from taskvectors.report.context import Context
from taskvectors.report.page import Cell, Row, Section, Table, accuracy_cell, fmt, fmt_interval


def _tasks(ctx: Context, rows: pd.DataFrame) -> list[str]:
    """The tasks present in ``rows`` in the run's order, ``overall`` last."""
    present = set(rows["task"])
    return [t for t in ctx.tasks if t in present] + (["overall"] if "overall" in present else [])


def _over_tasks(rows: pd.DataFrame) -> pd.DataFrame:
    """The ``overall`` rows when the table has them, else every row."""
    overall = rows[rows["task"] == "overall"]
    return overall if len(overall) else rows


def section(ctx: Context) -> Section:
    """Accuracy, closeness to ICL, order, demonstrations, hyperparameters and the verdict."""
    section = Section(
        "gd",
        "ICL versus gradient descent",
        "For the same demonstrations S and test queries: ICL, the task vector θ(S), and the "
        "model fine-tuned on S by gradient descent (GD) and asked the zero-shot query (Shen et "
        "al. 2023 ask whether ICL behaves like GD). Closeness to ICL is measured by agreement "
        "with ICL's answer and by the output distribution at the answer position; a randomly "
        "initialised model of the same architecture shows what 'close' means by chance.",
    )
    for model in ctx.models:
        scores = ctx.tables.scores["gd"]
        scores = scores[scores["model"] == model]
        section.heading(model)
        _verdict(section, scores)
        _accuracy(ctx, section, model, scores)
        _similarity(ctx, section, model, scores)
        _order(ctx, section, model, scores)
        _n_demos(ctx, section, model, scores)
        _hyperparameters(ctx, section, model, scores)
    return section


def _verdict(section: Section, scores: pd.DataFrame) -> None:
    verdicts = scores[scores["kind"] == "verdict"]
    for r in _over_tasks(verdicts).itertuples():
        section.verdict(str(r.text))


def _accuracy(ctx: Context, section: Section, model: str, scores: pd.DataFrame) -> None:
    rows = scores[(scores["kind"] == "accuracy") & (scores["model_init"] == "pretrained")]
    tasks = _tasks(ctx, rows)
    section.add(
        ctx.out.figure(
            f"gd_accuracy_{model}",
            figures.accuracy_bars(rows, tasks),
            f"{model}: accuracy of baseline, ICL, task vector and GD",
            "Same test queries and scoring for every condition; error bars: 95% intervals.",
            rows,
        )
    )
    metric = rows["metric"].iloc[0]
    conditions = [c for c in figures.ACCURACY_CONDITIONS if c in set(rows["condition"])]
    table_rows = []
    for task in tasks:
        part = rows[(rows["task"] == task) & (rows["metric"] == metric)].set_index("condition")
        cells = [Cell(figures.task_label(task), cls="name", title=task)]
        n = part["n"].dropna()
        cells.append(Cell(str(int(n.iloc[0])) if len(n) else "–"))
        for condition in conditions:
            if condition not in part.index:
                cells.append(Cell("–"))
                continue
            r = part.loc[condition]
            cells.append(accuracy_cell(r["value"], condition, r["low"], r["high"]))
        table_rows.append(Row(cells, cls="total" if task == "overall" else ""))
    columns = ["Task", "n"] + [figures.CONDITION_LABELS[c] for c in conditions]
    section.add(
        Table(
            f"gd_accuracy_{model}_table",
            f"{model}: test accuracy ({metric.replace('_', ' ')}) with 95% intervals.",
            columns,
            table_rows,
            ctx.out.data(f"gd_accuracy_{model}_table", rows),
            2,
        )
    )


def _similarity(ctx: Context, section: Section, model: str, scores: pd.DataFrame) -> None:
    rows = _over_tasks(scores[scores["kind"].isin(["agreement", "distribution"])])
    if rows.empty:
        return
    section.add(
        ctx.out.figure(
            f"gd_similarity_{model}",
            figures.similarity_bars(rows),
            f"{model}: how close are the task vector and GD to ICL?",
            "Agreement: the fraction of test queries where the condition's answer equals ICL's. "
            "KL(ICL ‖ ·) in nats and top-10 overlap compare the next-token distributions at the "
            "answer position. Hatched: the same measures on a randomly initialised model.",
            rows,
        )
    )
    inits = [i for i in ("pretrained", "random") if i in set(rows["model_init"])]
    table_rows = []
    for (metric, condition), part in rows.groupby(["metric", "condition"], sort=False):
        by_init = part.set_index("model_init")
        cells = [
            Cell(metric.replace("_", " "), cls="name"),
            Cell(figures.CONDITION_LABELS.get(condition, condition), cls=f"cond {condition}"),
        ]
        for init in inits:
            r = by_init.loc[init] if init in by_init.index else None
            cells.append(
                Cell("–")
                if r is None
                else Cell(fmt(r["value"], 3), interval=fmt_interval(r["low"], r["high"], 3))
            )
        n = part["n"].dropna()
        cells.append(Cell(str(int(n.iloc[0])) if len(n) else "–"))
        table_rows.append(Row(cells))
    labels = {"pretrained": "Pretrained model", "random": "Random-init control"}
    section.add(
        Table(
            f"gd_similarity_{model}_table",
            f"{model}: closeness to ICL with 95% intervals.",
            ["Measure", "Condition", *[labels[i] for i in inits], "n"],
            table_rows,
            ctx.out.data(f"gd_similarity_{model}_table", rows),
            2,
        )
    )


def _order(ctx: Context, section: Section, model: str, scores: pd.DataFrame) -> None:
    rows = scores[scores["kind"] == "order"]
    if rows.empty:
        return
    section.add(
        ctx.out.figure(
            f"gd_order_{model}",
            figures.order_dots(rows, _tasks(ctx, rows)),
            f"{model}: order of the demonstrations, GD against ICL",
            "GD trains on one demonstration per step in each order; ICL sees the same orders. "
            "Dots: the measure over orders, lines: 95% intervals.",
            rows,
        )
    )


def _n_demos(ctx: Context, section: Section, model: str, scores: pd.DataFrame) -> None:
    rows = scores[scores["kind"] == "n_demos"]
    if rows.empty:
        section.note(f"{model}: the number-of-demonstrations experiment is switched off.")
        return
    section.add(
        ctx.out.figure(
            f"gd_n_demos_{model}",
            figures.n_demos_lines(rows, _tasks(ctx, rows)),
            f"{model}: accuracy against the number of demonstrations",
            "ICL, task vector and GD with 1, 2, 4 and 8 demonstrations; bars: 95% intervals.",
            rows,
        )
    )


def _hyperparameters(ctx: Context, section: Section, model: str, scores: pd.DataFrame) -> None:
    rows = scores[scores["kind"] == "hyperparameters"]
    if rows.empty:
        return
    table_rows = [
        Row(
            [
                Cell(figures.task_label(r.task), cls="name", title=r.task),
                Cell(str(r.metric)),
                Cell("" if pd.isna(r.value) else f"{r.value:g}"),
                Cell("" if pd.isna(r.text) else str(r.text), cls="left"),
            ]
        )
        for r in rows.itertuples()
    ]
    section.add(
        Table(
            f"gd_hyperparameters_{model}",
            f"{model}: GD settings chosen on the dev split (as the best layer is).",
            ["Task", "Setting", "Value", "Note"],
            table_rows,
            ctx.out.data(f"gd_hyperparameters_{model}", rows),
            2,
        )
    )
