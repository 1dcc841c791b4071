"""The report section of the conflicts analysis: renders its score tables
(``scores/conflicts/<model>.parquet``) and computes no score."""

from __future__ import annotations

import pandas as pd

from taskvectors.analyses.conflicts import figures
from taskvectors.report.context import Context
from taskvectors.report.names import short_task_name
from taskvectors.report.page import (
    Cell,
    Row,
    Section,
    Table,
    accuracy_cell,
    fmt,
)
from taskvectors.report.reference import PAPER_CONFLICTS_MODEL, paper_conflicts


def _pair_label(task_a: str, task_b: str) -> str:
    return f"{short_task_name(task_a)} → {short_task_name(task_b)}"


def _conflict_rows(ctx: Context, model: str) -> pd.DataFrame:
    """One row per pair: ICL's rates and θ_B's at B's best layer (``is_best``), with n."""
    scores = ctx.scores("conflicts", model)
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


def section(ctx: Context) -> Section:
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
    configured = ctx.pairs("conflicts")
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
