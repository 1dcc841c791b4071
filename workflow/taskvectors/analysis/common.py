"""Small decisions shared by every analysis: which prediction counts, task families, scoring modes.

Each lives in one function so that the report, the tests and any notebook make the same choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taskvectors.scoring import answer_column

FAMILIES = ("algorithmic", "translation", "linguistic", "knowledge", "novel")
CUSTOM = "custom"

# Each family's scoring in data/tasks.yaml, for a task whose registry entry cannot be found:
# exact match for generated tasks (algorithmic and novel), any accepted answer for translation and
# linguistic data (the files list alternatives), prefix match in either direction for knowledge
# (multi-token answers).
FAMILY_SCORING = {
    "algorithmic": "exact",
    "linguistic": "any_of",
    "translation": "any_of",
    "knowledge": "prefix",
    "novel": "exact",
    CUSTOM: "exact",
}


def prediction_column(config: Mapping[str, Any]) -> str:
    """The predictions-table column that counts as the model's answer under this run's config."""
    return answer_column((config.get("evaluation") or {}).get("answer", "first_token"))


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
    """A task's scoring mode: its registry entry's (a mapping, as stored in prompt files, or a
    ``TaskSpec``), else its family's default."""
    mode = entry.get("scoring") if isinstance(entry, Mapping) else getattr(entry, "scoring", None)
    return mode or FAMILY_SCORING.get(task_family(task), "exact")
