"""Start-up check of the order settings: enough distinct orders of the demonstrations."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def problems(config: Mapping[str, Any], counts: Mapping[str, int]) -> list[str]:
    """``n_permutations`` above the ``n_demos! - 1`` orders besides the original."""
    n_permutations = config["analyses"]["order"]["n_permutations"]
    n_demos = config["prompts"]["n_demos"]
    other_orders = math.factorial(n_demos) - 1
    if n_permutations <= other_orders:
        return []
    return [
        f"analyses.order.n_permutations: {n_permutations} orders besides the original "
        f"requested, but prompts.n_demos ({n_demos}) demonstrations have only {other_orders}"
    ]
