"""Which tasks the recognition/learning analysis covers: its familiar tasks, then its novel ones
(both from the task registry, not from the run)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from taskvectors.pipeline.rules import DEFAULT_ANALYSIS_TASKS


def select(
    selection: Any, run_tasks: Sequence[str], config: Mapping[str, Any], registry: Mapping
) -> list[str]:
    """``tasks`` (``default``: one per family) followed by ``novel_tasks``, those the registry
    has (a registry without the built-in tasks skips the defaults; start-up refuses a name
    written in the config that no task has, ``preflight.analysis_task_problems``)."""
    settings = config["analyses"]["recognition_learning"]
    familiar = list(DEFAULT_ANALYSIS_TASKS) if selection == "default" else list(selection)
    novel = [task for task in settings.get("novel_tasks", []) if task not in familiar]
    return [task for task in (*familiar, *novel) if task in registry]


def conditions_of(task: str, settings: Mapping[str, Any]) -> list[str]:
    """The conditions a task runs under: the configured ones for a familiar task, gold (and
    ``show_query`` when listed) for a novel one."""
    if task in settings.get("novel_tasks", []) and task not in _familiar(settings):
        return ["gold", *(["show_query"] if task in settings.get("show_query", []) else [])]
    return list(settings["conditions"])


def _familiar(settings: Mapping[str, Any]) -> list[str]:
    tasks = settings.get("tasks", "default")
    return list(DEFAULT_ANALYSIS_TASKS) if tasks == "default" else list(tasks)
