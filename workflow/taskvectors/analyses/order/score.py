"""Scoring of the order analysis: its raw files into its documented score table."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from taskvectors.analyses.order import ANALYSIS
from taskvectors.analyses.order.statistics import order_comparison, order_table
from taskvectors.analyses.spec import ScoreRequest
from taskvectors.analyses.tables import score_table
from taskvectors.results.files import (
    PromptDocument,
    read_prompt_document,
    read_result_table,
)
from taskvectors.scoring.answers import answer_column, is_correct

SEED = 41


def score_order(
    raw: Mapping[str, Path], documents: Mapping[str, PromptDocument], answer_column: str
) -> pd.DataFrame:
    """Order sensitivity of ICL and TV per task and overall, with intervals (wide metrics)."""
    frames = []
    for task, path in raw.items():
        rows = read_result_table(path)
        if rows.empty:
            continue
        answers = {ex.example_id: ex.answers for ex in documents[task].split("test")}
        mode = documents[task].scoring
        rows["prediction"] = rows[answer_column]
        rows["correct"] = [
            is_correct(p, answers[int(i)], mode)
            for p, i in zip(rows["prediction"], rows["example_id"], strict=True)
        ]
        frames.append(rows.assign(task=task))
    if not frames:
        return score_table(ANALYSIS.score_columns, [])
    scored = pd.concat(frames, ignore_index=True)
    scored["prediction"] = scored["prediction"].fillna("").astype(str)
    return order_long_table(order_table(scored, seed=SEED), order_comparison(scored, seed=SEED))


ORDER_METRICS = {
    "agreement": "agreement_first",
    "agreement_all": "agreement_all",
    "pairwise_agreement": "pairwise_agreement",
    "accuracy_mean": "accuracy_mean",
    "accuracy_range": "accuracy_range",
    "accuracy_std": "accuracy_std",
}


def order_long_table(metrics: pd.DataFrame, comparison: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, condition, metric) with its interval (docs/outputs.md): the metrics of
    ``order_table``, ``sensitivity`` = 1 − pairwise agreement, and the paired ``tv_minus_icl``
    sensitivity rows of ``order_comparison`` with their verdict."""
    records = []
    for _, row in metrics.iterrows():
        base = {
            "task": row["task"],
            "condition": row["condition"],
            "n": int(row["n_examples"]),
            "n_permutations": int(row["n_permutations"]),
            "verdict": "",
        }
        for metric, column in ORDER_METRICS.items():
            records.append(
                {**base, "metric": metric, "value": row[column],
                 "low": row[f"{column}_low"], "high": row[f"{column}_high"]}
            )  # fmt: skip
        pairwise = "pairwise_agreement"
        records.append(
            {**base, "metric": "sensitivity", "value": 1 - row[pairwise],
             "low": 1 - row[f"{pairwise}_high"], "high": 1 - row[f"{pairwise}_low"]}
        )  # fmt: skip
    orders = metrics.groupby("task")["n_permutations"].min().to_dict()
    for _, row in comparison.iterrows():
        records.append(
            {
                "task": row["task"], "condition": "tv_minus_icl", "metric": "sensitivity",
                "value": row["tv_minus_icl"], "low": row["tv_minus_icl_low"],
                "high": row["tv_minus_icl_high"], "n": int(row["n_examples"]),
                "n_permutations": int(orders.get(row["task"], 0)),
                "verdict": str(row["verdict"]),
            }
        )  # fmt: skip
    return pd.DataFrame(records)


def score(request: ScoreRequest) -> pd.DataFrame:
    documents = {t: read_prompt_document(p) for t, p in request.inputs["prompts"].items()}
    column = answer_column(request.config["evaluation"]["answer"])
    return score_order(request.raw[""], documents, column)
