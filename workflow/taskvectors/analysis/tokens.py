"""Top tokens of a task vector: what θ says when read through the final norm and unembedding.

The paper finds that θ often ranks the task's output space (capitals for country→capital,
gerunds for the gerund task) or task words near the top, but not in every model.
"""

from __future__ import annotations

import pandas as pd

_VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥"}


def top_tokens_at(frame: pd.DataFrame, layer: int, k: int = 10) -> list[str]:
    """The ``k`` highest-ranked tokens at ``layer`` of a top-tokens table
    (``layer, rank, token_id, token, logit``), best first."""
    rows = frame[frame["layer"] == layer].sort_values("rank", kind="stable").head(k)
    return [str(token) for token in rows["token"]]


def display_token(token: str) -> str:
    """A token with its whitespace made visible (a leading space as ␣, newline as ⏎)."""
    return "".join(_VISIBLE.get(char, char) for char in token) if token else "∅"
