"""Scoring of the top tokens analysis: its raw files into its documented score table."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from taskvectors.analyses.spec import ScoreRequest
from taskvectors.analyses.tables import score_table
from taskvectors.analyses.top_tokens import ANALYSIS
from taskvectors.results.files import (
    best_layer,
    read_result_table,
)


def score_top_tokens(raw: Mapping[str, Path], sweeps: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Each task's top tokens at its best layer (tasks without one are left out)."""
    frames = []
    for task, path in raw.items():
        best = best_layer(sweeps[task])
        if best is None:
            continue
        tokens = read_result_table(path)
        tokens = tokens[tokens["layer"] == best]
        frames.append(tokens.assign(task=task))
    return score_table(ANALYSIS.score_columns, frames)


def score(request: ScoreRequest) -> pd.DataFrame:
    return score_top_tokens(request.raw[""], _sweeps(request))


def _sweeps(request: ScoreRequest) -> dict[str, pd.DataFrame]:
    return {t: read_result_table(p, "sweep") for t, p in request.inputs["sweeps"].items()}
