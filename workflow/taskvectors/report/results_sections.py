"""Sections 1–3: the headline means, the per-task tables and the layer sweeps.

Every number comes from ``summary_models.csv``, ``summary.csv`` and the sweep files, intervals
included; the paper's numbers come from its published tables. These functions only choose rows,
format them and plot them.
"""

from __future__ import annotations

import pandas as pd

from taskvectors.report import figures
from taskvectors.report.context import Context
from taskvectors.report.headline import MIN_ICL_GAIN
from taskvectors.report.inputs import split_tasks
from taskvectors.report.names import FAMILIES, short_task_name, task_family
from taskvectors.report.page import (
    Cell,
    Row,
    Section,
    Table,
    accuracy_cell,
    fmt,
    fmt_interval,
    layer_text,
    missing,
    plural,
    with_interval,
)
from taskvectors.report.reference import (
    paper_layer_curves,
    paper_model_means,
    paper_task_results,
)

MAIN = ("baseline", "tv", "icl")
TASK_SET_LABELS = {
    "all": "all tasks",
    "paper_filter": "paper's filter",
    "shared": "shared by every model",
}
TASK_SET_PHRASES = {
    "all": "each model's tasks (no filter)",
    "paper_filter": "each model's tasks kept by the paper's filter",
    "shared": "the tasks every model keeps",
}


# -- headline -----------------------------------------------------------------------------------


def comparison_set(summary_models: pd.DataFrame, models: list[str]) -> str:
    """The task set on which models are compared: ``shared`` when it holds a task, else
    ``paper_filter`` when every model keeps one, else ``all``."""
    rows = summary_models.set_index(["model", "task_set"])
    if all(rows.at[(m, "shared"), "n_tasks"] > 0 for m in models):
        return "shared"
    if all(rows.at[(m, "paper_filter"), "n_tasks"] > 0 for m in models):
        return "paper_filter"
    return "all"


def headline_section(ctx: Context) -> tuple[Section, list[str]]:
    """Per-model means on one task set beside the paper's; one takeaway line per model."""
    section = Section(
        "headline",
        "Headline: task vectors vs. ICL",
        "Mean test accuracy over tasks per model, with 95% bootstrap intervals over tasks and "
        "examples: zero-shot baseline, the zero-shot prompt with the task vector patched in at "
        "the task's best layer, and few-shot ICL (paper Fig. 4).",
    )
    means = ctx.tables.summary_models
    chosen = comparison_set(means, ctx.models)
    ours = means[means["task_set"] == chosen].set_index("model").loc[ctx.models].reset_index()
    ours["label"] = [
        f"{m}\n{plural(int(n), 'task')}"
        for m, n in zip(ours["model"], ours["n_tasks"], strict=True)
    ]
    paper = paper_model_means(ctx.tables.paper_main)
    section.p(_comparison_sentence(ctx, chosen, ours))
    data = pd.concat([ours.assign(source="this run"), paper.assign(source="Hendel et al. 2023")])
    caption = (
        f"Bars: mean over {TASK_SET_PHRASES[chosen]}, error bars its 95% interval; "
        f"hatched: the paper's published means over the (model, task) pairs its filter keeps "
        f"(ICL − baseline ≥ {MIN_ICL_GAIN:.2f}). TV/ICL is the ratio of the means."
    )
    fig = figures.headline_bars(ours, paper)
    section.add(ctx.out.figure("headline", fig, "Mean accuracy per model", caption, data))
    section.add(_headline_table(ctx, means, paper))
    _dropped_pairs(ctx, section)
    return section, [_takeaway(ctx, model) for model in ctx.models]


def _comparison_sentence(ctx: Context, chosen: str, ours: pd.DataFrame) -> str:
    tasks = [short_task_name(t) for t in split_tasks(str(ours["tasks"].iloc[0]))]
    if chosen == "shared":
        scope = "every model" if len(ctx.models) > 1 else "the model"
        return (
            f"Models are compared on the {plural(len(tasks), 'task')} that pass the paper's "
            f"filter for {scope}: {', '.join(tasks)}."
        )
    if chosen == "paper_filter":
        return (
            "No task passes the paper's filter for every model, so each model's bars average "
            "its own kept tasks (their counts are under the bars): these means are not "
            "comparable across models."
        )
    return (
        "No task passes the paper's filter for some model, so the bars average each model's "
        "tasks without the filter."
    )


def _headline_table(ctx: Context, means: pd.DataFrame, paper: pd.DataFrame) -> Table:
    paper = paper.set_index("model")
    rows = []
    for model in ctx.models:
        theirs = ctx.paper_models.get(model)
        for task_set in ("all", "paper_filter", "shared"):
            r = means[(means["model"] == model) & (means["task_set"] == task_set)].iloc[0]
            cells = [
                Cell(model, cls="name"),
                Cell(TASK_SET_LABELS[task_set]),
                Cell(str(int(r["n_tasks"]))),
            ]
            cells += [accuracy_cell(r[c], c, r[f"{c}_low"], r[f"{c}_high"]) for c in MAIN]
            cells.append(
                Cell(fmt(r["ratio"]), interval=fmt_interval(r["ratio_low"], r["ratio_high"]))
            )
            cells.append(
                Cell(
                    fmt(r["tv_minus_icl"], signed=True),
                    interval=fmt_interval(
                        r["tv_minus_icl_low"], r["tv_minus_icl_high"], signed=True
                    ),
                )
            )
            cells.append(_paper_cell(theirs, paper) if task_set == "paper_filter" else Cell(""))
            rows.append(Row(cells))
    columns = [
        "Model",
        "Task set",
        "Tasks",
        "Baseline",
        "TV",
        "ICL",
        "TV/ICL",
        "TV − ICL",
        "Paper (baseline / TV / ICL)",
    ]
    data = means.assign(paper_model=means["model"].map(ctx.paper_models))
    return Table(
        "headline_table",
        "Per-model means on each task set with 95% intervals, beside the paper's model of the "
        "same name (if any, after its filter).",
        columns,
        rows,
        ctx.out.data("headline_table", data),
        2,
    )


def _paper_cell(theirs: str | None, paper: pd.DataFrame) -> Cell:
    if theirs is None or theirs not in paper.index:
        return Cell("no paper model of this name", cls="paper")
    ref = paper.loc[theirs]
    published = " / ".join(fmt(ref[c]) for c in MAIN)
    return Cell(f"{theirs}: {published} · TV/ICL {ref['tv_icl_ratio']:.2f}", cls="paper")


def _kept_tasks(ctx: Context, model: str) -> list[str]:
    means = ctx.tables.summary_models
    row = means[(means["model"] == model) & (means["task_set"] == "paper_filter")].iloc[0]
    return split_tasks(str(row["tasks"]))


def _dropped_pairs(ctx: Context, section: Section) -> None:
    summary = ctx.tables.summary
    lines = []
    for model in ctx.models:
        kept = set(_kept_tasks(ctx, model))
        rows = summary[(summary["model"] == model) & ~summary["task"].isin(kept)]
        lines += [
            f"{model} · {short_task_name(r.task)}: ICL {fmt(r.icl)}, baseline {fmt(r.baseline)}"
            for r in rows.itertuples()
        ]
    counts = "; ".join(
        f"{m}: {len(_kept_tasks(ctx, m))} of {plural(int((summary['model'] == m).sum()), 'task')}"
        for m in ctx.models
    )
    section.p(f"Tasks kept by the paper's filter (ICL − baseline ≥ {MIN_ICL_GAIN:.2f}): {counts}.")
    if lines:
        section.p(f"The filter dropped {plural(len(lines), '(model, task) pair')}:")
        section.list(lines)


def _takeaway(ctx: Context, model: str) -> str:
    means = ctx.tables.summary_models
    r = means[(means["model"] == model) & (means["task_set"] == "paper_filter")].iloc[0]
    n_all = int((ctx.tables.summary["model"] == model).sum())
    if int(r["n_tasks"]) == 0:
        return (
            f"{model}: no task passes the paper's filter (ICL − baseline ≥ {MIN_ICL_GAIN:.2f}) "
            f"among its {plural(n_all, 'task')}, so there is no ICL gain for task vectors to "
            "recover"
        )
    share = "n/a" if missing(r["ratio"]) else f"{r['ratio']:.0%}"
    interval = fmt_interval(r["ratio_low"], r["ratio_high"])
    return (
        f"{model}: task vectors recover {share} {interval} of ICL accuracy "
        f"(TV {with_interval(r['tv'], r['tv_low'], r['tv_high'])}, ICL "
        f"{with_interval(r['icl'], r['icl_low'], r['icl_high'])}, baseline {fmt(r['baseline'])}) "
        f"over {int(r['n_tasks'])} of {plural(n_all, 'task')} (the paper's filter)"
    )


# -- per task -----------------------------------------------------------------------------------


def _with_paper(ctx: Context) -> pd.DataFrame:
    """``summary.csv`` with ``family``, ``kept`` (by the paper's filter) and the paper's
    numbers for the same model and task (``paper_baseline, paper_tv, paper_icl``)."""
    summary = ctx.tables.summary.copy()
    summary["family"] = [
        task_family(t, c) for t, c in zip(summary["task"], summary["category"], strict=True)
    ]
    kept = {(m, t) for m in ctx.models for t in _kept_tasks(ctx, m)}
    summary["kept"] = [
        (m, t) in kept for m, t in zip(summary["model"], summary["task"], strict=True)
    ]
    summary["paper_model"] = summary["model"].map(ctx.paper_models)
    paper = paper_task_results(ctx.tables.paper_main).drop(columns="category")
    paper = paper.rename(columns={c: f"paper_{c}" for c in MAIN})
    return summary.merge(paper, on=["paper_model", "task"], how="left")


def _family_order(frame: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(frame["family"]))
    return [f for f in FAMILIES if f in present] + [f for f in present if f not in FAMILIES]


def per_task_section(ctx: Context) -> Section:
    """Per model and task: accuracies with intervals, the trivial baselines and their flags, the
    scoring variants, the spacing and sizes, and the paper's numbers where they exist."""
    section = Section(
        "per-task",
        "Per-task results",
        "Test accuracy of each condition with its 95% Wilson interval; the best layer is the "
        "dev argmax (earliest on ties). Majority: always the task's most frequent answer; copy: "
        "the query itself. ⚑ marks a task where one of them reaches the lower end of ICL's or "
        "TV's interval. Faded rows are dropped by the paper's filter.",
    )
    merged = _with_paper(ctx)
    with_paper = merged["paper_tv"].notna().any()
    if not with_paper:
        section.p(
            "No model of this run is one of the paper's (GPT-J 6B, Pythia 2.8B/6.9B/12B, "
            "LLaMA 7B/13B/30B), so there are no published numbers to set beside these."
        )
    for model in ctx.models:
        rows = merged[merged["model"] == model]
        rows = pd.concat([rows[rows["family"] == f] for f in _family_order(rows)])
        plotted = rows.assign(flagged=rows["explained_by"] != "")
        section.add(
            ctx.out.figure(
                f"per_task_{model}",
                figures.per_task_dots(plotted, model),
                f"{model}: accuracy per task",
                "Dots: test accuracy, lines: 95% Wilson intervals. Marks: the majority and copy "
                "baselines. Hollow diamonds: the paper's TV and ICL for the same model, if any.",
                plotted,
            )
        )
    section.add(_accuracy_table(ctx, merged, with_paper))
    section.add(_scoring_table(ctx, merged))
    flagged = merged[merged["explained_by"] != ""]
    if len(flagged):
        section.p("Tasks where a trivial baseline reaches the interval of ICL or TV:")
        section.list(
            [
                f"{r.model} · {short_task_name(r.task)}: {r.explained_by.replace('+', ' and ')} "
                f"(majority {fmt(r.majority)}, copy {fmt(r.copy)}; ICL "
                f"{with_interval(r.icl, r.icl_low, r.icl_high)}, TV "
                f"{with_interval(r.tv, r.tv_low, r.tv_high)})"
                for r in flagged.itertuples()
            ]
        )
    return section


def _grouped_rows(merged: pd.DataFrame, make_row) -> list[Row]:
    rows = []
    for family in _family_order(merged):
        rows.append(Row([], group=family))
        part = merged[merged["family"] == family]
        for task in dict.fromkeys(part["task"]):
            rows += [make_row(r) for r in part[part["task"] == task].itertuples()]
    return rows


def _accuracy_table(ctx: Context, merged: pd.DataFrame, with_paper: bool) -> Table:
    def make_row(r) -> Row:
        flag = f"⚑ {r.explained_by.replace('+', ' + ')}" if r.explained_by else ""
        cells = [
            Cell(short_task_name(r.task), cls="name", title=r.task, badge=flag),
            Cell(r.model),
            Cell(f"{r.spacing} · {int(r.n_pairs)}"),
            Cell(f"{int(r.n_test)} / {int(r.n_queries)}"),
            Cell(
                f"{layer_text(r.best_layer)} / {int(r.n_layers)}"
                if not missing(r.best_layer)
                else "no best layer"
            ),
        ]
        cells += [
            accuracy_cell(getattr(r, c), c, getattr(r, f"{c}_low"), getattr(r, f"{c}_high"))
            for c in MAIN
        ]
        cells += [
            Cell(
                fmt(getattr(r, c)),
                interval=fmt_interval(getattr(r, f"{c}_low"), getattr(r, f"{c}_high")),
            )
            for c in ("majority", "copy")
        ]
        cells.append(
            Cell(
                fmt(r.tv_minus_icl, signed=True),
                interval=fmt_interval(r.tv_minus_icl_low, r.tv_minus_icl_high, signed=True),
            )
        )
        if with_paper:
            published = [getattr(r, f"paper_{c}") for c in MAIN]
            text = "–" if all(missing(v) for v in published) else " / ".join(map(fmt, published))
            cells.append(Cell(text, cls="paper"))
        return Row(cells, cls="" if r.kept else "dropped")

    columns = [
        "Task",
        "Model",
        "Spacing · pairs",
        "Test / queries",
        "Best layer",
        "Baseline",
        "TV",
        "ICL",
        "Majority",
        "Copy",
        "TV − ICL",
    ]
    if with_paper:
        columns.append("Paper B / TV / ICL")
    return Table(
        "per_task",
        "Test accuracy per model and task (headline score). Spacing · pairs: the prompt's "
        "spacing and the task's pairs kept by its filter under it; test / queries: test prompts "
        "and distinct test queries.",
        columns,
        _grouped_rows(merged, make_row),
        ctx.out.data("per_task", merged),
        2,
        compact=True,
    )


def _scoring_table(ctx: Context, merged: pd.DataFrame) -> Table:
    headline = "first token" if ctx.answer == "first_token" else "full answer"

    def make_row(r) -> Row:
        cells = [Cell(short_task_name(r.task), cls="name", title=r.task), Cell(r.model)]
        for suffix in ("", "_full", "_strict"):
            cells += [Cell(fmt(getattr(r, f"{c}{suffix}")), cls=f"cond {c}") for c in MAIN]
        return Row(cells, cls="" if r.kept else "dropped")

    columns = ["Task", "Model"]
    for label in ("", " full", " strict"):
        columns += [f"{c}{label}" for c in ("Baseline", "TV", "ICL")]
    data_columns = ["model", "task"] + [f"{c}{s}" for s in ("", "_full", "_strict") for c in MAIN]
    return Table(
        "scoring",
        f"The same test prompts under three scorings: the headline score ({headline}, "
        "evaluation.answer), the greedy full answer, and the strict first token (the "
        "prediction's first token is the answer's own first token in context; the paper's "
        "prefix rule also accepts a one-letter token such as 'B' for 'Belmopan').",
        columns,
        _grouped_rows(merged, make_row),
        ctx.out.data("scoring", merged[data_columns]),
        2,
    )


# -- layers -------------------------------------------------------------------------------------


def layers_section(ctx: Context) -> Section:
    """Small multiples of every sweep with its bands, and all tasks by relative depth beside the
    paper's mean curves."""
    section = Section(
        "layers",
        "Layer sweeps",
        "Task-vector accuracy when θ is extracted from and patched into the output of each "
        "decoder block (0-indexed), with 95% Wilson bands.",
    )
    sweeps, summary = ctx.tables.sweeps, ctx.tables.summary
    paper_tasks, paper_means = paper_layer_curves(ctx.tables.paper_layers)
    for model in ctx.models:
        rows = sweeps[sweeps["model"] == model]
        n_layers = int(ctx.tables.model_records[model]["n_layers"])
        levels = summary.loc[
            summary["model"] == model,
            ["task"] + [f"{c}{s}" for c in ("icl", "baseline") for s in ("", "_low", "_high")],
        ]
        section.add(
            ctx.out.figure(
                f"sweeps_{model}",
                figures.sweep_grid(rows, levels, paper_tasks, n_layers),
                f"{model}: accuracy by layer",
                "Solid with band: dev accuracy (chooses the layer, marked). Light: test accuracy. "
                "Dashed and dotted: the task's ICL and baseline test accuracy with their bands. "
                "Grey: the paper's dev curves of the same task (GPT-J 6B, LLaMA 7B, Pythia 6.9B), "
                "placed by relative depth.",
                rows.drop(columns=["model"]).assign(model=model),
            )
        )
        none = summary[(summary["model"] == model) & summary["best_layer"].isna()]
        if len(none):
            section.note(
                f"{model}: no best layer for {', '.join(short_task_name(t) for t in none['task'])}"
                " (every layer scores 0 on dev), so their TV accuracy is not read at any layer."
            )
    depth = sweeps[sweeps["split"] == "dev"].copy()
    layers = {m: int(ctx.tables.model_records[m]["n_layers"]) for m in ctx.models}
    depth["depth"] = depth["layer"] / (depth["model"].map(layers) - 1).clip(lower=1)
    section.add(
        ctx.out.figure(
            "depth_curves",
            figures.depth_overview(depth, paper_means, ctx.models),
            "Dev accuracy against relative depth",
            "Thin lines: every task of this run, layer / (n_layers − 1). Dashed: the paper's mean "
            "dev curves over its 18 tasks.",
            pd.concat(
                [
                    depth[["model", "task", "layer", "depth", "accuracy"]].assign(
                        source="this run"
                    ),
                    paper_means.rename(columns={"paper_model": "model"}).assign(source="paper"),
                ]
            ),
        )
    )
    return section
