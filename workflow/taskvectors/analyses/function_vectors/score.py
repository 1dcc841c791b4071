"""Scoring of the function vectors: the raw files into the long table the report renders.

Table columns (the analysis's ``score_columns``):
``kind, task, condition, k, layer, head, metric, value, low, high, n, text``. Kinds:

* ``accuracy``: per task and ``overall`` (every example pooled), ``condition`` fv (the k and layer
  chosen on dev), fv_task_heads (the FV of the task's own top-k heads at the same k and layer),
  icl_shuffled (ICL with the demonstration outputs shuffled) and icl_shuffled_fv (the same with
  the FV added), and tv, icl, baseline, majority, copy (the main run's evals), all on the same
  test examples; ``metric`` first_token / full_answer; Wilson intervals.
* ``fv_minus_tv``: per task and ``overall``, the paired difference of the headline score on the
  same test examples, with a paired bootstrap interval.
* ``shuffled_fv_gain``: per task and ``overall``, what adding the FV to shuffled-label ICL changes
  (``icl_shuffled_fv`` − ``icl_shuffled``, headline score, paired bootstrap interval).
* ``k_curve``: test first-token accuracy of the FV of each ``k`` at its own dev-chosen layer
  (only the chosen k decodes full answers).
* ``layer_curve``: dev first-token accuracy of the FV of each ``k`` at each layer.
* ``cie``: per task, each head's mean causal indirect effect; ``cie_mean`` (task ``overall``)
  its mean over tasks and ``cie_family`` (task = the family) over each family's tasks.
* ``top_head``: the universal heads (task ``overall``, ``k`` = rank from 1) and each task's own,
  with their CIE.
* ``head_overlap``: Jaccard overlap of two tasks' own top-K heads (K = the largest k; ``task``
  and ``condition`` name the two tasks), and its mean over pairs (task ``overall``).
* ``cosine``: cosine of the chosen FV with the mean task vector at each layer.
* ``fv_token``: the FV's top tokens (``k`` = rank, ``text`` = token, ``value`` = logit).
* ``filter``: ICL − baseline accuracy per task, ``text`` says whether it passed the filter.
* ``mean_prompts``: per task, the share of the clean prompts of the head means that the model
  answered correctly (Wilson interval, ``n`` prompts); ``text`` says how many the means used
  (every prompt when none was answered correctly).
* ``verdict``: task ``overall``: FV − TV with its interval and the sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

import numpy as np
import pandas as pd

from taskvectors.analyses.function_vectors import ANALYSIS
from taskvectors.analyses.spec import ScoreRequest
from taskvectors.results.files import read_prompt_document, read_result_table
from taskvectors.scoring.answers import answer_column, is_correct
from taskvectors.scoring.stats import paired_bootstrap, wilson_intervals
from taskvectors.seeding import derived_seed

OVERALL = "overall"
COLUMNS = list(ANALYSIS.score_columns)
SEED = 41
EVAL_CONDITIONS = ("tv", "icl", "baseline", "majority", "copy")
#: Conditions of the job's own test predictions scored beside the chosen FV, at its k and layer.
PAIRED_CONDITIONS = ("fv_task_heads", "icl_shuffled", "icl_shuffled_fv")
#: Top heads listed per task and overall.
TOP_LISTED = 16
METRICS = {"first_token": "correct_first", "full_answer": "correct_full"}


def family(task: str) -> str:
    """``algorithmic_to_upper`` → ``algorithmic``."""
    return task.split("_", 1)[0]


def _row(kind: str, task: str, metric: str = "", value: float = np.nan, *, condition: str = "",
         k: int = -1, layer: int = -1, head: int = -1, low: float = np.nan,
         high: float = np.nan, n: int = 0, text: str = "") -> dict:  # fmt: skip
    return {"kind": kind, "task": task, "condition": condition, "k": int(k), "layer": int(layer),
            "head": int(head), "metric": metric, "value": float(value), "low": float(low),
            "high": float(high), "n": int(n), "text": text}  # fmt: skip


def proportion_row(kind: str, task: str, metric: str, hits, **extra) -> dict:
    """A proportion with its Wilson interval."""
    hits = np.asarray(hits, dtype=bool)
    successes, n = int(hits.sum()), int(hits.size)
    low, high = wilson_intervals(successes, n)
    value = successes / n if n else np.nan
    return _row(kind, task, metric, value, low=float(low), high=float(high), n=n, **extra)


def scored_predictions(raw: pd.DataFrame, answers: Mapping[int, tuple], mode: str) -> pd.DataFrame:
    """``raw`` FV predictions with ``correct_first`` and ``correct_full`` (as ``evaluate``)."""
    table = raw.copy()
    ids = table["example_id"].astype(int)
    for column, source in (("correct_first", "first_token"), ("correct_full", "answer")):
        table[column] = [
            is_correct(p, answers[i], mode)
            for p, i in zip(table[source].fillna(""), ids, strict=True)
        ]
    return table


def paired(fv: pd.DataFrame, tv: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """FV and TV hits ``(n,)`` on the examples both have, in example order."""
    a = fv.set_index("example_id")[column].astype(float)
    b = tv.set_index("example_id")[column].astype(float)
    shared = a.index.intersection(b.index).sort_values()
    return a.loc[shared].to_numpy(), b.loc[shared].to_numpy()


def chosen_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The test rows of the FV chosen on dev."""
    return table[(table["split"] == "test") & table["chosen"].astype(bool)]


def paired_rows(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The test rows of each of :data:`PAIRED_CONDITIONS` the table has."""
    test = table[table["split"] == "test"]
    parts = {c: test[test["condition"] == c] for c in PAIRED_CONDITIONS}
    return {c: part for c, part in parts.items() if len(part)}


def _where(part: pd.DataFrame) -> dict:
    """The k and layer of a condition's rows (none when they have no k, like plain ICL)."""
    if part.empty or int(part["k"].iloc[0]) < 0:
        return {}
    return {"k": int(part["k"].iloc[0]), "layer": int(part["layer"].iloc[0])}


def accuracy_rows(
    task: str,
    chosen: pd.DataFrame,
    evals: pd.DataFrame,
    paired_conditions: Mapping[str, pd.DataFrame] | None = None,
) -> list[dict]:
    """Accuracy of the chosen FV, of the job's paired conditions (:data:`PAIRED_CONDITIONS`) and
    of the main run's conditions on the FV's test examples."""
    ids = set(chosen["example_id"])
    same = evals[evals["example_id"].isin(ids)]
    paired_conditions = paired_conditions or {}
    rows = []
    for metric, column in METRICS.items():
        rows.append(proportion_row("accuracy", task, metric, chosen[column], condition="fv",
                                   **_where(chosen)))  # fmt: skip
        for condition, part in paired_conditions.items():
            part = part[part["example_id"].isin(ids)]
            rows.append(proportion_row("accuracy", task, metric, part[column],
                                       condition=condition, **_where(part)))  # fmt: skip
        for condition in EVAL_CONDITIONS:
            part = same[same["condition"] == condition]
            if len(part):
                layer = int(part["layer"].iloc[0]) if condition == "tv" else -1
                rows.append(proportion_row("accuracy", task, metric, part[column],
                                           condition=condition, layer=layer))  # fmt: skip
    return rows


def difference_row(task: str, fv_hits: np.ndarray, tv_hits: np.ndarray, kind: str) -> dict:
    interval = paired_bootstrap(fv_hits, tv_hits, seed=derived_seed(SEED, "fv minus tv", task))
    return _row(kind, task, "headline", interval.estimate, condition="fv_minus_tv",
                low=interval.low, high=interval.high, n=interval.n)  # fmt: skip


def shuffled_hits(
    conditions: Mapping[str, pd.DataFrame], column: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """Shuffled-label ICL with and without the FV, hits ``(n,)`` on the examples both have."""
    if not {"icl_shuffled", "icl_shuffled_fv"} <= set(conditions):
        return None
    return paired(conditions["icl_shuffled_fv"], conditions["icl_shuffled"], column)


def shuffled_gain_row(task: str, with_fv: np.ndarray, plain: np.ndarray) -> dict:
    """``icl_shuffled_fv`` − ``icl_shuffled`` with its paired bootstrap interval."""
    interval = paired_bootstrap(with_fv, plain, seed=derived_seed(SEED, "shuffled gain", task))
    return _row("shuffled_fv_gain", task, "headline", interval.estimate,
                condition="icl_shuffled_fv_minus_icl_shuffled", low=interval.low,
                high=interval.high, n=interval.n)  # fmt: skip


def verdict_row(model: str, fv_hits: np.ndarray, tv_hits: np.ndarray) -> dict:
    """The section's one sentence: do the heads carry the task the hidden state carries?"""
    row = difference_row(OVERALL, fv_hits, tv_hits, "verdict")
    if row["n"] == 0:
        return {**row, "text": "No test examples have both a function-vector and a TV answer."}
    low, high, value = row["low"], row["high"], row["value"]
    if low > 0:
        claim = "the heads' function vector does the task better than the hidden-state task vector"
    elif high < 0:
        claim = (
            "the heads carry less of the task than the hidden state: the function vector "
            "scores below the task vector"
        )
    else:
        claim = "the data do not separate the function vector from the task vector"
    text = (
        f"On {model}, {claim}: accuracy {fv_hits.mean():.2f} with the FV and {tv_hits.mean():.2f} "
        f"with the TV on the same {row['n']} test queries (FV − TV {value:+.2f}, 95% interval "
        f"{low:+.2f} to {high:+.2f})."
    )
    return {**row, "text": text}


def curve_rows(task: str, predictions: pd.DataFrame) -> list[dict]:
    """The k curve (test) and the layer curve (dev) of one task."""
    rows = []
    predictions = predictions[predictions["condition"] == "fv"]
    test = predictions[predictions["split"] == "test"]
    for (k, layer), part in test.groupby(["k", "layer"]):
        rows.append(proportion_row("k_curve", task, "first_token", part["correct_first"],
                                   condition="fv", k=k, layer=layer))  # fmt: skip
    dev = predictions[predictions["split"] == "dev"]
    for (k, layer), part in dev.groupby(["k", "layer"]):
        rows.append(proportion_row("layer_curve", task, "first_token", part["correct_first"],
                                   condition="fv", k=k, layer=layer))  # fmt: skip
    return rows


def _k_curve_overall(predictions: pd.DataFrame) -> list[dict]:
    test = predictions[(predictions["split"] == "test") & (predictions["condition"] == "fv")]
    return [
        proportion_row(
            "k_curve", OVERALL, "first_token", part["correct_first"], condition="fv", k=k
        )
        for k, part in test.groupby("k")
    ]


def cie_rows(cie: Mapping[str, pd.DataFrame]) -> list[dict]:
    """Per-task, mean and per-family CIE per head, and the top heads."""
    rows = []
    for task, table in cie.items():
        for r in table.itertuples():
            rows.append(_row("cie", task, "cie", r.cie, layer=r.layer, head=r.head,
                             n=r.n_prompts))  # fmt: skip
        for r in table[table["rank_task"] < TOP_LISTED].itertuples():
            rows.append(_row("top_head", task, "cie", r.cie, k=r.rank_task + 1, layer=r.layer,
                             head=r.head))  # fmt: skip
    everything = pd.concat([t.assign(task=task) for task, t in cie.items()], ignore_index=True)
    mean = everything.groupby(["layer", "head"], as_index=False)["cie"].mean()
    rows += [_row("cie_mean", OVERALL, "cie", r.cie, layer=r.layer, head=r.head,
                  n=len(cie)) for r in mean.itertuples()]  # fmt: skip
    everything["family"] = everything["task"].map(family)
    by_family = everything.groupby(["family", "layer", "head"], as_index=False).agg(
        cie=("cie", "mean"), n=("task", "nunique")
    )
    rows += [_row("cie_family", r.family, "cie", r.cie, layer=r.layer, head=r.head, n=r.n)
             for r in by_family.itertuples()]  # fmt: skip
    first = next(iter(cie.values()))
    universal = first[first["rank_universal"] < TOP_LISTED].sort_values("rank_universal")
    passing = [t for t, table in cie.items() if bool(table["passes_filter"].iloc[0])]
    note = f"averaged over {len(passing) or len(cie)} tasks" + ("" if passing else " (none passed)")
    rows += [
        _row("top_head", OVERALL, "cie_universal", r.cie_universal, k=r.rank_universal + 1,
             layer=r.layer, head=r.head, text=note)
        for r in universal.itertuples()
    ]  # fmt: skip
    return rows


def overlap_rows(cie: Mapping[str, pd.DataFrame], top: int) -> list[dict]:
    """Jaccard overlap of every pair of tasks' own top-``top`` heads, and their mean."""
    sets = {}
    for task, t in cie.items():
        kept = t[t["rank_task"] < top]
        sets[task] = set(zip(kept["layer"], kept["head"], strict=True))
    rows, values = [], []
    for a, b in combinations(sets, 2):
        value = len(sets[a] & sets[b]) / len(sets[a] | sets[b]) if sets[a] | sets[b] else np.nan
        values.append(value)
        rows.append(_row("head_overlap", a, "jaccard", value, condition=b, k=top))
    if values:
        rows.append(_row("head_overlap", OVERALL, "jaccard", float(np.nanmean(values)), k=top,
                         n=len(values)))  # fmt: skip
    return rows


def geometry_rows(task: str, geometry: pd.DataFrame) -> list[dict]:
    rows = [_row("cosine", task, "cosine", r.value, layer=r.layer)
            for r in geometry[geometry["kind"] == "cosine"].itertuples()]  # fmt: skip
    rows += [_row("fv_token", task, "logit", r.value, k=r.rank + 1, layer=r.layer, text=r.token)
             for r in geometry[geometry["kind"] == "token"].itertuples()]  # fmt: skip
    return rows


def mean_prompts_row(task: str, cie: pd.DataFrame) -> dict | None:
    """The share of the clean prompts the model answered correctly, and how many the head means
    used (None for a CIE table without the counts)."""
    if "n_mean_prompts" not in cie.columns or cie.empty:
        return None
    first = cie.iloc[0]
    n, correct, used = (int(first[c]) for c in ("n_mean_prompts", "n_mean_correct", "n_mean_used"))
    hits = np.arange(n) < correct
    text = (
        f"means over the {used} of {n} clean prompts answered correctly"
        if correct
        else f"none of {n} clean prompts answered correctly: means over all {used}"
    )
    return {**proportion_row("mean_prompts", task, "correct_share", hits), "text": text}


def filter_row(task: str, evals: pd.DataFrame, passed: bool) -> dict:
    icl = evals.loc[evals["condition"] == "icl", "correct"].astype(float).mean()
    baseline = evals.loc[evals["condition"] == "baseline", "correct"].astype(float).mean()
    text = "passes" if passed else "fails"
    return _row("filter", task, "icl_minus_baseline", icl - baseline, text=text)


def score_tables(
    predictions: Mapping[str, pd.DataFrame],
    cie: Mapping[str, pd.DataFrame],
    geometry: Mapping[str, pd.DataFrame],
    evals: Mapping[str, pd.DataFrame],
    *,
    model: str,
    answer: str = "first_token",
) -> pd.DataFrame:
    """The long table (module docstring) from scored FV predictions (``correct_first``,
    ``correct_full`` and ``chosen`` columns), the CIE and geometry tables, and the main evals."""
    headline = "correct_first" if answer_column(answer) == "first_token" else "correct_full"
    rows, pooled, fv_all, tv_all, shuffled_all = [], [], [], [], []
    for task, table in predictions.items():
        chosen = chosen_rows(table)
        conditions = paired_rows(table)
        task_evals = evals[task]
        rows += accuracy_rows(task, chosen, task_evals, conditions)
        tv = task_evals[task_evals["condition"] == "tv"]
        fv_hits, tv_hits = paired(chosen, tv, headline)
        fv_all.append(fv_hits)
        tv_all.append(tv_hits)
        rows.append(difference_row(task, fv_hits, tv_hits, "fv_minus_tv"))
        hits = shuffled_hits(conditions, headline)
        if hits is not None:
            rows.append(shuffled_gain_row(task, *hits))
            shuffled_all.append(hits)
        rows += curve_rows(task, table)
        rows += geometry_rows(task, geometry[task])
        passed = bool(cie[task]["passes_filter"].iloc[0]) if task in cie else False
        rows.append(filter_row(task, task_evals, passed))
        means_row = mean_prompts_row(task, cie[task]) if task in cie else None
        rows += [means_row] if means_row else []
        ids = set(chosen["example_id"])
        pooled.append(
            (
                chosen,
                task_evals[task_evals["example_id"].isin(ids)],
                {c: part[part["example_id"].isin(ids)] for c, part in conditions.items()},
            )
        )
    if pooled:
        chosen = pd.concat([c for c, _, _ in pooled], ignore_index=True)
        same = pd.concat([e for _, e, _ in pooled], ignore_index=True)
        for metric, column in METRICS.items():
            rows.append(proportion_row("accuracy", OVERALL, metric, chosen[column], condition="fv"))
            for condition in PAIRED_CONDITIONS:
                parts = [p[condition] for _, _, p in pooled if condition in p]
                if parts:
                    part = pd.concat(parts, ignore_index=True)
                    rows.append(proportion_row("accuracy", OVERALL, metric, part[column],
                                               condition=condition))  # fmt: skip
            for condition in EVAL_CONDITIONS:
                part = same[same["condition"] == condition]
                if len(part):
                    rows.append(proportion_row("accuracy", OVERALL, metric, part[column],
                                               condition=condition))  # fmt: skip
        if shuffled_all:
            rows.append(
                shuffled_gain_row(
                    OVERALL,
                    np.concatenate([with_fv for with_fv, _ in shuffled_all]),
                    np.concatenate([plain for _, plain in shuffled_all]),
                )
            )
        fv_hits, tv_hits = np.concatenate(fv_all), np.concatenate(tv_all)
        rows.append(difference_row(OVERALL, fv_hits, tv_hits, "fv_minus_tv"))
        rows.append(verdict_row(model, fv_hits, tv_hits))
        every = pd.concat(list(predictions.values()), ignore_index=True)
        rows += _k_curve_overall(every)
        dev = every[(every["split"] == "dev") & (every["condition"] == "fv")]
        for (k, layer), part in dev.groupby(["k", "layer"]):
            rows.append(proportion_row("layer_curve", OVERALL, "first_token", part["correct_first"],
                                       condition="fv", k=k, layer=layer))  # fmt: skip
    if cie:
        rows += cie_rows(cie)
        top = int(max(int(t["k"].max()) for t in predictions.values())) if predictions else 1
        rows += overlap_rows(cie, top)
    return pd.DataFrame(rows, columns=COLUMNS)


def score(request: ScoreRequest) -> pd.DataFrame:
    """The function-vector score table of one model from its raw files, prompts and evals."""
    predictions, cie, geometry, evals = {}, {}, {}, {}
    for task in request.tasks:
        document = read_prompt_document(request.inputs["prompts"][task])
        answers = {ex.example_id: ex.answers for ex in document.examples}
        raw = read_result_table(request.raw[""][task])
        predictions[task] = scored_predictions(raw, answers, document.scoring)
        cie[task] = read_result_table(request.raw["cie"][task])
        geometry[task] = read_result_table(request.raw["geometry"][task])
        evals[task] = read_result_table(request.inputs["evals"][task], "eval")
    answer = request.config["evaluation"]["answer"]
    return score_tables(predictions, cie, geometry, evals, model=request.model, answer=answer)
