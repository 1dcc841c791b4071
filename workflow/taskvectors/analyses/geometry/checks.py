"""Start-up check of the geometry settings: enough stored vectors per task."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def problems(config: Mapping[str, Any], counts: Mapping[str, int]) -> list[str]:
    """``n_vectors`` above the examples a task stores (``prompts.n_dev + n_test``)."""
    n_vectors = config["analyses"]["geometry"]["n_vectors"]
    prompts = config["prompts"]
    n_examples = prompts["n_dev"] + prompts["n_test"]
    if n_vectors <= n_examples:
        return []
    return [
        f"analyses.geometry.n_vectors: {n_vectors} vectors per task requested, but they are "
        f"taken from the task's prompts.n_dev ({prompts['n_dev']}) + prompts.n_test "
        f"({prompts['n_test']}) = {n_examples} examples; lower n_vectors or raise n_dev/n_test"
    ]
