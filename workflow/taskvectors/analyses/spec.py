"""What an analysis declares, and what its two jobs receive.

An analysis is a folder of this package with an ``ANALYSIS = Analysis(...)`` declaration in its
``__init__.py`` and a ``schema.yaml`` (its config slice). The declaration names everything the
workflow, the results contract, the report and the checks need to know, so none of them lists
analyses by hand:

- its **model job** (``job``: ``"module:function"``, called with an :class:`AnalysisJob`, or None
  for a model-free job, and a :class:`JobRequest`), and which main-stage files it reads;
- its **scoring** (``score``: called with a :class:`ScoreRequest`, returns the score table whose
  columns are ``score_columns``), and which main-stage files it reads;
- its **report section** (``section``: called with the report's ``Context``);
- what the suite's own tests need of it, so that they read the registry instead of listing
  analyses: a made-up score table for the report's tests (``synthetic``), the settings that size
  it down for a quick run (``quick_settings``: the smoke config and the tiny workflow run), and
  whether its job scores (``scores_in_job``).
- which raw files of **other analyses** its model job reads (``reads_analyses``): declared files,
  never their code, so the workflow orders the other analysis's job first and reruns this one
  when those files change, and an analysis switched off is simply not read.

Functions are named by string and imported only when called: the Snakefile reads every declaration
at start-up without importing torch, and a rule's code inputs are exactly the modules its job
imports (``taskvectors.pipeline.codedeps``), so editing one analysis reruns that analysis only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

#: Main-stage files an analysis job may read, per task (``data``: the task's data files).
INPUT_KINDS = ("prompts", "activations", "sweeps", "evals", "data")
#: What an analysis's items are: tasks of the run, or the (A, B) pairs of its ``pairs`` setting.
ITEM_KINDS = ("task", "pair")
#: What ``tasks: default`` can mean: every task of the run, or one per family.
DEFAULT_TASKS = ("all", "one_per_family")
#: Prefix of the rule input names of another analysis's raw files (``read_input_name``).
READS_PREFIX = "reads__"
#: Where an analysis's ``tasks`` setting names tasks from: the run's tasks, or any task of the
#: registry (the analysis then builds its own prompts from the task data, ``job_inputs=("data",)``).
TASK_SOURCES = ("run", "registry")


def load_function(reference: str) -> Callable[..., Any]:
    """The function ``"package.module:function"`` names."""
    module, _, name = reference.partition(":")
    if not name:
        raise ValueError(f"{reference!r} is not of the form 'package.module:function'")
    return getattr(importlib.import_module(module), name)


def module_of(reference: str) -> str:
    return reference.partition(":")[0]


def read_input_name(analysis: str, part: str) -> str:
    """The rule input name of another analysis's raw part (``reads__function_vectors__fv``)."""
    return f"{READS_PREFIX}{analysis}__{part_name(part)}"


@dataclass(frozen=True)
class Analysis:
    """One analysis: its name, its jobs, its score table and its report section.

    Attributes:
        name: the config key (``analyses.<name>``), rule name and results folder.
        title: how the report names it.
        folder: the analysis's folder (holds ``schema.yaml``).
        job: its model job, ``"module:function"`` (``function(job, request)``).
        score: its scoring, ``"module:function"`` (``function(request) -> DataFrame``).
        section: its report section, ``"module:function"`` (``function(ctx) -> Section``).
        score_columns: the columns of its score table (``scores/<name>/<model>.parquet``).
        loads_model: whether the job loads the model (else it is cheap and runs locally).
        job_inputs, score_inputs: main-stage files per task (``INPUT_KINDS``) each job reads.
        job_config, score_config: dotted config keys outside ``analyses.<name>`` each job reads
            (its params carry exactly these and its own settings).
        parts: raw files per item and model: ``""`` is ``<item>.parquet``, ``"dist"`` is
            ``<item>.dist.parquet``, and a part with its own extension is written as named
            (``"fv.safetensors"`` is ``<item>.fv.safetensors``); the job's outputs and the score
            job's raw inputs are named by the part without its extension (:func:`part_name`).
        items: ``task`` (its ``tasks`` setting, or every task) or ``pair`` (its ``pairs``).
        default_tasks: what ``tasks: default`` means: ``all`` or ``one_per_family``.
        select_tasks: replaces the task selection: ``"module:function"`` of ``(selection, run
            tasks, config, registry) -> tasks``.
        checks: ``"module:function"`` of ``(config, pair counts) -> problems`` run at start-up.
        warnings: ``"module:function"`` of ``(config) -> warning lines`` shown at start-up.
        runtime_minutes: the model job's time limit on a cluster (times the attempt).
        task_source: ``run`` (its tasks are tasks of the run) or ``registry`` (any task of the
            task registry, e.g. tasks the main run leaves out; the job reads only ``data``).
        scores_in_job: its job scores (GD its dev grid, a dev sweep choosing the test layer), so
            an edit of the scoring code reruns it; every other job imports no scoring module
            (``tests/test_workflow_setup.py`` holds them to it).
        synthetic: ``"module:function"`` of ``(SyntheticModel) -> SyntheticScores``
            (:mod:`taskvectors.analyses.synthetic`): a made-up score table of one model, with
            the report heading and figures it should give (``tests/synthetic_results.py`` builds
            the report's test run from these; None leaves the analysis out of that run).
        quick_settings: settings of its slice that size it down for a quick run (a few prompts);
            a config with ``quick: true`` (``config/smoke.yaml``) takes them under what it
            writes, so a new analysis is in the smoke run, sized down, without editing it.
        reads_analyses: raw parts of other analyses its model job reads, ``{analysis: (part,
            ...)}`` (e.g. ``{"function_vectors": ("fv.safetensors", "cie")}``): every item's file
            of each part, when that analysis is enabled; none when it is not (the job must then
            do without). The registry checks the names and parts.
    """

    name: str
    title: str
    folder: Path
    job: str
    score: str
    section: str
    score_columns: tuple[str, ...]
    loads_model: bool = True
    job_inputs: tuple[str, ...] = ()
    score_inputs: tuple[str, ...] = ()
    job_config: tuple[str, ...] = ()
    score_config: tuple[str, ...] = ()
    parts: tuple[str, ...] = ("",)
    items: str = "task"
    default_tasks: str = "all"
    select_tasks: str | None = None
    checks: str | None = None
    warnings: str | None = None
    runtime_minutes: int = 60
    task_source: str = "run"
    scores_in_job: bool = False
    synthetic: str | None = None
    quick_settings: Mapping[str, Any] = field(default_factory=dict, hash=False)
    reads_analyses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.job_inputs + self.score_inputs) - set(INPUT_KINDS)
        if unknown:
            raise ValueError(f"analysis {self.name}: unknown input kinds {sorted(unknown)}")
        if self.default_tasks not in DEFAULT_TASKS:
            raise ValueError(f"analysis {self.name}: default_tasks must be one of {DEFAULT_TASKS}")
        if self.items not in ITEM_KINDS:
            raise ValueError(f"analysis {self.name}: items must be one of {ITEM_KINDS}")
        if self.task_source not in TASK_SOURCES:
            raise ValueError(f"analysis {self.name}: task_source must be one of {TASK_SOURCES}")
        main_stage = set(self.job_inputs + self.score_inputs) - {"data"}
        if self.task_source == "registry" and main_stage:
            raise ValueError(
                f"analysis {self.name}: a registry-sourced analysis has no main-stage files of "
                f"its tasks to read ({sorted(main_stage)})"
            )
        if self.name in self.reads_analyses:
            raise ValueError(f"analysis {self.name}: reads_analyses names the analysis itself")
        if any(not parts for parts in self.reads_analyses.values()):
            raise ValueError(f"analysis {self.name}: reads_analyses names an analysis, no part")

    @cached_property
    def schema(self) -> dict[str, Any]:
        """Its config slice's JSON schema (``analyses.<name>``), from its ``schema.yaml``."""
        return yaml.safe_load((Path(self.folder) / "schema.yaml").read_text(encoding="utf-8"))

    def modules(self, *roles: str) -> list[str]:
        """The modules of its ``job``, ``score`` or ``section`` functions."""
        return [module_of(getattr(self, role)) for role in roles]

    def read_problems(self, analyses: Mapping[str, Analysis]) -> list[str]:
        """Why its ``reads_analyses`` cannot be served by ``analyses`` (by name): an unknown
        analysis, a part it does not write, or an analysis whose items are not tasks."""
        problems = []
        for name, parts in self.reads_analyses.items():
            other = analyses.get(name)
            if other is None:
                problems.append(f"analysis {self.name} reads unknown analysis {name!r}")
                continue
            if other.items != "task":
                problems.append(f"analysis {self.name} reads {name}, whose items are not tasks")
            unknown = [part for part in parts if part not in other.parts]
            if unknown:
                problems.append(
                    f"analysis {self.name} reads parts {unknown} that {name} does not write "
                    f"({list(other.parts)})"
                )
        return problems


def config_slice(config: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """The nested part of ``config`` that the dotted ``keys`` name, sorted (``prompts.seed`` ->
    ``{"prompts": {"seed": 41}}``)."""
    picked: dict[str, Any] = {}
    for key in sorted(keys):
        *parents, leaf = key.split(".")
        source, target = config, picked
        for part in parents:
            source, target = source[part], target.setdefault(part, {})
        target[leaf] = source[leaf]
    return picked


@dataclass
class JobRequest:
    """What an analysis model job gets from its rule.

    ``inputs[kind][task]`` are the main-stage files (``data``: ``inputs["data"]`` lists files),
    ``outputs[part][item]`` the files to write, ``settings`` its ``analyses.<name>`` slice and
    ``config`` the other keys it declared (nested, e.g. ``config["evaluation"]["batch_size"]``).
    ``reads[analysis][part][item]`` are the raw files of the other analyses it declared
    (``reads_analyses``; ``part`` as :func:`part_name` names it) that are enabled in this run: an
    analysis switched off is absent.
    """

    analysis: str
    tasks: list[str]
    items: list[str]
    inputs: dict[str, dict[str, Path]]
    outputs: dict[str, dict[str, Path]]
    settings: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    task_specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_dir: Path | None = None
    data_files: list[Path] = field(default_factory=list)
    reads: dict[str, dict[str, dict[str, Path]]] = field(default_factory=dict)

    def output(self, item: str, part: str = "") -> Path:
        return self.outputs[part][item]

    @classmethod
    def from_rule(
        cls, inputs: Mapping[str, Any], outputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> JobRequest:
        """The request of a job from its rule's named inputs, outputs and params
        (``RunPlan.job_inputs``, ``analysis_outputs`` and ``job_params`` made them)."""
        common = _common_fields(inputs, params)
        data_dir = params.get("data_dir")
        return cls(
            **common,
            outputs={_part(name): _zip(common["items"], paths) for name, paths in outputs.items()},
            task_specs=dict(params.get("task_specs", {})),
            data_dir=Path(data_dir) if data_dir else None,
            data_files=[Path(p) for p in inputs.get("data", [])],
            reads=_read_inputs(inputs, params.get("reads", {})),
        )


@dataclass
class ScoreRequest:
    """What an analysis's scoring gets: its raw files, the main-stage files it declared, and its
    settings; ``modes`` are the tasks' scoring modes."""

    analysis: str
    model: str
    tasks: list[str]
    items: list[str]
    raw: dict[str, dict[str, Path]]
    inputs: dict[str, dict[str, Path]]
    settings: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    pairs: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def from_rule(
        cls, model: str, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> ScoreRequest:
        """The request of a score job from its rule's named inputs (``raw_<part>`` and main-stage
        kinds, ``RunPlan.score_inputs``) and params (``RunPlan.score_params``)."""
        common = _common_fields(inputs, params)
        raw = {
            _part(name.removeprefix("raw_")): _zip(common["items"], paths)
            for name, paths in inputs.items()
            if name.startswith("raw_")
        }
        return cls(**common, model=model, raw=raw)


def _common_fields(inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """What a model job's and a score job's requests read alike from their rule: the analysis,
    its tasks and items, the main-stage files per task, its settings, its other config keys and
    its pairs (one reading, so the two requests cannot drift apart)."""
    tasks, items = list(params["tasks"]), list(params["items"])
    return {
        "analysis": params["analysis"],
        "tasks": tasks,
        "items": items,
        "inputs": _per_task_inputs(inputs, tasks),
        "settings": dict(params["settings"]),
        "config": dict(params["config"]),
        "pairs": [(a, b) for a, b in params.get("pairs", [])],
    }


def part_name(part: str) -> str:
    """The name of a declared part among a job's outputs and its score job's inputs: ``raw`` for
    the main file, else the part without its extension (``fv.safetensors`` is ``fv``)."""
    return part.partition(".")[0] or "raw"


def _part(name: str) -> str:
    """A rule's output name (:func:`part_name`) as the request's key: ``raw`` is ``""``."""
    return "" if name == "raw" else name


def _zip(keys: Sequence[str], paths: Sequence[Any]) -> dict[str, Path]:
    return {key: Path(path) for key, path in zip(keys, paths, strict=True)}


def _read_inputs(
    inputs: Mapping[str, Any], read_items: Mapping[str, Sequence[str]]
) -> dict[str, dict[str, dict[str, Path]]]:
    """``{analysis: {part: {item: path}}}`` from the ``reads__<analysis>__<part>`` inputs, whose
    items ``read_items[analysis]`` lists (``RunPlan.job_params``)."""
    reads: dict[str, dict[str, dict[str, Path]]] = {}
    for analysis, items in read_items.items():
        prefix = f"{READS_PREFIX}{analysis}__"
        reads[analysis] = {
            name.removeprefix(prefix): _zip(list(items), paths)
            for name, paths in inputs.items()
            if name.startswith(prefix)
        }
    return reads


def _per_task_inputs(inputs: Mapping[str, Any], tasks: Sequence[str]) -> dict[str, dict]:
    kinds = [kind for kind in INPUT_KINDS if kind != "data" and kind in inputs]
    return {kind: _zip(tasks, inputs[kind]) for kind in kinds}
