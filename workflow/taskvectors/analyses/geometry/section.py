"""The report section of the geometry analysis: renders its score tables
(``scores/geometry/<model>.parquet``) and computes no score."""

from __future__ import annotations

import pandas as pd

from taskvectors.analyses.geometry import figures
from taskvectors.report.context import Context
from taskvectors.report.page import (
    Cell,
    Row,
    Section,
    Table,
    fmt,
    plural,
)

TOP_K = 10
STATISTIC_LABELS = {
    "nn_accuracy": "1-NN task accuracy",
    "silhouette": "silhouette",
    "within_mean": "mean distance within a task",
    "across_mean": "mean distance across tasks",
}


def section(ctx: Context) -> Section:
    """t-SNE, within/across distances and the clustering statistics against their null."""
    section = Section(
        "geometry",
        "Geometry of task vectors",
        "Many vectors per task, from varied demonstrations and dummy queries (paper §4), at the "
        "layer of the best mean dev accuracy, centred on the mean of all tasks' vectors. If θ "
        "encodes the task, vectors of one task cluster: a nearest neighbour is of the same task "
        "far more often than under shuffled task labels (the permutation null).",
    )
    stats = []
    for model in ctx.models:
        scores = ctx.scores("geometry", model)
        points = scores[scores["kind"] == "tsne"]
        stat = scores[scores["kind"] == "stat"]
        layer = int(scores["layer"].iloc[0])
        overall = stat[stat["scope"] == "all"].set_index("statistic")["value"]
        means = {k: float(overall.get(f"{k}_mean", float("nan"))) for k in ("within", "across")}
        section.add(
            ctx.out.figure(
                f"geometry_{model}",
                figures.geometry_panels(points, scores[scores["kind"] == "distance"], means),
                f"{model}: task vectors at layer {layer}",
                f"{len(points)} vectors of {plural(points['task'].nunique(), 'task')}. Left: "
                "t-SNE. Right: cosine distances between centred vectors, within one task and "
                "across tasks (a sample of pairs); dashed: the means.",
                points[["task", "x", "y"]].assign(model=model, layer=layer),
            )
        )
        stats.append(stat.assign(model=model))
    section.add(_geometry_table(ctx, pd.concat(stats, ignore_index=True)))
    return section


def _geometry_table(ctx: Context, stat: pd.DataFrame) -> Table:
    rows = []
    for r in stat.itertuples():
        null = not pd.isna(r.null_mean)
        rows.append(
            Row(
                [
                    Cell(r.model, cls="name"),
                    Cell(f"L{int(r.layer)}"),
                    Cell("all tasks" if r.scope == "all" else str(r.scope).replace("|", " · ")),
                    Cell(STATISTIC_LABELS.get(r.statistic, r.statistic)),
                    Cell(fmt(r.value, 3)),
                    Cell(fmt(r.null_mean, 3) if null else "–"),
                    Cell(fmt(r.null_p95, 3) if null else "–"),
                    Cell(fmt(r.p_value, 3) if null else "–"),
                ]
            )
        )
    columns = [
        "Model",
        "Layer",
        "Scope",
        "Statistic",
        "Value",
        "Null mean",
        "Null 95th pct.",
        "p-value",
    ]
    return Table(
        "geometry_stats",
        "Do the vectors cluster by task? Each statistic against a label-permutation null (the "
        "same statistic with shuffled task labels); 'shared inputs' scopes keep only tasks "
        "whose inputs are alike (e.g. next/prev letter), so surface form cannot separate them.",
        columns,
        rows,
        ctx.out.data("geometry_stats", stat),
        4,
    )
