"""How the report names things: task families, short task names, tokens with visible whitespace.

Each is one function so that every section, figure and test shows a task or token the same way.
"""

from __future__ import annotations

FAMILIES = ("algorithmic", "translation", "linguistic", "knowledge", "novel")
CUSTOM = "custom"

_VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥"}


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


def display_token(token: str) -> str:
    """A token with its whitespace made visible (a leading space as ␣, newline as ⏎)."""
    return "".join(_VISIBLE.get(char, char) for char in token) if token else "∅"
