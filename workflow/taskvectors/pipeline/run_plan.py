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
from pathlib import Path
from typing import Any

from taskvectors.analyses import registry as analysis_registry
from taskvectors.analyses.spec import (
    Analysis,
    config_slice,
    load_function,
    part_name,
    read_input_name,
)
from taskvectors.pipeline.rules import (
    DEFAULT_ANALYSIS_TASKS,
    canonical,
    conflict_pairs,
    select_tasks,
    task_data_files,
)
from taskvectors.results.layout import Layout, conflict_item
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
        self.analyses = analysis_registry()

    # --- what each analysis covers -------------------------------------------------------------

    def pairs(self, name: str) -> list[tuple[str, str]]:
        """An analysis's ``(A, B)`` pairs whose two tasks are in the run (``pairs`` setting)."""
        return conflict_pairs(self.config["analyses"][name].get("pairs", []), self.tasks)

    def analysis_tasks(self, name: str) -> list[str]:
        """The tasks an analysis covers: its ``tasks`` setting (default: what its declaration
        says), or the tasks of its pairs."""
        if name not in self._analysis_tasks:
            self._analysis_tasks[name] = self._compute_analysis_tasks(self.analyses[name])
        return self._analysis_tasks[name]

    def _compute_analysis_tasks(self, analysis: Analysis) -> list[str]:
        if analysis.items == "pair":
            return sorted({task for pair in self.pairs(analysis.name) for task in pair})
        selection = self.config["analyses"][analysis.name].get("tasks", "all")
        if isinstance(selection, list):
            known = self.registry if analysis.task_source == "registry" else self.tasks
            unknown = [t for t in selection if t not in known]
            if unknown:
                where = "known tasks" if analysis.task_source == "registry" else "tasks of this run"
                raise ValueError(f"analyses.{analysis.name}.tasks: {unknown} are not {where}")
        if analysis.select_tasks:
            choose = load_function(analysis.select_tasks)
            return choose(selection, self.tasks, self.config, self.registry)
        if selection == "default" and analysis.default_tasks == "one_per_family":
            return [t for t in DEFAULT_ANALYSIS_TASKS if t in self.tasks] or list(self.tasks)
        return list(self.tasks) if selection in ("all", "default") else list(selection)

    def analysis_items(self, name: str) -> list[str]:
        """The file stems of an analysis's raw files: its tasks, or ``A__B`` per pair."""
        if self.analyses[name].items == "pair":
            return [conflict_item(a, b) for a, b in self.pairs(name)]
        return self.analysis_tasks(name)

    def enabled_analyses(self) -> list[str]:
        """Analyses switched on that have something to do (tasks, or pairs), in report order."""
        settings = self.config["analyses"]
        return [n for n in self.analyses if settings[n]["enabled"] and self.analysis_items(n)]

    # --- the files and params of each analysis's jobs -----------------------------------------

    def analysis_outputs(self, name: str, model: str) -> dict[str, list[str]]:
        """The raw files of an analysis model job per part, named by :func:`part_name` (``raw``,
        or the part without its extension: ``fv.safetensors`` is ``fv``)."""
        items = self.analysis_items(name)
        return {
            part_name(part): [self.layout.analysis(name, model, item, part) for item in items]
            for part in self.analyses[name].parts
        }

    def analysis_raw(self, name: str, model: str) -> list[str]:
        """Every raw file an analysis model job writes for ``model``."""
        return [path for paths in self.analysis_outputs(name, model).values() for path in paths]

    def _main_inputs(self, name: str, model: str, kinds: tuple[str, ...]) -> dict[str, list[str]]:
        tasks = self.analysis_tasks(name)
        layout = self.layout
        paths = {
            "prompts": layout.prompts, "activations": layout.activations,
            "sweeps": layout.sweep, "evals": layout.eval,
        }  # fmt: skip
        inputs = {kind: [paths[kind](model, t) for t in tasks] for kind in kinds if kind in paths}
        if "data" in kinds:
            data_dir = Path(self.config["data_dir"])
            files = {f for t in tasks for f in task_data_files(self.registry[t], data_dir)}
            inputs["data"] = sorted(files)
        return inputs

    def read_analyses(self, name: str) -> list[str]:
        """The analyses whose raw files an analysis's model job reads (its ``reads_analyses``)
        that are enabled in this run: a switched-off analysis is not read, not waited for."""
        enabled = self.enabled_analyses()
        return [other for other in self.analyses[name].reads_analyses if other in enabled]

    def read_inputs(self, name: str, model: str) -> dict[str, list[str]]:
        """The raw files of other analyses an analysis model job reads, named
        ``reads__<analysis>__<part>`` (:func:`~taskvectors.analyses.spec.read_input_name`): as
        inputs of its rule they make Snakemake run those analyses' jobs first, and rerun this
        one when their files change."""
        inputs = {}
        for other in self.read_analyses(name):
            outputs = self.analysis_outputs(other, model)
            for part in self.analyses[name].reads_analyses[other]:
                inputs[read_input_name(other, part)] = outputs[part_name(part)]
        return inputs

    def job_inputs(self, name: str, model: str) -> dict[str, list[str]]:
        """The main-stage files an analysis model job reads (named by kind), and the raw files
        of the other analyses it reads (:meth:`read_inputs`)."""
        main = self._main_inputs(name, model, self.analyses[name].job_inputs)
        return {**main, **self.read_inputs(name, model)}

    def score_inputs(self, name: str, model: str) -> dict[str, list[str]]:
        """The raw files (named by part) and main-stage files an analysis's scoring reads."""
        raw = {f"raw_{part}": paths for part, paths in self.analysis_outputs(name, model).items()}
        return {**raw, **self._main_inputs(name, model, self.analyses[name].score_inputs)}

    def _params(self, name: str, config_keys: tuple[str, ...]) -> dict[str, Any]:
        analysis = self.analyses[name]
        params: dict[str, Any] = {
            "analysis": name,
            "tasks": self.analysis_tasks(name),
            "items": self.analysis_items(name),
            "settings": self.config["analyses"][name],
            "config": config_slice(self.config, config_keys),
        }
        if analysis.items == "pair":
            params["pairs"] = [list(pair) for pair in self.pairs(name)]
        return params

    def job_params(self, name: str) -> dict[str, Any]:
        """Exactly what an analysis model job reads besides its files, canonical (sorted keys):
        editing anything else never reruns it."""
        params = self._params(name, self.analyses[name].job_config)
        if "data" in self.analyses[name].job_inputs:
            params["task_specs"] = {t: self.registry[t].to_dict() for t in params["tasks"]}
            params["data_dir"] = str(self.config["data_dir"])
        reads = self.read_analyses(name)
        if reads:  # the items of each file list in read_inputs
            params["reads"] = {other: self.analysis_items(other) for other in reads}
        return canonical(params)

    def score_params(self, name: str) -> dict[str, Any]:
        """Exactly what an analysis's scoring reads besides its files, canonical."""
        return canonical(self._params(name, self.analyses[name].score_config))

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
                files.append((layout.scores(name, model), "scores"))
        files += [(layout.report_page(), "report"), (layout.report_figures(), "report")]
        files += [(layout.report_data(), "report")]
        benchmarks = [*self.benchmarks(), layout.benchmark("report", "all")]
        return files + [(path, "benchmark") for path in benchmarks]


__all__ = ["MAIN_KINDS", "RunPlan"]
