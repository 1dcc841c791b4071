"""Sections 4–7: geometry, top tokens, conflicting tasks and order sensitivity.

Each is optional (``analyses`` in the config); a disabled one gets a note instead of content, and
missing files of an enabled one are named rather than crashing the report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from taskvectors.analysis.common import short_task_name
from taskvectors.analysis.conflicts import conflict_rates
from taskvectors.analysis.geometry import cosine_distances, tsne_embedding, tsne_perplexity
from taskvectors.analysis.layers import geometry_layer
from taskvectors.analysis.order import order_sensitivity
from taskvectors.analysis.reference import PAPER_CONFLICTS_MODEL, paper_conflicts
from taskvectors.analysis.tokens import display_token, top_tokens_at
from taskvectors.report import figures
from taskvectors.report.context import Context
from taskvectors.report.page import Cell, Row, Section, Table, accuracy_cell, fmt
from taskvectors.storage import column_vectors

TOP_K = 10


def _disabled(section: Section, ctx: Context, analysis: str) -> bool:
    if ctx.enabled(analysis):
        return False
    section.note(
        f"The {analysis} analysis is disabled in the config (analyses.{analysis}: "
        "false), so this run has no results for it."
    )
    return True


def _missing(section: Section, what: str, missing: list[str]) -> None:
    if missing:
        section.note(f"No {what} for: {', '.join(missing)}.")


def geometry_section(ctx: Context) -> Section:
    """t-SNE and cosine distances of many task vectors per task, at one layer per model."""
    section = Section(
        "geometry",
        "Geometry of task vectors",
        "Many vectors per task, from varied demonstrations and dummy queries (paper "
        "§4). If θ encodes the task, vectors of one task cluster together and are "
        "closer to each other than to other tasks' vectors.",
    )
    if _disabled(section, ctx, "geometry"):
        return section
    summary_rows = []
    for model in ctx.models:
        sweeps = ctx.tree.sweeps[ctx.tree.sweeps["model"] == model]
        if sweeps.empty:
            section.note(f"{model}: no sweeps, so no layer to take the vectors from.")
            continue
        layer = geometry_layer(sweeps)
        vectors, labels, ids, missing = [], [], [], []
        for task in ctx.tasks:
            frame = ctx.tree.table("analyses", "geometry", model, f"{task}.parquet")
            if frame is None:
                missing.append(task)
                continue
            frame = frame[frame["layer"] == layer]
            vectors.append(column_vectors(frame))
            labels += [task] * len(frame)
            ids += frame["example_id"].tolist()
        _missing(section, f"geometry vectors of {model}", missing)
        if len(labels) < 4:
            continue
        matrix = np.concatenate(vectors)
        within, across = cosine_distances(matrix, labels)
        embedding = tsne_embedding(matrix)
        points = pd.DataFrame(
            {
                "model": model,
                "task": labels,
                "example_id": ids,
                "layer": layer,
                "tsne_x": embedding[:, 0],
                "tsne_y": embedding[:, 1],
            }
        )
        section.add(
            ctx.out.figure(
                f"geometry_{model}",
                figures.geometry_panels(embedding, labels, within, across, layer),
                f"{model}: task vectors at layer {layer}",
                f"Layer {layer} maximises {model}'s mean dev accuracy over tasks. t-SNE "
                f"(perplexity {tsne_perplexity(len(labels)):.0f}, seed 41) of "
                f"{len(labels)} vectors; histograms of pairwise cosine distance, dashed "
                "lines at the means.",
                points,
            )
        )
        hist = _histogram(model, within, across)
        ctx.out.data(f"geometry_{model}_distances", hist)
        summary_rows.append(
            {
                "model": model,
                "layer": layer,
                "n_vectors": len(labels),
                "n_tasks": len(set(labels)),
                "within_mean": within.mean(),
                "across_mean": across.mean() if len(across) else np.nan,
            }
        )
    if summary_rows:
        section.add(_geometry_table(ctx, pd.DataFrame(summary_rows)))
    return section


def _histogram(model: str, within: np.ndarray, across: np.ndarray) -> pd.DataFrame:
    top = max(within.max(initial=0), across.max(initial=0), 1e-6)
    edges = np.linspace(0, top, 41)
    frames = [
        pd.DataFrame(
            {
                "model": model,
                "pairs": name,
                "bin_left": edges[:-1],
                "bin_right": edges[1:],
                "count": np.histogram(values, edges)[0],
            }
        )
        for name, values in (("within", within), ("across", across))
    ]
    return pd.concat(frames, ignore_index=True)


def _geometry_table(ctx: Context, frame: pd.DataFrame) -> Table:
    rows = [
        Row(
            [
                Cell(r.model, cls="name"),
                Cell(f"L{r.layer}"),
                Cell(str(r.n_tasks)),
                Cell(str(r.n_vectors)),
                Cell(fmt(r.within_mean, 3)),
                Cell(fmt(r.across_mean, 3)),
                Cell(fmt(r.across_mean / r.within_mean if r.within_mean else np.nan)),
            ]
        )
        for r in frame.itertuples()
    ]
    columns = [
        "Model",
        "Layer",
        "Tasks",
        "Vectors",
        "Mean distance within a task",
        "Mean distance across tasks",
        "Across / within",
    ]
    return Table(
        "geometry_summary",
        "Cosine distance (1 − cos) between task vectors.",
        columns,
        rows,
        ctx.out.data("geometry_summary", frame),
        1,
    )


def top_tokens_section(ctx: Context) -> Section:
    """The tokens each task's mean θ ranks highest at the task's best layer."""
    section = Section(
        "top-tokens",
        "Top tokens of the task vectors",
        f"The task's mean test θ at its best layer, read through the final norm "
        f"and the unembedding: the top {TOP_K} tokens (␣ marks a leading "
        "space).",
    )
    if _disabled(section, ctx, "top_tokens"):
        return section
    for model in ctx.models:
        rows, data, missing = [], [], []
        for task in ctx.tasks:
            frame = ctx.tree.table("analyses", "top_tokens", model, f"{task}.parquet")
            layer = ctx.tree.best_layers.get((model, task))
            if frame is None or layer is None:
                missing.append(task)
                continue
            tokens = top_tokens_at(frame, layer, TOP_K)
            at = frame[frame["layer"] == layer].sort_values("rank").head(TOP_K)
            data.append(at.assign(model=model, task=task))
            rows.append(
                Row(
                    [
                        Cell(short_task_name(task), cls="name", title=task),
                        Cell(f"L{layer}"),
                        Cell("", chips=[display_token(t) for t in tokens]),
                    ]
                )
            )
        _missing(section, f"top tokens of {model}", missing)
        if rows:
            frame = pd.concat(data, ignore_index=True)
            section.add(
                Table(
                    f"top_tokens_{model}",
                    f"{model}: top tokens at each task's best layer.",
                    ["Task", "Layer", f"Top {TOP_K} tokens"],
                    rows,
                    ctx.out.data(f"top_tokens_{model}", frame),
                    3,
                )
            )
    return section


def conflicts_section(ctx: Context) -> Section:
    """Demos of task A with θ of task B patched in: does the answer follow A or B?"""
    section = Section(
        "conflicts",
        "Conflicting tasks",
        "The ICL prompt of task A with the task vector of task B patched in at B's "
        "best layer (paper §5). If θ carries the task, the prediction follows B; "
        "the unpatched ICL run of the same prompts follows A.",
    )
    if _disabled(section, ctx, "conflicts"):
        return section
    if not ctx.conflict_pairs:
        section.note("No conflict pairs are configured.")
        return section
    records, missing = [], []
    for model in ctx.models:
        for task_a, task_b in ctx.conflict_pairs:
            record = _conflict_record(ctx, model, task_a, task_b)
            if record is None:
                missing.append(f"{model} {task_a}__{task_b}")
            else:
                records.append(record)
    _missing(section, "conflict results (or B's sweep)", missing)
    if not records:
        return section
    frame = pd.DataFrame(records)
    paper = paper_conflicts()
    paper["pair"] = [
        _pair_label(a, b) for a, b in zip(paper["task_a"], paper["task_b"], strict=True)
    ]
    configured = {tuple(p) for p in ctx.conflict_pairs}
    shown = paper[
        [(a, b) in configured for a, b in zip(paper["task_a"], paper["task_b"], strict=True)]
    ]
    shown = shown if len(shown) else paper
    section.add(
        ctx.out.figure(
            "conflicts",
            figures.conflict_bars(frame, shown),
            "Which task do the predictions follow?",
            f"Solid: the prediction is A's answer; hatched: B's. Right: the paper's "
            f"{PAPER_CONFLICTS_MODEL} numbers, for reference (a different, larger model).",
            frame,
        )
    )
    section.add(_conflict_table(ctx, frame, paper))
    return section


def _pair_label(task_a: str, task_b: str) -> str:
    return f"{short_task_name(task_a)} → {short_task_name(task_b)}"


def _conflict_record(ctx: Context, model: str, task_a: str, task_b: str) -> dict | None:
    frame = ctx.tree.table("analyses", "conflicts", model, f"{task_a}__{task_b}.parquet")
    layer = ctx.tree.best_layers.get((model, task_b))
    if frame is None or layer is None:
        return None
    rates = conflict_rates(
        frame,
        layer=layer,
        column=ctx.column,
        mode_a=ctx.tree.scoring_mode(task_a),
        mode_b=ctx.tree.scoring_mode(task_b),
        is_correct=ctx.is_correct,
    ).set_index("condition")
    return {
        "model": model,
        "task_a": task_a,
        "task_b": task_b,
        "pair": _pair_label(task_a, task_b),
        "layer": layer,
        "n_icl": int(rates.at["icl", "n"]),
        "n_tv": int(rates.at["tv", "n"]),
        "icl_to_a": rates.at["icl", "to_a"],
        "icl_to_b": rates.at["icl", "to_b"],
        "tv_to_a": rates.at["tv", "to_a"],
        "tv_to_b": rates.at["tv", "to_b"],
    }


def _conflict_table(ctx: Context, frame: pd.DataFrame, paper: pd.DataFrame) -> Table:
    paper = paper.set_index(["task_a", "task_b"])
    rows = []
    for r in frame.itertuples():
        ref = paper.loc[(r.task_a, r.task_b)] if (r.task_a, r.task_b) in paper.index else None
        rate = ("icl_to_a", "icl_to_b", "tv_to_a", "tv_to_b")
        kinds = ("icl", "icl", "tv", "tv")
        cells = [
            Cell(r.model, cls="name"),
            Cell(short_task_name(r.task_a), title=r.task_a),
            Cell(short_task_name(r.task_b), title=r.task_b),
            Cell(f"L{r.layer}"),
            Cell(str(r.n_tv)),
        ]
        cells += [accuracy_cell(getattr(r, c), k) for c, k in zip(rate, kinds, strict=True)]
        paper_text = " / ".join(fmt(ref[c]) for c in rate) if ref is not None else "–"
        cells.append(Cell(paper_text, cls="paper"))
        rows.append(Row(cells))
    columns = [
        "Model",
        "A (demos)",
        "B (vector)",
        "Layer",
        "n",
        "ICL → A",
        "ICL → B",
        "TV → A",
        "TV → B",
        f"Paper {PAPER_CONFLICTS_MODEL}",
    ]
    return Table(
        "conflicts_table",
        "Rates at which the prediction is A's or B's answer; the layer is B's best layer.",
        columns,
        rows,
        ctx.out.data("conflicts_table", frame),
        3,
    )


def order_section(ctx: Context) -> Section:
    """How much ICL and the task vector depend on the order of the demonstrations."""
    section = Section(
        "order",
        "Order sensitivity",
        "Each test example is run under several permutations of its "
        "demonstrations. Agreement: the fraction of examples whose prediction is "
        "the same in every order (pairwise: the mean fraction of agreeing "
        "permutation pairs). Spread: max − min accuracy over permutations. The "
        "task vector is patched at the task's best layer.",
    )
    if _disabled(section, ctx, "order"):
        return section
    records, missing = [], []
    for model in ctx.models:
        for task in ctx.tasks:
            frame = ctx.tree.table("analyses", "order", model, f"{task}.parquet")
            layer = ctx.tree.best_layers.get((model, task))
            if frame is None or layer is None:
                missing.append(f"{model} {task}")
                continue
            records += _order_records(ctx, model, task, frame, layer)
    _missing(section, "order results", missing)
    if not records:
        return section
    frame = pd.DataFrame(records)
    section.add(
        ctx.out.figure(
            "order",
            figures.order_bars(frame),
            "Agreement and accuracy spread across demo orders",
            "Higher agreement and lower spread mean less sensitivity to the order of the "
            "demonstrations.",
            frame,
        )
    )
    section.add(_order_table(ctx, frame))
    return section


def _order_records(ctx, model, task, frame, layer) -> list[dict]:
    answers = ctx.tree.answers(model, task)
    mode = ctx.tree.scoring_mode(task)
    frame = frame.assign(prediction=frame[ctx.column].fillna("").astype(str))
    frame["correct"] = [
        ctx.is_correct(p, answers.get(int(i), []), mode)
        for p, i in zip(frame["prediction"], frame["example_id"], strict=True)
    ]
    records = []
    for condition, rows in (
        ("icl", frame[frame["condition"] == "icl"]),
        ("tv", frame[(frame["condition"] == "tv") & (frame["layer"] == layer)]),
    ):
        stats = order_sensitivity(rows)
        records.append(
            {
                "model": model,
                "task": task,
                "condition": condition,
                "layer": layer if condition == "tv" else -1,
                **stats,
            }
        )
    return records


def _order_table(ctx: Context, frame: pd.DataFrame) -> Table:
    rows = []
    for r in frame.itertuples():
        label = "ICL" if r.condition == "icl" else f"TV (L{r.layer})"
        rows.append(
            Row(
                [
                    Cell(r.model, cls="name"),
                    Cell(short_task_name(r.task), title=r.task),
                    Cell(label, cls=f"cond {r.condition}"),
                    Cell(str(r.n_examples)),
                    Cell(str(r.n_permutations)),
                    accuracy_cell(r.agreement, r.condition),
                    Cell(fmt(r.pairwise_agreement)),
                    accuracy_cell(r.accuracy, r.condition),
                    Cell(f"{fmt(r.accuracy_min)}–{fmt(r.accuracy_max)}"),
                    Cell(fmt(r.spread)),
                    Cell(fmt(r.accuracy_std, 3)),
                ]
            )
        )
    columns = [
        "Model",
        "Task",
        "Condition",
        "Examples",
        "Orders",
        "Agreement",
        "Pairwise",
        "Accuracy",
        "Range",
        "Spread",
        "Std",
    ]
    return Table(
        "order_table",
        "Order sensitivity per model, task and condition.",
        columns,
        rows,
        ctx.out.data("order_table", frame),
        3,
    )
