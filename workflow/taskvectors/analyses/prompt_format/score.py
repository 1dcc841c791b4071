"""Scoring of the prompt format analysis: its raw files into its documented score table."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from taskvectors.analyses.prompt_format import ANALYSIS
from taskvectors.analyses.spec import ScoreRequest
from taskvectors.analyses.tables import accuracy_table, score_table
from taskvectors.results.files import (
    PromptDocument,
    read_prompt_document,
    read_result_table,
)
from taskvectors.scoring.answers import is_correct


def score_prompt_format(
    raw: Mapping[str, Path],
    documents: Mapping[str, PromptDocument],
    evals: Mapping[str, pd.DataFrame],
) -> pd.DataFrame:
    """Accuracy of baseline, ICL and TV with the other spacing beside the run's own."""
    frames = []
    for task, path in raw.items():
        other = read_result_table(path)
        mode = documents[task].scoring
        other["hit"] = [
            is_correct(p, a, mode)
            for p, a in zip(other["first_token"], other["answers"], strict=True)
        ]
        main = evals[task][evals[task]["condition"].isin(["baseline", "icl", "tv"])].copy()
        main["hit"] = main["correct_first"]
        main["spacing"] = documents[task].spacing.get("chosen", "none")
        for frame, is_default in ((main, True), (other, False)):
            table = accuracy_table(frame, ["spacing", "condition", "layer"], "hit")
            frames.append(table.assign(task=task, is_default=is_default))
    return score_table(ANALYSIS.score_columns, frames)


def score(request: ScoreRequest) -> pd.DataFrame:
    documents = {t: read_prompt_document(p) for t, p in request.inputs["prompts"].items()}
    evals = {t: read_result_table(p, "eval") for t, p in request.inputs["evals"].items()}
    return score_prompt_format(request.raw[""], documents, evals)
