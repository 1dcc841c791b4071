"""Helpers the Snakemake rules use to turn the config into jobs and to start a job's script.

Kept out of the ``.smk`` files so that they are typed and unit-tested: which tasks run, which
conflict pairs are possible, which data files a task reads (so editing them reruns the task), the
slice of a model's config that its jobs depend on, and the set-up every job script does first
(stderr to the job's log, torch threads).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from taskvectors.tasks.registry import TaskSpec, default_tasks


def select_tasks(selection: str | Sequence[str], registry: Mapping[str, TaskSpec]) -> list[str]:
    """``default`` (the paper's 18), ``all``, or a list of names checked against the registry."""
    if selection == "default":
        return default_tasks(registry)
    if selection == "all":
        return list(registry)
    unknown = [name for name in selection if name not in registry]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; known tasks: {', '.join(registry)}")
    return list(selection)


def conflict_pairs(pairs: Sequence[Sequence[str]], tasks: Sequence[str]) -> list[tuple[str, str]]:
    """The configured (A, B) pairs whose two tasks are both in the run."""
    return [(a, b) for a, b in pairs if a in tasks and b in tasks and a != b]


def task_data_files(spec: TaskSpec, data_dir: Path) -> list[str]:
    """The data files a task reads (for a generated task, only a word generator's word table)."""
    source = spec.source
    name = source.get("file") or source.get("table") or source.get("words")
    if name is None:
        return []
    path = Path(name)
    return [str(path if path.is_absolute() else Path(data_dir) / path)]


#: ``tasks: default`` of an analysis declared ``one_per_family`` (order, gd): the budget of a
#: 2-core run. Those of them in the run are taken; when none is, every task of the run.
DEFAULT_ANALYSIS_TASKS = (
    "algorithmic_next_letter",
    "translation_fr_en",
    "linguistic_present_simple_gerund",
    "knowledge_country_capital",
)


def canonical(value: Any) -> Any:
    """``value`` with every mapping's keys sorted, recursively (tuples as lists): rule params in
    this form compare equal however the config was written (key order, ``--config`` or a file),
    so Snakemake's params trigger reruns a job only when a value it reads changed."""
    if isinstance(value, Mapping):
        return {str(key): canonical(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [canonical(item) for item in value]
    return value


def model_params(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A model's config entry as a plain dict (rule params must be deterministic)."""
    return canonical(entry)


def export_package_path(package_root: str) -> None:
    """Put ``package_root`` first on the ``PYTHONPATH`` that jobs inherit."""
    current = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, current]))


def start_job(snakemake: Any) -> logging.Logger:
    """Route the job's stderr (progress bars, warnings) to its log and size torch's thread pool."""
    if snakemake.log:
        sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - lives for the job
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    threads = max(1, int(snakemake.threads))
    # torch sizes its thread pool from OMP_NUM_THREADS when a model job imports it; model-free jobs
    # never import it (0.8 s of a 2 s scoring job).
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    return logging.getLogger(f"taskvectors.{snakemake.rule}")


def by_task(tasks: Sequence[str], paths: Sequence[str]) -> dict[str, Path]:
    """``{task: path}`` from a rule's per-task input or output list (same order as ``tasks``)."""
    return {task: Path(path) for task, path in zip(tasks, paths, strict=True)}
