"""Helpers every analysis's scoring shares: a table in its declared columns, accuracies with
Wilson intervals."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from taskvectors.scoring.stats import wilson_intervals


def score_table(columns: Sequence[str], frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """``frames`` as one table in ``columns`` (an analysis's ``score_columns``); with no frames,
    an empty table of those columns."""
    if not frames:
        return pd.DataFrame(columns=list(columns))
    return pd.concat(frames, ignore_index=True)[list(columns)]


def accuracy_table(frame: pd.DataFrame, by: Sequence[str], hit: str) -> pd.DataFrame:
    """``n``, ``successes``, ``accuracy`` and its Wilson interval ``low``/``high`` per group."""
    table = frame.groupby(list(by), as_index=False).agg(n=(hit, "size"), successes=(hit, "sum"))
    table["accuracy"] = table["successes"] / table["n"]
    table["low"], table["high"] = wilson_intervals(table["successes"], table["n"])
    return table
