"""The analyses registry: every analysis of the suite, in report order.

Each analysis is one folder of this package (``geometry/``, ``order/``, ...) whose ``__init__``
declares ``ANALYSIS = Analysis(...)`` (:mod:`taskvectors.analyses.spec`). ``REGISTERED`` below is
the one list of them; the rules, the results contract, the scoring, the report, the profile's
resources, the start-up checks and the tests all read it. An analysis outside this package (a
user's, or a test's) is added by naming its module in ``TASKVECTORS_ANALYSES`` (comma-separated),
without editing the package: README "Adding an analysis".
"""

from __future__ import annotations

import importlib
import os
from functools import cache

from taskvectors.analyses.spec import Analysis

#: The suite's analyses, in report order (each is ``taskvectors.analyses.<name>``).
REGISTERED = (
    "geometry",
    "top_tokens",
    "conflicts",
    "order",
    "prompt_format",
    "gd",
    "function_vectors",
    "recognition_learning",
)
#: Environment variable naming extra analysis modules (each defines ``ANALYSIS``).
PLUGINS_VARIABLE = "TASKVECTORS_ANALYSES"


def _declaration(module_name: str) -> Analysis:
    module = importlib.import_module(module_name)
    declared = getattr(module, "ANALYSIS", None)
    if not isinstance(declared, Analysis):
        raise ValueError(f"{module_name} declares no ANALYSIS = Analysis(...)")
    return declared


def plugin_modules() -> list[str]:
    """The extra analysis modules of ``TASKVECTORS_ANALYSES``."""
    value = os.environ.get(PLUGINS_VARIABLE, "")
    return [name.strip() for name in value.split(",") if name.strip()]


@cache
def _registry(plugins: tuple[str, ...]) -> dict[str, Analysis]:
    modules = [f"taskvectors.analyses.{name}" for name in REGISTERED] + list(plugins)
    analyses: dict[str, Analysis] = {}
    for module in modules:
        analysis = _declaration(module)
        if analysis.name in analyses:
            raise ValueError(f"two analyses are named {analysis.name!r} ({module})")
        analyses[analysis.name] = analysis
    problems = [p for analysis in analyses.values() for p in analysis.read_problems(analyses)]
    if problems:
        raise ValueError("; ".join(problems))
    return analyses


def registry() -> dict[str, Analysis]:
    """Every analysis by name, in report order (the suite's, then the plugins')."""
    return _registry(tuple(plugin_modules()))


def get(name: str) -> Analysis:
    analyses = registry()
    if name not in analyses:
        raise KeyError(f"unknown analysis {name!r}; known: {', '.join(analyses)}")
    return analyses[name]


__all__ = ["PLUGINS_VARIABLE", "REGISTERED", "Analysis", "get", "plugin_modules", "registry"]
