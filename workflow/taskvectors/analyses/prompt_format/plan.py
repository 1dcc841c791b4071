"""Which tasks the prompt-format analysis covers: by default those whose spacing is ``auto``
(decided by the tokenizer, so the other spacing is the comparison); none when the run's template
is its own spaced form (there is no other spacing)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from taskvectors.tasks.prompt_files import resolve_spacing
from taskvectors.tasks.prompts import get_template


def select_tasks(
    selection: str | Sequence[str],
    tasks: Sequence[str],
    config: Mapping[str, Any],
    registry: Mapping[str, Any],
) -> list[str]:
    template = get_template(config["prompts"]["template"])
    if template.spaced() == template:
        return []
    if selection == "default":
        spacing = config["prompts"].get("spacing")
        return [t for t in tasks if resolve_spacing(registry[t], spacing) == "auto"]
    return list(tasks) if selection == "all" else list(selection)
