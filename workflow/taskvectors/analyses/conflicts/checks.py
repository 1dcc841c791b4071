"""Start-up check of the conflicts settings: task A has a query and ``n_demos`` other pairs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taskvectors.pipeline.rules import conflict_pairs


def problems(config: Mapping[str, Any], counts: Mapping[str, int]) -> list[str]:
    """Pairs whose task A has fewer pairs than ``n_demos`` demonstrations and a query need."""
    settings = config["analyses"]["conflicts"]
    needed = settings["n_demos"] + 1
    return [
        f"analyses.conflicts: task {task_a} has {counts[task_a]} pairs, but n_demos "
        f"({settings['n_demos']}) demonstrations and a query need {needed}"
        for task_a, _ in conflict_pairs(settings["pairs"], list(counts))
        if counts[task_a] < needed
    ]
