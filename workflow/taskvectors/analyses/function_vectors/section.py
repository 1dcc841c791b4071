"""The "Function vectors" section, rendered from ``scores/function_vectors/{model}.parquet``
(computes nothing; the table's kinds are described in :mod:`.score`)."""

from __future__ import annotations

import pandas as pd

from taskvectors.analyses.function_vectors import figures
from taskvectors.report.context import Context
from taskvectors.report.names import display_token, short_task_name
from taskvectors.report.page import Cell, Row, Section, Table, accuracy_cell, fmt, with_interval

CONDITIONS = ("fv", "fv_task_heads", "tv", "icl", "icl_shuffled", "icl_shuffled_fv", "baseline",
              "majority", "copy")  # fmt: skip
HEADERS = {"fv": "FV", "fv_task_heads": "FV (own heads)", "tv": "TV", "icl": "ICL",
           "icl_shuffled": "Shuffled ICL", "icl_shuffled_fv": "Shuffled ICL + FV",
           "baseline": "Baseline", "majority": "Majority", "copy": "Copy"}  # fmt: skip
#: How many of each task's own top heads (by its own CIE) the per-task table names.
OWN_HEADS_SHOWN = 3
#: The colour of each condition's bar (the report's condition colours; the rest uncoloured).
BAR_KINDS = {"tv": "tv", "icl": "icl", "baseline": "baseline", "majority": "majority",
             "copy": "copy"}  # fmt: skip


def section(ctx: Context) -> Section:
    section = Section(
        "function-vectors",
        "Function vectors",
        "Todd et al. (2024): a few attention heads carry the demonstrated task. A head's causal "
        "indirect effect (CIE) is how much writing its clean mean output into a prompt with "
        "shuffled demonstration outputs raises P(correct answer); the function vector (FV) sums "
        "the top-k heads' mean outputs and is added to the residual stream of the zero-shot "
        "query at one layer (k and layer chosen on dev). It is scored on the same test queries "
        "as ICL and the task vector (TV), which replaces the hidden state at its best layer; "
        "beside them, the FV of each task's own top-k heads (by its own CIE) at the same k and "
        "layer, and ICL with the demonstration outputs shuffled, without and with the FV added "
        "at the query's last token. The head means average the clean prompts the model answers "
        "correctly (all of them when it answers none).",
    )
    for model in ctx.models:
        scores = ctx.scores("function_vectors", model)
        if scores.empty:
            continue
        section.heading(model)
        for text in scores.loc[scores["kind"] == "verdict", "text"]:
            section.verdict(str(text))
        _heatmap(ctx, section, model, scores)
        _accuracy(ctx, section, model, scores)
        _curves(ctx, section, model, scores)
        _heads_and_tokens(ctx, section, model, scores)
    return section


def _tasks(ctx: Context, rows: pd.DataFrame) -> list[str]:
    present = set(rows["task"])
    return [t for t in ctx.tasks if t in present]


def _heatmap(ctx: Context, section: Section, model: str, scores: pd.DataFrame) -> None:
    cie = scores[scores["kind"] == "cie_mean"]
    if cie.empty:
        return
    section.add(
        ctx.out.figure(
            f"function_vectors_cie_{model}",
            figures.cie_heatmap(cie, f"{model}: mean CIE over tasks"),
            f"{model}: causal indirect effect of each head",
            "Mean over tasks of each head's CIE on shuffled-output prompts (per family in the "
            "data file).",
            scores[scores["kind"].isin(["cie_mean", "cie_family"])],
        )
    )


def _accuracy(ctx: Context, section: Section, model: str, scores: pd.DataFrame) -> None:
    rows = scores[(scores["kind"] == "accuracy") & (scores["metric"] == "first_token")]
    if ctx.answer != "first_token":
        rows = scores[(scores["kind"] == "accuracy") & (scores["metric"] == "full_answer")]
    differences = scores[scores["kind"] == "fv_minus_tv"].set_index("task")
    shuffled_gains = scores[scores["kind"] == "shuffled_fv_gain"].set_index("task")
    means_used = scores[scores["kind"] == "mean_prompts"].set_index("task")
    tasks = _tasks(ctx, rows)
    labels = {t: short_task_name(t) for t in tasks}
    section.add(
        ctx.out.figure(
            f"function_vectors_accuracy_{model}",
            figures.comparison_dots(rows[rows["task"].isin(tasks)], tasks, labels),
            f"{model}: FV beside TV beside ICL",
            "Same test queries for every condition; lines: 95% Wilson intervals.",
            rows,
        )
    )
    conditions = [c for c in CONDITIONS if c in set(rows["condition"])]
    table_rows = []
    for task in [*tasks, "overall"]:
        part = rows[rows["task"] == task].set_index("condition")
        if part.empty:
            continue
        cells = [Cell(labels.get(task, task), cls="name", title=task)]
        for condition in conditions:
            if condition in part.index:
                r = part.loc[condition]
                cells.append(
                    accuracy_cell(r["value"], BAR_KINDS.get(condition), r["low"], r["high"])
                )
            else:
                cells.append(Cell("–"))
        cells += [_paired_cell(differences, task), _paired_cell(shuffled_gains, task)]
        fv = part.loc["fv"] if "fv" in part.index else None
        where = "" if fv is None or fv["k"] < 0 else f"k={int(fv['k'])}, L{int(fv['layer'])}"
        cells.append(Cell(where))
        cells.append(Cell(_means_text(means_used.loc[task]) if task in means_used.index else ""))
        table_rows.append(Row(cells))
    section.add(
        Table(
            f"function_vectors_accuracy_{model}",
            f"{model}: accuracy of the function vector (universal heads; own heads), the task "
            "vector, ICL (plain; demonstration outputs shuffled, without and with the FV) and the "
            "baselines on the same test queries; FV − TV, and what the FV adds to shuffled-output "
            "ICL, each with its paired 95% interval; the clean prompts the head means used "
            "(answered correctly / all).",
            [
                "Task",
                *[HEADERS[c] for c in conditions],
                "FV − TV",
                "Shuffled: + FV",
                "FV k, layer",
                "Means from",
            ],
            table_rows,
            ctx.out.data(
                f"function_vectors_accuracy_{model}",
                pd.concat([rows, differences.reset_index(), shuffled_gains.reset_index()]),
            ),
        )
    )


def _paired_cell(differences: pd.DataFrame, task: str) -> Cell:
    """A paired difference of ``task`` (rows indexed by task) with its interval, or a dash."""
    if task not in differences.index:
        return Cell("–")
    d = differences.loc[task]
    return Cell(with_interval(d["value"], d["low"], d["high"], signed=True))


def _means_text(row: pd.Series) -> str:
    """``7/10`` (the correctly answered clean prompts the means used), ``all 10`` (none was)."""
    n, correct = int(row["n"]), round(float(row["value"]) * int(row["n"]))
    return f"{correct}/{n}" if correct else f"all {n} (none correct)"


def _curves(ctx: Context, section: Section, model: str, scores: pd.DataFrame) -> None:
    k_rows = scores[(scores["kind"] == "k_curve") & (scores["task"] == "overall")]
    if len(k_rows):
        section.add(
            ctx.out.figure(
                f"function_vectors_k_{model}",
                figures.curve(k_rows, "k", "top heads k"),
                f"{model}: accuracy against the number of heads",
                "Test accuracy over every task's queries; each k at its own dev-chosen layer.",
                k_rows,
            )
        )
    layer_rows = scores[(scores["kind"] == "layer_curve") & (scores["task"] == "overall")]
    # the ks with a curve (with ``curve: largest_k`` the others were tried at one layer only)
    layer_rows = layer_rows[layer_rows.groupby("k")["layer"].transform("size") > 1]
    if len(layer_rows):
        section.add(
            ctx.out.figure(
                f"function_vectors_layers_{model}",
                figures.curve(layer_rows, "layer", "layer the FV is added at", by="k"),
                f"{model}: dev accuracy of the function vector at each layer",
                "Dev zero-shot queries of every task, first token, one line per k.",
                layer_rows,
            )
        )


def _heads_and_tokens(ctx: Context, section: Section, model: str, scores: pd.DataFrame) -> None:
    top = scores[(scores["kind"] == "top_head") & (scores["task"] == "overall")].sort_values("k")
    overlap = scores[(scores["kind"] == "head_overlap") & (scores["task"] == "overall")]
    if len(top):
        note = str(top["text"].iloc[0])
        if len(overlap):
            r = overlap.iloc[0]
            note += (
                f"; mean Jaccard overlap of the tasks' own top-{int(r['k'])} heads: "
                f"{fmt(r['value'])}"
            )
        rows = [Row([Cell(str(int(r.k))), Cell(f"L{int(r.layer)}.H{int(r.head)}"),
                     Cell(fmt(r.value, 3))]) for r in top.itertuples()]  # fmt: skip
        section.add(
            Table(
                f"function_vectors_heads_{model}",
                f"{model}: the universal top heads by mean CIE ({note}).",
                ["Rank", "Head", "CIE"],
                rows,
                ctx.out.data(f"function_vectors_heads_{model}", top),
                narrow=True,
            )
        )
    tokens = scores[scores["kind"] == "fv_token"].sort_values(["task", "k"])
    cosines = scores[scores["kind"] == "cosine"]
    own = scores[(scores["kind"] == "top_head") & (scores["task"] != "overall")]
    own = own[own["k"] <= OWN_HEADS_SHOWN].sort_values(["task", "k"])
    rows = []
    for task in _tasks(ctx, tokens):
        part = tokens[tokens["task"] == task]
        cos = cosines[cosines["task"] == task]
        peak = cos.loc[cos["value"].idxmax()] if len(cos) else None
        cos_text = "–" if peak is None else f"{fmt(peak['value'])} (L{int(peak['layer'])})"
        heads = own[own["task"] == task]
        rows.append(Row([
            Cell(short_task_name(task), cls="name", title=task),
            Cell(cos_text),
            Cell(", ".join(f"L{int(r.layer)}.H{int(r.head)}" for r in heads.itertuples()) or "–"),
            Cell("", chips=[display_token(str(t)) for t in part["text"]]),
        ]))  # fmt: skip
    if rows:
        section.add(
            Table(
                f"function_vectors_tokens_{model}",
                f"{model}: the function vector's top tokens through the unembedding, its "
                "highest cosine with the mean task vector over layers (every layer in the data), "
                f"and the task's own top {OWN_HEADS_SHOWN} heads by its CIE.",
                ["Task", "Max cosine with θ", "Own top heads", "Top tokens"],
                rows,
                ctx.out.data(
                    f"function_vectors_tokens_{model}",
                    pd.concat([tokens, cosines, own], ignore_index=True),
                ),  # fmt: skip
                3,
            )
        )
