"""The predictions table every model stage writes.

Model stages record raw predictions only (first generated token and greedy answer text); scoring
happens later, so that a change to the scoring code never reruns a model stage. One schema for all:
``example_id, split, condition, layer, token_id, first_token, answer`` (docs/outputs.md), plus
stage-specific columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from taskvectors.engine.patching import NO_PATCH, Decoded

COLUMNS = ("example_id", "split", "condition", "layer", "token_id", "first_token", "answer")
DTYPES = {"example_id": "int32", "layer": "int16", "token_id": "int32"}


def example_keys(examples: Sequence[Any], condition: str, layer: int = NO_PATCH) -> list[dict]:
    """The key of each example's row (``example_id``, ``split``, ``condition``, ``layer``), for
    :func:`prediction_rows`; ``layer`` -1 is an unpatched row."""
    return [
        {"example_id": ex.example_id, "split": ex.split, "condition": condition, "layer": layer}
        for ex in examples
    ]


def prediction_rows(decoded: Decoded, keys: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per decoded row; ``keys[i]`` holds row ``i``'s example_id, split, condition..."""
    if len(keys) != len(decoded.answers):
        raise ValueError(f"{len(keys)} keys for {len(decoded.answers)} decoded rows")
    return [
        {
            **key,
            "token_id": int(decoded.tokens[i, 0]),
            "first_token": decoded.first_tokens[i],
            "answer": decoded.answers[i],
        }
        for i, key in enumerate(keys)
    ]


def predictions_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The rows as a DataFrame with the table's column order and integer widths."""
    frame = pd.DataFrame(list(rows))
    extra = [column for column in frame.columns if column not in COLUMNS]
    frame = frame[[*COLUMNS, *extra]]
    return frame.astype({**DTYPES, **{c: "int16" for c in extra if c == "permutation"}})
