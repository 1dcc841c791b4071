"""Scoring of the conflicts analysis: its raw files into its documented score table."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from taskvectors.analyses.conflicts import ANALYSIS
from taskvectors.analyses.spec import ScoreRequest
from taskvectors.analyses.tables import accuracy_table, score_table
from taskvectors.results.files import (
    best_layer,
    read_prompt_document,
    read_result_table,
)
from taskvectors.scoring.answers import is_correct


def score_conflicts(
    raw: Mapping[tuple[str, str], Path],
    modes: Mapping[str, str],
    sweeps: Mapping[str, pd.DataFrame],
) -> pd.DataFrame:
    """Per pair, condition and layer: how often the answer is A's and how often B's."""
    frames = []
    for (task_a, task_b), path in raw.items():
        rows = read_result_table(path)
        if rows.empty:
            continue
        rows["hit_a"] = [
            is_correct(p, a, modes[task_a])
            for p, a in zip(rows["first_token"], rows["answers_a"], strict=True)
        ]
        rows["hit_b"] = [
            is_correct(p, b, modes[task_b])
            for p, b in zip(rows["first_token"], rows["answers_b"], strict=True)
        ]
        to_a = accuracy_table(rows, ["condition", "layer"], "hit_a")
        to_b = accuracy_table(rows, ["condition", "layer"], "hit_b")
        table = to_a[["condition", "layer", "n"]].copy()
        for name, part in (("to_a", to_a), ("to_b", to_b)):
            table[name], table[f"{name}_low"], table[f"{name}_high"] = (
                part["accuracy"],
                part["low"],
                part["high"],
            )
        table["is_best"] = table["layer"] == (best_layer(sweeps[task_b]) or -2)
        frames.append(table.assign(task_a=task_a, task_b=task_b))
    return score_table(ANALYSIS.score_columns, frames)


def score(request: ScoreRequest) -> pd.DataFrame:
    modes = {t: read_prompt_document(p).scoring for t, p in request.inputs["prompts"].items()}
    raw = {
        pair: request.raw[""][item] for pair, item in zip(request.pairs, request.items, strict=True)
    }
    return score_conflicts(raw, modes, _sweeps(request))


def _sweeps(request: ScoreRequest) -> dict[str, pd.DataFrame]:
    return {t: read_result_table(p, "sweep") for t, p in request.inputs["sweeps"].items()}
