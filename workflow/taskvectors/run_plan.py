"""What a run covers and writes: its tasks, each analysis's tasks, and every declared output.

The Snakefile asks this module for its default target, and ``taskvectors verify`` for the files
a run must hold, so the two agree. Every declared output of every job is a target, not only the
summary and the report: Snakemake does not rebuild a missing intermediate file (a deleted
``prompts/{model}/{task}.json``) while every file after it is present and newer; as a target it
is rebuilt, and everything after it with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from taskvectors.layout import Layout, conflict_item
from taskvectors.pipeline import analysis_task_list, conflict_pairs, select_tasks
from taskvectors.prompt_files import resolve_spacing
from taskvectors.prompts import get_template
from taskvectors.tasks.registry import TaskSpec

#: Kinds of the main stages' files (``taskvectors verify`` reads their contents).
MAIN_KINDS = ("model", "prompts", "activations", "predictions", "sweep", "eval", "summary")


@dataclass
class RunPlan:
    """The jobs of one validated config over its task registry."""

    config: Mapping[str, Any]
    registry: Mapping[str, TaskSpec]
    _analysis_tasks: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.layout = Layout(self.config["results_dir"], self.config["reports_dir"])
        self.models = list(self.config["models"])
        self.tasks = select_tasks(self.config["tasks"], self.registry)
        self.pairs = conflict_pairs(self.config["analyses"]["conflicts"]["pairs"], self.tasks)
        self.conflict_tasks = sorted({task for pair in self.pairs for task in pair})

    def analysis_tasks(self, name: str) -> list[str]:
        """The tasks an analysis covers (order, gd and prompt_format may take a subset)."""
        if name not in self._analysis_tasks:
            self._analysis_tasks[name] = self._compute_analysis_tasks(name)
        return self._analysis_tasks[name]

    def _compute_analysis_tasks(self, name: str) -> list[str]:
        if name == "conflicts":
            return self.conflict_tasks
        selection = self.config["analyses"][name].get("tasks", "all")
        spacing = self.config["prompts"].get("spacing")
        auto = [t for t in self.tasks if resolve_spacing(self.registry[t], spacing) == "auto"]
        template = get_template(self.config["prompts"]["template"])
        if name == "prompt_format" and template.spaced() == template:
            return []  # a template that is its own spaced form has no other spacing to compare
        return analysis_task_list(name, selection, self.tasks, auto)

    def enabled_analyses(self) -> list[str]:
        """Analyses switched on that have something to do (tasks, or pairs for conflicts)."""
        analyses = self.config["analyses"]
        return [n for n, entry in analyses.items() if entry["enabled"] and self.analysis_tasks(n)]

    def analysis_raw(self, name: str, model: str) -> list[str]:
        """The raw files an analysis model job writes for ``model``."""
        if name == "conflicts":
            return [self.layout.analysis(name, model, conflict_item(a, b)) for a, b in self.pairs]
        return [self.layout.analysis(name, model, task) for task in self.analysis_tasks(name)]

    def benchmarks(self) -> list[str]:
        """The benchmark file of every job (Snakemake counts them among a job's outputs)."""
        layout = self.layout
        files = [layout.benchmark("prepare_model", m) for m in self.models]
        files += [
            layout.benchmark(rule, m, t)
            for rule in ("run_task", "evaluate")
            for m in self.models
            for t in self.tasks
        ]
        files.append(layout.benchmark("summarize", "all"))
        for name in self.enabled_analyses():
            files += [layout.benchmark(name, m) for m in self.models]
            files += [layout.benchmark("score_analysis", name, m) for m in self.models]
        return files

    def outputs(self) -> list[tuple[str, str]]:
        """``(path, kind)`` of every declared output of every job of the run (benchmark files
        included, since the report reads them), in job order."""
        layout = self.layout
        files = [(layout.model_record(m), "model") for m in self.models]
        per_task = (
            ("prompts", layout.prompts), ("activations", layout.activations),
            ("predictions", layout.predictions), ("sweep", layout.sweep), ("eval", layout.eval),
        )  # fmt: skip
        files += [
            (path(m, t), kind) for m in self.models for t in self.tasks for kind, path in per_task
        ]
        files += [(layout.summary(), "summary"), (layout.summary_models(), "summary")]
        files += [(layout.summary_provenance(), "summary")]
        for name in self.enabled_analyses():
            for model in self.models:
                files += [(path, "analysis") for path in self.analysis_raw(name, model)]
                if name == "gd":
                    tasks = self.analysis_tasks("gd")
                    files += [(layout.gd_distributions(model, t), "analysis") for t in tasks]
                files.append((layout.scores(name, model), "scores"))
        files += [(layout.report_page(), "report"), (layout.report_figures(), "report")]
        files += [(layout.report_data(), "report")]
        benchmarks = [*self.benchmarks(), layout.benchmark("report", "all")]
        return files + [(path, "benchmark") for path in benchmarks]


__all__ = ["MAIN_KINDS", "RunPlan"]
