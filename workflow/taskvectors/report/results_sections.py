"""Sections 1–3: the headline means, the per-task table and the layer sweeps."""

from __future__ import annotations

import pandas as pd

from taskvectors.analysis.common import FAMILIES, short_task_name
from taskvectors.analysis.headline import MIN_ICL_GAIN, model_means, paper_filter, takeaway
from taskvectors.analysis.layers import mean_layer_curve
from taskvectors.analysis.reference import (
    paper_layer_curves,
    paper_model_means,
    paper_task_results,
)
from taskvectors.report import figures
from taskvectors.report.context import REFERENCE_LAYERS, REFERENCE_MAIN, Context
from taskvectors.report.page import Cell, Row, Section, Table, accuracy_cell, fmt


def headline_section(ctx: Context) -> tuple[Section, list[str]]:
    """Per-model means after the paper's filter, beside the paper's; one takeaway per model."""
    section = Section(
        "headline",
        "Headline: task vectors vs. ICL",
        "Mean accuracy over tasks per model: zero-shot baseline, the zero-shot "
        "prompt with the task vector patched in at the task's best layer, and "
        "5-shot ICL (paper Fig. 4).",
    )
    summary = ctx.tree.summary
    if summary.empty:
        section.note("No summary.csv in the results: nothing to summarise yet.")
        return section, [f"{model}: no results" for model in ctx.models]
    kept, dropped = paper_filter(summary)
    ours = model_means(kept, model_order=ctx.models)
    reference = ctx.reference(REFERENCE_MAIN)
    paper = paper_model_means(reference) if reference is not None else ours.iloc[:0]
    plotted = _plotted_means(summary, ours, ctx.models)
    data = pd.concat([plotted.assign(source="this run"), paper.assign(source="Hendel et al. 2023")])
    caption = (
        f"Bars: mean over the (model, task) pairs kept by the paper's filter (ICL − baseline ≥ "
        f"{MIN_ICL_GAIN:.2f}). Hatched: the paper's published means, same filter."
    )
    if not plotted["filtered"].all():
        caption += " A model none of whose tasks passes the filter is shown unfiltered."
    fig = figures.headline_bars(plotted, paper)
    section.add(ctx.out.figure("headline", fig, "Mean accuracy per model", caption, data))
    section.add(_headline_table(ctx, summary, ours, paper))
    if dropped.empty:
        section.p(
            f"The paper's filter dropped no pair: ICL beats the baseline by at least "
            f"{MIN_ICL_GAIN:.2f} on all {len(summary)} (model, task) pairs."
        )
    else:
        section.p(
            f"The paper's filter dropped {len(dropped)} of {len(summary)} (model, task) "
            f"pairs, where ICL − baseline < {MIN_ICL_GAIN:.2f}:"
        )
        section.list(
            [
                f"{r.model} · {short_task_name(r.task)}: ICL {r.icl:.2f} − baseline "
                f"{r.baseline:.2f} = {r.icl - r.baseline:+.2f}"
                for r in dropped.itertuples()
            ]
        )
    by_model = ours.set_index("model")
    n_total = summary.groupby("model").size()
    lines = [
        takeaway(m, by_model.loc[m] if m in by_model.index else None, int(n_total.get(m, 0)))
        for m in ctx.models
    ]
    return section, lines


def _plotted_means(summary: pd.DataFrame, kept_means: pd.DataFrame, models) -> pd.DataFrame:
    """Per-model means after the filter; a model with no kept task gets its unfiltered means
    (``filtered`` False) so that it still has bars."""
    unfiltered = model_means(summary, model_order=list(models))
    missing = unfiltered[~unfiltered["model"].isin(kept_means["model"])]
    frame = pd.concat([kept_means.assign(filtered=True), missing.assign(filtered=False)])
    rank = {model: i for i, model in enumerate(models)}
    return frame.sort_values("model", key=lambda s: s.map(rank)).reset_index(drop=True)


def _headline_table(ctx, summary, ours, paper) -> Table:
    paper = paper.set_index("model")
    rows, data = [], []
    for model in ctx.models:
        mine = ours[ours["model"] == model]
        theirs = ctx.paper_models.get(model)
        ref = paper.loc[theirs] if theirs in paper.index else None
        n_all = int((summary["model"] == model).sum())
        values = mine.iloc[0] if len(mine) else pd.Series(dtype=float)
        cells = [Cell(model, cls="name"), Cell(f"{int(values.get('n_tasks', 0))} / {n_all}")]
        cells += [accuracy_cell(values.get(c), c) for c in ("baseline", "tv", "icl")]
        cells.append(Cell(fmt(values.get("tv_icl_ratio")), cls="ratio"))
        if ref is None:
            cells.append(Cell("no paper model of this name", cls="paper"))
        else:
            published = " / ".join(fmt(ref[c]) for c in ("baseline", "tv", "icl"))
            cells.append(
                Cell(f"{theirs}: {published} · TV/ICL {ref['tv_icl_ratio']:.2f}", cls="paper")
            )
        rows.append(Row(cells))
        data.append(
            {
                "model": model,
                "n_tasks_kept": values.get("n_tasks", 0),
                "n_tasks": n_all,
                **{c: values.get(c) for c in ("baseline", "tv", "icl", "tv_icl_ratio")},
                "paper_model": theirs,
                **{
                    f"paper_{c}": None if ref is None else ref[c]
                    for c in ("baseline", "tv", "icl", "tv_icl_ratio")
                },
            }
        )
    columns = [
        "Model",
        "Tasks kept",
        "Baseline",
        "TV",
        "ICL",
        "TV/ICL",
        "Paper (baseline / TV / ICL)",
    ]
    return Table(
        "headline_table",
        "Per-model means after the filter, beside the paper's model of the same name (if any).",
        columns,
        rows,
        ctx.out.data("headline_table", pd.DataFrame(data)),
    )


def per_task_section(ctx: Context) -> Section:
    """One row per model × task, grouped by family, with the paper's numbers where they exist."""
    section = Section(
        "per-task",
        "Per-task results",
        "Test accuracy of each condition; the best layer is the dev argmax "
        "(earliest on ties) out of the model's layers. Faded rows are dropped by "
        "the paper's filter.",
    )
    summary = ctx.tree.summary
    if summary.empty:
        section.note("No summary.csv in the results.")
        return section
    reference = ctx.reference(REFERENCE_MAIN)
    paper = paper_task_results(reference) if reference is not None else None
    kept, _ = paper_filter(summary)
    merged = summary.assign(
        kept=summary.index.isin(kept.index), paper_model=summary["model"].map(ctx.paper_models)
    )
    if paper is not None:
        merged = merged.merge(
            paper.drop(columns="category")
            .add_prefix("paper_")
            .rename(columns={"paper_paper_model": "paper_model", "paper_task": "task"}),
            on=["paper_model", "task"],
            how="left",
        )
    with_paper = paper is not None and merged["paper_model"].notna().any()
    if not with_paper:
        section.p(
            "No model of this run is one of the paper's (GPT-J 6B, Pythia 2.8B/6.9B/12B, "
            "LLaMA 7B/13B/30B), so there are no published numbers to set beside ours."
        )
    present = set(merged["family"])
    families = [f for f in FAMILIES if f in present] + sorted(present - set(FAMILIES))
    rows = []
    for family in families:
        rows.append(Row([], group=family))
        part = merged[merged["family"] == family]
        for task in dict.fromkeys(part["task"]):
            for r in part[part["task"] == task].itertuples():
                rows.append(_task_row(r, with_paper))
    columns = ["Task", "Model", "n test", "Best layer", "Baseline", "TV", "ICL"]
    if with_paper:
        columns += ["Paper baseline", "Paper TV", "Paper ICL"]
    data = ctx.out.data("per_task", merged)
    section.add(Table("per_task", "Test accuracy per model and task.", columns, rows, data, 2))
    return section


def _task_row(r, with_paper: bool) -> Row:
    best = "–" if pd.isna(r.best_layer) else f"L{int(r.best_layer)}"
    if not pd.isna(r.n_layers):
        best += f" / {int(r.n_layers)}"
    cells = [
        Cell(short_task_name(r.task), cls="name", title=r.task),
        Cell(r.model),
        Cell(fmt(r.n_test) if pd.isna(r.n_test) else str(int(r.n_test))),
        Cell(best),
    ]
    cells += [accuracy_cell(getattr(r, c), c) for c in ("baseline", "tv", "icl")]
    if with_paper:
        cells += [
            accuracy_cell(getattr(r, f"paper_{c}", None), c, cls="paper")
            for c in ("baseline", "tv", "icl")
        ]
    return Row(cells, cls="" if r.kept else "dropped")


def layers_section(ctx: Context) -> Section:
    """Small multiples of the sweeps per model, and the mean curve over depth beside the paper."""
    section = Section(
        "layers",
        "Layer sweeps",
        "Task-vector accuracy when θ is extracted from and patched into the output "
        "of each decoder block (0-indexed).",
    )
    sweeps = ctx.tree.sweeps
    if sweeps.empty:
        section.note("No sweep files in the results.")
        return section
    summary = ctx.tree.summary
    for model in ctx.models:
        rows = sweeps[sweeps["model"] == model]
        if rows.empty:
            section.note(f"{model}: no sweep files.")
            continue
        best = {t: b for (m, t), b in ctx.tree.best_layers.items() if m == model}
        levels = summary.loc[summary["model"] == model, ["task", "baseline", "icl"]]
        fig = figures.sweep_grid(rows, best, levels)
        section.add(
            ctx.out.figure(
                f"sweeps_{model}",
                fig,
                f"{model}: accuracy by layer",
                "Solid: dev accuracy (chooses the layer, marked). Light: test accuracy at "
                "every layer. Dashed: the task's ICL accuracy; dotted: its baseline.",
                rows.drop(columns=["model"]).assign(model=model),
            )
        )
    _depth_block(ctx, section, sweeps)
    return section


def _depth_block(ctx: Context, section: Section, sweeps: pd.DataFrame) -> None:
    n_layers = {m: ctx.tree.n_layers(m) for m in ctx.models if ctx.tree.n_layers(m)}
    ours = mean_layer_curve(sweeps, n_layers)
    reference = ctx.reference(REFERENCE_LAYERS)
    if reference is not None:
        paper_tasks, paper = paper_layer_curves(reference)
    else:
        paper_tasks = pd.DataFrame(columns=["paper_model", "task", "layer", "is_best"])
        paper = pd.DataFrame(columns=["paper_model", "layer", "depth", "accuracy", "n_tasks"])
    data = pd.concat(
        [
            ours.assign(source="this run"),
            paper.rename(columns={"paper_model": "model"}).assign(source="paper"),
        ]
    )
    section.add(
        ctx.out.figure(
            "depth_curves",
            figures.depth_curves(ours, paper),
            "Mean dev accuracy against relative depth",
            "Mean over all tasks of the dev accuracy at each layer, with depth normalised "
            "to layer / (n_layers − 1). Dashed: the paper's released curves (18 tasks "
            "each).",
            data,
        )
    )
    rows, records = [], []
    curves = [(m, ours[ours["model"] == m], False) for m in ctx.models if m in set(ours["model"])]
    curves += [
        (m, paper[paper["paper_model"] == m], True) for m in dict.fromkeys(paper["paper_model"])
    ]
    for name, curve, is_paper in curves:
        peak = curve.loc[curve["accuracy"].idxmax()]
        n = int(curve["layer"].max()) + 1 if is_paper else n_layers.get(name)
        if is_paper:
            chosen = paper_tasks[(paper_tasks["paper_model"] == name) & paper_tasks["is_best"]]
            med = chosen["layer"].median()
        else:
            chosen = [b for (m, _), b in ctx.tree.best_layers.items() if m == name]
            med = float(pd.Series(chosen).median()) if chosen else None
        record = {
            "model": name,
            "source": "paper" if is_paper else "this run",
            "n_layers": n,
            "peak_layer": int(peak["layer"]),
            "peak_depth": peak["depth"],
            "peak_accuracy": peak["accuracy"],
            "median_best_layer": med,
        }
        records.append(record)
        rows.append(
            Row(
                [
                    Cell(name, cls="name paper" if is_paper else "name"),
                    Cell(record["source"]),
                    Cell(fmt(n)),
                    Cell(f"L{record['peak_layer']} ({peak['depth']:.0%})"),
                    accuracy_cell(peak["accuracy"], "tv"),
                    Cell("–" if med is None or pd.isna(med) else f"L{med:g}"),
                ]
            )
        )
    columns = [
        "Model",
        "Source",
        "Layers",
        "Peak of mean curve",
        "Peak accuracy",
        "Median best layer",
    ]
    section.add(
        Table(
            "depth_peaks",
            "Where the mean curve peaks.",
            columns,
            rows,
            ctx.out.data("depth_peaks", pd.DataFrame(records)),
            2,
        )
    )
