"""Start-up warning of the GD settings: bfloat16 training forced on a CPU without it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taskvectors.engine.precision import slow_precision_warning


def warnings(config: Mapping[str, Any]) -> list[str]:
    """One line when ``autocast: bfloat16`` would run emulated (about 100x slower) on this CPU."""
    if config["analyses"]["gd"].get("autocast") != "bfloat16":
        return []
    line = slow_precision_warning("analyses.gd.autocast (on a CPU)", "bfloat16", "cpu")
    return [line] if line else []
