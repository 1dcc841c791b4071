"""The report section of the recognition/learning analysis: renders its score tables
(``scores/recognition_learning/<model>.parquet``) and computes no score."""

from __future__ import annotations

import pandas as pd

from taskvectors.analyses.recognition_learning import figures
from taskvectors.report.context import Context
from taskvectors.report.names import short_task_name
from taskvectors.report.page import Cell, Row, Section, Table, interval_cell, with_interval

METHOD_NAMES = {"icl": "ICL", "tv": "the task vector", "fv": "the function vector"}
QUESTIONS = (
    ("familiar", ("shuffled", "random"), "above_baseline", "recognition"),
    ("familiar", ("abstract",), "above_chance", "learning"),
    ("novel", ("gold", "show_query"), "above_chance", "learning"),
)


def section(ctx: Context) -> Section:
    """Accuracy per condition for ICL, TV and FV, the sweeps, and the two verdicts."""
    section = Section(
        "recognition-learning",
        "Task recognition versus task learning",
        "The same test queries under four conditions of the same number of demonstrations: gold; "
        "shuffled (the outputs permuted among the demonstrations); random (each output drawn from "
        "the task's answers); abstract (every answer replaced by an unrelated single-token label, "
        "in the demonstrations and the target); and tasks absent from pretraining (novel, gold "
        "only; show_query: the query's own pair among the demonstrations). Recognition: shuffled "
        "or random still above the zero-shot baseline against the gold answer. Learning: "
        "abstract, or a novel task, above chance (1 / the number of distinct targets). The task "
        "vector is θ of the condition's demonstrations at the condition's best dev layer. The "
        "function vector (when the function-vector analysis runs) sums the condition's mean "
        "outputs, over its dev ICL prompts, of the universal heads that analysis found, added at "
        "its layer (its k and layer for a task it covers, else its most common ones). "
        "Intervals: Wilson for accuracies, paired bootstrap for differences (95%).",
    )
    for model in ctx.models:
        scores = ctx.scores("recognition_learning", model)
        if scores.empty:
            continue
        for sentence in verdict_sentences(scores, model):
            section.verdict(sentence)
        tasks = list(dict.fromkeys(scores.loc[scores["task"] != "overall", "task"]))
        accuracy = scores[(scores["metric"] == "accuracy") & (scores["target"] == "condition")]
        section.add(
            ctx.out.figure(
                f"recognition_learning_{model}",
                figures.condition_panels(accuracy, tasks),
                f"{model}: accuracy per condition, baseline, task vector, function vector and ICL",
                "Test accuracy against each condition's own target (abstract: the labels), with "
                "95% Wilson intervals; one panel per task.",
                accuracy,
            )
        )
        sweep = scores[scores["metric"] == "sweep"]
        section.add(
            ctx.out.figure(
                f"recognition_learning_sweep_{model}",
                figures.sweep_panels(sweep, tasks),
                f"{model}: task-vector layer sweeps, gold against abstract and novel",
                "Dev accuracy of θ patched at each layer, with 95% Wilson bands.",
                sweep,
            )
        )
        section.add(_table(ctx, model, scores, tasks))
    return section


def verdict_sentences(scores: pd.DataFrame, model: str) -> list[str]:
    """One sentence per question (recognition, learning on abstract, learning on novel tasks)
    and method, from the pooled ``overall`` rows."""
    sentences = []
    for pool, conditions, metric, question in QUESTIONS:
        for method, name in METHOD_NAMES.items():
            rows = scores[
                (scores["task"] == "overall") & (scores["family"] == pool)
                & (scores["metric"] == metric) & (scores["method"] == method)
                & scores["condition"].isin(conditions)
            ]  # fmt: skip
            parts = [
                f"{r['condition']} {with_interval(r['value'], r['low'], r['high'], signed=True)} "
                f"({r['verdict']}, n = {int(r['n'])})"
                for _, r in rows.iterrows()
            ]
            if parts:
                against = "the baseline" if metric == "above_baseline" else "chance"
                sentences.append(
                    f"{model}, {question} ({pool} tasks), {name}: accuracy above {against}: "
                    + "; ".join(parts) + "."
                )  # fmt: skip
    return sentences


def _value(scores: pd.DataFrame, **keys) -> pd.Series | None:
    mask = pd.Series(True, index=scores.index)
    for column, value in keys.items():
        mask &= scores[column] == value
    rows = scores[mask]
    return rows.iloc[0] if len(rows) else None


def _layer(row: pd.Series | None) -> str:
    return "–" if row is None or pd.isna(row["value"]) else f"L{int(row['value'])}"


def _table(ctx: Context, model: str, scores: pd.DataFrame, tasks: list[str]) -> Table:
    columns = ["Task", "Condition", "Best layer", "Baseline", "ICL", "ICL vs gold answer", "TV",
               "TV vs gold answer", "FV", "FV vs gold answer", "ICL − gold", "TV − gold",
               "FV − gold"]  # fmt: skip
    rows = []
    for task in tasks:
        part = scores[scores["task"] == task]
        for condition in dict.fromkeys(part["condition"]):
            layer = _value(part, condition=condition, metric="best_layer")
            cells = [
                Cell(short_task_name(task), cls="name", title=task),
                Cell(condition),
                Cell(_layer(layer)),
            ]  # fmt: skip
            for method, target, metric in (
                ("baseline", "condition", "accuracy"), ("icl", "condition", "accuracy"),
                ("icl", "gold", "accuracy"), ("tv", "condition", "accuracy"),
                ("tv", "gold", "accuracy"), ("fv", "condition", "accuracy"),
                ("fv", "gold", "accuracy"), ("icl", "condition", "diff_vs_gold"),
                ("tv", "condition", "diff_vs_gold"), ("fv", "condition", "diff_vs_gold"),
            ):  # fmt: skip
                r = _value(part, condition=condition, method=method, target=target, metric=metric)
                kind = method
                cells.append(
                    Cell("–") if r is None else interval_cell(r["value"], r["low"], r["high"], kind)
                )
            rows.append(Row(cells))
    return Table(
        f"recognition_learning_{model}_table",
        f"{model}: accuracy per task and condition (target: the condition's own answer unless "
        "'vs gold answer').",
        columns,
        rows,
        ctx.out.data(f"recognition_learning_{model}_table", scores),
        2,
        compact=True,
    )
