"""Small decisions shared by every analysis: which prediction counts, task families, scoring modes.

Each lives in one function so that the report, the tests and any notebook make the same choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FAMILIES = ("algorithmic", "translation", "linguistic", "knowledge")
CUSTOM = "custom"

# The paper's scoring per family: exact match, any of several answers (synonyms) for translation,
# prefix match in either direction for knowledge (multi-token answers).
FAMILY_SCORING = {
    "algorithmic": "exact",
    "linguistic": "exact",
    "translation": "any_of",
    "knowledge": "prefix",
    CUSTOM: "exact",
}
SCORING_MODES = ("exact", "prefix", "any_of")

# Keys a registry entry might use for its scoring mode, in order of preference.
_SCORING_KEYS = ("scoring", "scoring_mode", "match", "metric")

ANSWER_COLUMNS = {"first_token": "first_token", "greedy": "answer"}


def prediction_column(config: Mapping[str, Any]) -> str:
    """The predictions-table column that counts as the model's answer under this run's config.

    ``config["evaluation"]["answer"]`` is ``"first_token"`` (the paper's first-token accuracy, the
    default) or ``"greedy"`` (the greedy multi-token answer).
    """
    evaluation = config.get("evaluation") or {}
    answer = evaluation.get("answer", "first_token") if isinstance(evaluation, Mapping) else None
    try:
        return ANSWER_COLUMNS[answer]
    except KeyError:
        raise ValueError(
            f"evaluation.answer must be one of {sorted(ANSWER_COLUMNS)}, got {answer!r}"
        ) from None


def task_family(task: str, category: str | None = None) -> str:
    """A task's family: the summary's ``category`` when it has one (a user task may name its own
    family), else the name's prefix (``algorithmic_…``), else ``custom``."""
    if isinstance(category, str) and category.strip():
        return category.strip().lower()
    prefix = task.split("_", 1)[0].lower()
    return prefix if prefix in FAMILIES and "_" in task else CUSTOM


def short_task_name(task: str) -> str:
    """``algorithmic_next_letter`` → ``next letter``; a custom task keeps its name."""
    family, _, rest = task.partition("_")
    if family in FAMILIES and rest:
        return rest.replace("_", " ")
    return task


def scoring_mode(task: str, entry: Any = None) -> str:
    """The scoring mode of a task: from its registry entry if that names one, else its family.

    ``entry`` may be a mapping or an object (a registry record); a nested ``{"mode": ...}`` is
    understood too.
    """
    for key in _SCORING_KEYS:
        value = entry.get(key) if isinstance(entry, Mapping) else getattr(entry, key, None)
        if isinstance(value, Mapping):
            value = value.get("mode")
        value = getattr(value, "value", value)  # an Enum member
        if isinstance(value, str) and value in SCORING_MODES:
            return value
    return FAMILY_SCORING.get(task_family(task), "exact")
