"""The analyses' sections: geometry, top tokens, conflicting tasks, order and prompt format.

Each renders its analysis's score tables (``scores/{analysis}/{model}.parquet``, columns in
docs/outputs.md) and is left out of the page when the analysis is switched off (it has no score
tables among the inputs). Nothing here scores a prediction or resamples anything.
"""

from __future__ import annotations

import pandas as pd

from taskvectors.analysis.common import short_task_name
from taskvectors.analysis.reference import PAPER_CONFLICTS_MODEL, paper_conflicts
from taskvectors.analysis.tokens import display_token
from taskvectors.report import figures_analyses as figures
from taskvectors.report.context import Context
from taskvectors.report.page import (
    Cell,
    Row,
    Section,
    Table,
    accuracy_cell,
    fmt,
    fmt_interval,
    plural,
    with_interval,
)

TOP_K = 10
STATISTIC_LABELS = {
    "nn_accuracy": "1-NN task accuracy",
    "silhouette": "silhouette",
    "within_mean": "mean distance within a task",
    "across_mean": "mean distance across tasks",
}


def _scores(ctx: Context, analysis: str, model: str) -> pd.DataFrame:
    frame = ctx.tables.scores[analysis]
    return frame[frame["model"] == model]


# -- geometry -----------------------------------------------------------------------------------


def geometry_section(ctx: Context) -> Section:
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
        scores = _scores(ctx, "geometry", model)
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


# -- top tokens ---------------------------------------------------------------------------------


def top_tokens_section(ctx: Context) -> Section:
    """The tokens each task's mean θ ranks highest at the task's best layer."""
    section = Section(
        "top-tokens",
        "Top tokens of the task vectors",
        f"The task's mean test θ at its best layer, read through the final norm and the "
        f"unembedding: the top {TOP_K} tokens (␣ marks a leading space).",
    )
    for model in ctx.models:
        scores = _scores(ctx, "top_tokens", model).sort_values(["task", "rank"], kind="stable")
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


def _interval_cell(value: float, low: float, high: float, condition: str) -> Cell:
    """A compact number with its interval in the condition's colour (no bar)."""
    return Cell(fmt(value), cls=f"cond {condition}", interval=fmt_interval(low, high))


# -- conflicts ----------------------------------------------------------------------------------


def _pair_label(task_a: str, task_b: str) -> str:
    return f"{short_task_name(task_a)} → {short_task_name(task_b)}"


def _conflict_rows(ctx: Context, model: str) -> pd.DataFrame:
    """One row per pair: ICL's rates and θ_B's at B's best layer (``is_best``), with n."""
    scores = _scores(ctx, "conflicts", model)
    records = []
    for (task_a, task_b), rows in scores.groupby(["task_a", "task_b"], sort=False):
        record = {
            "model": model,
            "task_a": task_a,
            "task_b": task_b,
            "pair": _pair_label(task_a, task_b),
        }
        icl = rows[rows["condition"] == "icl"].iloc[0]
        best = rows[(rows["condition"] == "tv") & rows["is_best"].astype(bool)]
        tv = best.iloc[0] if len(best) else None
        record["layer"] = None if tv is None else int(tv["layer"])
        for name, row in (("icl", icl), ("tv", tv)):
            record[f"n_{name}"] = None if row is None else int(row["n"])
            for column in ("to_a", "to_a_low", "to_a_high", "to_b", "to_b_low", "to_b_high"):
                record[f"{name}_{column}"] = float("nan") if row is None else float(row[column])
        records.append(record)
    return pd.DataFrame(records)


def conflicts_section(ctx: Context) -> Section:
    """Demos of task A with θ of task B patched in: does the answer follow A or B?"""
    section = Section(
        "conflicts",
        "Conflicting tasks",
        "The ICL prompt of task A with the task vector of task B patched in at B's best layer "
        "(paper §5). If θ carries the task, the prediction follows B; the unpatched ICL run of "
        "the same prompts follows A. Rates with 95% Wilson intervals.",
    )
    frame = pd.concat([_conflict_rows(ctx, m) for m in ctx.models], ignore_index=True)
    paper = paper_conflicts()
    paper["pair"] = [
        _pair_label(a, b) for a, b in zip(paper["task_a"], paper["task_b"], strict=True)
    ]
    configured = {tuple(p) for p in ctx.conflict_pairs}
    shown = paper[
        [(a, b) in configured for a, b in zip(paper["task_a"], paper["task_b"], strict=True)]
    ]
    panels = [(m, frame[frame["model"] == m]) for m in ctx.models]
    if len(shown):
        panels.append((f"{PAPER_CONFLICTS_MODEL} — Hendel et al. 2023", shown))
    section.add(
        ctx.out.figure(
            "conflicts",
            figures.conflict_bars(panels),
            "Which task do the predictions follow?",
            f"Solid: the prediction is A's answer; hatched: B's. Error bars: 95% intervals. Last "
            f"panel: the paper's {PAPER_CONFLICTS_MODEL} numbers for the same pairs (a different, "
            "larger model).",
            frame,
        )
    )
    no_layer = frame[frame["layer"].isna()]
    if len(no_layer):
        section.note(
            "No best layer for B, so no patched run is shown: "
            + ", ".join(f"{r.model} · {r.pair}" for r in no_layer.itertuples())
            + "."
        )
    section.add(_conflict_table(ctx, frame, paper))
    return section


def _conflict_table(ctx: Context, frame: pd.DataFrame, paper: pd.DataFrame) -> Table:
    paper = paper.set_index(["task_a", "task_b"])
    rows = []
    for r in frame.itertuples():
        key = (r.task_a, r.task_b)
        cells = [
            Cell(r.model, cls="name"),
            Cell(short_task_name(r.task_a), title=r.task_a),
            Cell(short_task_name(r.task_b), title=r.task_b),
            Cell("–" if pd.isna(r.layer) else f"L{int(r.layer)}"),
            Cell(f"{r.n_icl} / {'–' if pd.isna(r.n_tv) else int(r.n_tv)}"),
        ]
        for series, kind in (
            ("icl_to_a", "icl"),
            ("icl_to_b", "icl"),
            ("tv_to_a", "tv"),
            ("tv_to_b", "tv"),
        ):
            cells.append(
                accuracy_cell(
                    getattr(r, series),
                    kind,
                    getattr(r, f"{series}_low"),
                    getattr(r, f"{series}_high"),
                )
            )
        published = paper.loc[key] if key in paper.index else None
        text = (
            "–"
            if published is None
            else " / ".join(
                fmt(published[c]) for c in ("icl_to_a", "icl_to_b", "tv_to_a", "tv_to_b")
            )
        )
        cells.append(Cell(text, cls="paper"))
        rows.append(Row(cells))
    columns = [
        "Model",
        "A (demos)",
        "B (vector)",
        "Layer",
        "n (ICL / TV)",
        "ICL → A",
        "ICL → B",
        "TV → A",
        "TV → B",
        f"Paper {PAPER_CONFLICTS_MODEL}",
    ]
    return Table(
        "conflicts_table",
        "Rates at which the prediction is A's or B's answer; the layer is B's best layer; n: "
        "the prompts scored per pair.",
        columns,
        rows,
        ctx.out.data("conflicts_table", frame),
        3,
        compact=True,
    )


# -- order --------------------------------------------------------------------------------------


def order_section(ctx: Context) -> Section:
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
        scores = _scores(ctx, "order", model)
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
                else _interval_cell(r["value"], r["low"], r["high"], condition)
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


# -- prompt format ------------------------------------------------------------------------------


def prompt_format_section(ctx: Context) -> Section:
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
        scores = _scores(ctx, "prompt_format", model)
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
                cells.append(_interval_cell(r["accuracy"], r["low"], r["high"], condition))
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
