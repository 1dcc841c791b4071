"""The package source files a pipeline stage depends on, for Snakemake's rerun triggers.

Snakemake reruns a ``script:`` job when the script file changes, but not when a module the script
imports changes. Each rule therefore lists as inputs the source files of the stage module it calls
and, transitively, every ``taskvectors`` module that one imports — found here by reading the
modules' import statements. Editing the scoring module then reruns evaluation and aggregation, and
leaves extraction alone.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import cache
from pathlib import Path

PACKAGE = "taskvectors"
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def module_path(module: str) -> Path:
    """The source file of a ``taskvectors`` module (package ``__init__`` included), or of a module
    outside the package (an analysis plugin's, found on ``sys.path``)."""
    if module.split(".")[0] != PACKAGE:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.origin:
            raise ModuleNotFoundError(f"no module named {module!r} on the Python path")
        return Path(spec.origin)
    relative = Path(*module.split(".")[1:])
    candidate = PACKAGE_DIR / relative
    return candidate / "__init__.py" if candidate.is_dir() else candidate.with_suffix(".py")


def _imported_modules(path: Path, own: str = PACKAGE) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    packages = {PACKAGE, own}
    return {name for name in found if name.split(".")[0] in packages and _exists(name)}


def _exists(module: str) -> bool:
    try:
        return module_path(module).exists()
    except (ModuleNotFoundError, ValueError):
        return False


@cache
def stage_sources(*modules: str) -> tuple[str, ...]:
    """Sorted source files of ``modules`` and every ``taskvectors`` module they import (and, for
    a plugin's module, every module of its own top-level package)."""
    seen: set[str] = set()
    pending = list(modules)
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        own = module.split(".")[0]
        pending += sorted(_imported_modules(module_path(module), own) - seen)
    return tuple(sorted(str(module_path(m)) for m in seen if m != PACKAGE))
