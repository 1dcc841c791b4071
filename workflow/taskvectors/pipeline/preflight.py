"""Start-up checks: refuse, before any job runs, every bad input that needs no model.

``snakemake -n`` runs the Snakefile, so whatever is checked here is refused by a dry run too, in
seconds, instead of two stages into a run. Checked (every problem listed, one line each):

* the config files: strict YAML (duplicated keys, syntax errors with file and line);
* the config: schema, ``--config`` overrides typed, folders usable
  (:mod:`taskvectors.pipeline.config`);
* the prompt template: ``{x}`` then ``{y}``, a non-empty separator;
* every selected task's pairs: the file parses, no input or answer holds the template's markers,
  and there are enough pairs for one example (``1 + n_demos + n_dummy`` distinct pairs, and two
  for disjoint dev and test queries);
* output folders apart from inputs (:func:`overlap_problems`): ``results_dir`` and
  ``reports_dir`` neither are, nor are inside, nor contain ``data_dir``, a task's data file, a
  local model folder or the workflow folder; ``model_cache_dir`` is not one of them or inside one;
* the models, without weights or network (:mod:`taskvectors.pipeline.model_preflight`): embedded
  names, local folders complete and no weights file cut short, hub snapshots cached under
  ``HF_HUB_OFFLINE=1``, remote code allowed where a folder needs it; output folders creatable;
* ``TASKVECTORS_CPU_BF16``: 0, 1 or unset; a setting that forces bfloat16 on a CPU without it
  is not refused but warned about, once, with its measured cost
  (:mod:`taskvectors.engine.precision`);
* the analyses' task lists: an enabled analysis's ``tasks`` are tasks of the run, nested lists
  and conflict pairs name known tasks (:func:`analysis_task_problems`);
* the analyses: conflict pairs have enough pairs for their demonstrations; the order analysis asks
  for no more orders besides the original than the ``n_demos! - 1`` that exist; geometry asks for
  no more vectors per task than the ``n_dev + n_test`` examples whose activations it reads.

Checks that need the tokenizer (how many pairs survive filtering) stay in ``build_prompts``.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from taskvectors.analyses import registry as analysis_registry
from taskvectors.analyses.spec import load_function
from taskvectors.engine.precision import PrecisionError, cpu_bf16_override, slow_precision_warning
from taskvectors.pipeline.config import (
    ConfigError,
    check_config_files,
    normalize_overrides,
    problems_error,
    validate_config,
)
from taskvectors.pipeline.context_preflight import context_problems
from taskvectors.pipeline.model_preflight import model_problems, output_folder_problems
from taskvectors.pipeline.rules import select_tasks, task_data_files
from taskvectors.results.layout import Layout
from taskvectors.tasks.files import TaskDataError, TaskDataWarning
from taskvectors.tasks.prompt_files import check_spacing_config
from taskvectors.tasks.prompts import check_template, template_markers
from taskvectors.tasks.registry import TaskSpec, load_pairs, load_registry


def startup_config(
    config: Mapping[str, Any],
    configfiles: Iterable[str | Path] = (),
    run_preflight: bool = True,
) -> tuple[dict[str, Any], dict[str, TaskSpec]]:
    """The validated config and the task registry, or one :class:`ConfigError` with every problem.

    Args:
        config: the config Snakemake built (config files merged with ``--config``).
        configfiles: the files it read (``workflow.configfiles``), re-read strictly.
        run_preflight: also read every task's pairs (:func:`preflight`); the per-job Snakemake
            processes of cluster executors re-read the Snakefile and can skip it.
    """
    check_config_files(configfiles)
    given = normalize_overrides(config)
    validated = validate_config(given)
    try:
        registry = load_registry(Path(validated["data_dir"]), validated["user_tasks"])
    except TaskDataError as error:
        raise problems_error([str(error)]) from None
    if run_preflight:
        preflight(validated, registry, given)
    return validated, registry


def preflight(
    config: Mapping[str, Any],
    registry: Mapping[str, TaskSpec],
    given: Mapping[str, Any] | None = None,
) -> None:
    """Refuse a validated ``config`` that cannot run; :class:`ConfigError` lists every problem.

    ``given``: the config as written (before defaults), whose task names are checked too.
    """
    problems = template_problems(config["prompts"]["template"])
    try:
        tasks = select_tasks(config["tasks"], registry)
    except ValueError as error:
        raise problems_error([*problems, f"tasks: {error}"]) from None
    try:
        check_spacing_config(config["prompts"].get("spacing"), registry)
    except ValueError as error:
        problems.append(str(error))
    markers = () if problems else template_markers(config["prompts"]["template"])
    pairs: dict[str, list] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TaskDataWarning)
        for name in tasks:
            try:
                pairs[name] = load_pairs(registry[name], Path(config["data_dir"]), markers)
            except (TaskDataError, ValueError) as error:
                problems.append(str(error))
    counts = {name: len(task_pairs) for name, task_pairs in pairs.items()}
    for warning in caught:  # Snakemake hides Python warnings: say them on stderr
        print(f"taskvectors: warning: {warning.message}", file=sys.stderr)
    problems += size_problems(config, counts)
    problems += analysis_problems(config, counts)
    problems += analysis_task_problems(config, tasks, registry, given or {})
    problems += overlap_problems(config, registry, tasks)
    problems += model_problems(config)
    problems += output_folder_problems(config)
    if not problems:
        problems += context_problems(config, pairs)
    problems += precision_problems()
    if not problems:
        for line in precision_warnings(config):
            print(f"taskvectors: warning: {line}", file=sys.stderr)
    if problems:
        raise problems_error(problems, "the run cannot start")


#: The package, its rules' scripts and the report templates: never below an output folder.
WORKFLOW_DIR = Path(__file__).resolve().parents[2]


def run_inputs(
    config: Mapping[str, Any], registry: Mapping[str, TaskSpec], tasks: Sequence[str]
) -> list[tuple[str, Path]]:
    """``(what, path)`` of everything the run reads: ``data_dir``, every task's data file (user
    task files included), local model folders and the workflow folder (code, report templates)."""
    inputs = [("data_dir", Path(config["data_dir"]))]
    for task in tasks:
        spec = registry[task]
        what = f"user_tasks.{task}.file" if task in config["user_tasks"] else f"the file of {task}"
        inputs += [(what, Path(path)) for path in task_data_files(spec, Path(config["data_dir"]))]
    for alias, entry in config["models"].items():
        if entry["source"] == "local" and entry.get("path"):
            inputs.append((f"models.{alias}.path", Path(entry["path"])))
    inputs.append(("the workflow folder", WORKFLOW_DIR))
    return inputs


def overlap_problems(
    config: Mapping[str, Any], registry: Mapping[str, TaskSpec], tasks: Sequence[str]
) -> list[str]:
    """Output folders that are, are inside or contain something the run reads, one line each.

    Snakemake deletes a job's outputs before it runs (the report's ``data`` folder below
    ``reports_dir: .`` is ``./data``), and ``summarize`` writes ``summary.csv`` over a user task
    file of that name, so ``results_dir`` and ``reports_dir`` share nothing with an input.
    ``model_cache_dir`` (embedded models only) only adds a folder per model below itself, so it
    is refused when it is an input or inside one.
    """
    outputs = [("results_dir", True), ("reports_dir", True)]
    if config["model_cache_dir"] and any(
        entry["source"] == "embedded" for entry in config["models"].values()
    ):
        outputs.append(("model_cache_dir", False))
    inputs = run_inputs(config, registry, tasks)
    problems = report_folder_problems(config)
    for key, may_not_contain in outputs:
        folder = Path(config[key])
        for what, path in inputs:
            relation = _relation(folder, path, may_not_contain)
            if relation:
                problems.append(
                    f"{key}: {config[key]!r} {relation} {what} ({Path(os.path.abspath(path))}), "
                    "which the run reads; outputs need a folder of their own"
                )
    return problems


def report_folder_problems(config: Mapping[str, Any]) -> list[str]:
    """``results_dir`` at or inside a folder the report job empties before it runs (its
    ``figures`` and ``data`` below ``reports_dir``); sharing one folder is fine otherwise."""
    layout = Layout(config["results_dir"], config["reports_dir"])
    problems = []
    for folder in (layout.report_figures(), layout.report_data()):
        relation = _relation(Path(config["results_dir"]), Path(folder), False)
        if relation:
            problems.append(
                f"results_dir: {config['results_dir']!r} {relation} {folder}, which the report "
                "job deletes and rewrites; give results_dir a folder outside reports_dir's "
                "figures/ and data/"
            )
    return problems


def _relation(folder: Path, path: Path, may_not_contain: bool) -> str:
    """``is``, ``is inside`` or ``contains`` between two paths, as written (a symlink is what
    Snakemake deletes) or resolved (what it points to), else ''."""
    folders = {Path(os.path.abspath(folder)), folder.resolve()}
    paths = {Path(os.path.abspath(path)), path.resolve()}
    pairs = [(f, p) for f in folders for p in paths]
    if any(f == p for f, p in pairs):
        return "is"
    if any(f.is_relative_to(p) for f, p in pairs):
        return "is inside"
    if may_not_contain and any(p.is_relative_to(f) for f, p in pairs):
        return "contains"
    return ""


def precision_problems() -> list[str]:
    """``TASKVECTORS_CPU_BF16`` set to something other than 0 or 1."""
    try:
        cpu_bf16_override()
    except PrecisionError as error:
        return [str(error)]
    return []


def precision_warnings(config: Mapping[str, Any]) -> list[str]:
    """One line per setting that forces bfloat16 (or float16) compute on a CPU without it: a
    model's ``dtype`` on device ``cpu`` (or ``auto``, which is this CPU unless a GPU is found at
    run time), and GD's ``autocast: bfloat16``."""
    lines = []
    for alias, entry in config["models"].items():
        device = str(entry.get("device", "auto"))
        if device in ("cpu", "auto"):
            dtype = str(entry.get("dtype", "auto"))
            line = slow_precision_warning(f"models.{alias}.dtype", dtype, "cpu")
            lines += [line] if line else []
    for name, analysis in analysis_registry().items():
        if config["analyses"][name]["enabled"] and analysis.warnings:
            lines += load_function(analysis.warnings)(config)
    return lines


def template_problems(template_config: Any) -> list[str]:
    """Why ``prompts.template`` cannot build prompts (empty: it can)."""
    try:
        check_template(template_config)
    except ValueError as error:
        return [str(error)]
    return []


def size_problems(config: Mapping[str, Any], counts: Mapping[str, int]) -> list[str]:
    """Tasks with too few pairs for one example, or for disjoint dev and test queries.

    ``counts`` maps each task to its pair count before tokenizer filtering, so a task refused here
    is refused on every model.
    """
    prompts = config["prompts"]
    needed = 1 + prompts["n_demos"] + prompts["n_dummy"]
    problems = []
    for name, n_pairs in counts.items():
        if n_pairs < needed:
            problems.append(
                f"task {name}: {n_pairs} pairs, but each example needs 1 query + "
                f"prompts.n_demos ({prompts['n_demos']}) + prompts.n_dummy "
                f"({prompts['n_dummy']}) = {needed} distinct pairs; lower n_demos/n_dummy or "
                "add pairs"
            )
        elif n_pairs < 2:
            problems.append(
                f"task {name}: 1 pair, but dev and test need one query each, never the same one"
            )
    return problems


def analysis_task_problems(
    config: Mapping[str, Any],
    tasks: Sequence[str],
    registry: Mapping[str, TaskSpec],
    given: Mapping[str, Any],
) -> list[str]:
    """Task names in the analyses' settings that the run cannot use, one line per setting.

    Every enabled analysis's ``tasks`` list must name tasks of the run (the workflow could not
    build its jobs otherwise), or known tasks for an analysis whose ``task_source`` is the
    registry. A ``tasks`` list one level down (``gd.demo_counts``: a subset of
    the analysis's tasks) and the ``pairs`` of a pair analysis (conflicts), as written in
    ``given`` (the defaults name built-in tasks a custom registry may lack), must name known
    tasks: a task of the registry outside the run is skipped, as documented, but a name no task
    has is a typo.
    """
    problems = []
    analyses = analysis_registry()
    for name, settings in config["analyses"].items():
        if not settings.get("enabled", True):
            continue
        selection = settings.get("tasks")
        written = (given.get("analyses") or {}).get(name) or {}
        if analyses[name].task_source == "registry":
            problems += _registry_task_problems(name, settings, written, registry)
        elif isinstance(selection, list):
            unknown = [task for task in selection if task not in tasks]
            if unknown:
                problems.append(
                    f"analyses.{name}.tasks: {unknown} are not tasks of this run (its tasks: "
                    f"{', '.join(tasks)})"
                )
        for part, sub in written.items() if isinstance(written, Mapping) else ():
            if isinstance(sub, Mapping) and settings[part].get("enabled", True):
                unknown = [t for t in _listed(sub.get("tasks")) if t not in registry]
                if unknown:
                    problems.append(f"analyses.{name}.{part}.tasks: {unknown} are not known tasks")
        if analyses[name].items == "pair" and isinstance(written, Mapping):
            named = [task for pair in _listed(written.get("pairs")) for task in pair]
            unknown = list(dict.fromkeys(t for t in named if t not in registry))
            if unknown:
                problems.append(f"analyses.{name}.pairs: {unknown} are not known tasks")
    return problems


def _registry_task_problems(
    name: str, settings: Mapping[str, Any], written: Any, registry: Mapping[str, TaskSpec]
) -> list[str]:
    """Unknown names in a registry-sourced analysis's ``tasks`` and in the other task lists
    (settings named ``*_tasks``) written in the config."""
    lists = {"tasks": _listed(settings.get("tasks"))}
    if isinstance(written, Mapping):
        lists |= {k: _listed(v) for k, v in written.items() if k.endswith("_tasks")}
    problems = []
    for key, listed in lists.items():
        unknown = [task for task in listed if task not in registry]
        if unknown:
            problems.append(f"analyses.{name}.{key}: {unknown} are not known tasks")
    return problems


def _listed(selection: Any) -> list[str]:
    return list(selection) if isinstance(selection, list) else []


def analysis_problems(config: Mapping[str, Any], counts: Mapping[str, int]) -> list[str]:
    """Enabled analyses whose settings no task of the run can satisfy (each analysis's own
    ``checks``)."""
    problems = []
    for name, analysis in analysis_registry().items():
        if config["analyses"][name]["enabled"] and analysis.checks:
            problems += load_function(analysis.checks)(config, counts)
    return problems


__all__ = [
    "ConfigError",
    "analysis_problems",
    "analysis_task_problems",
    "overlap_problems",
    "precision_problems",
    "precision_warnings",
    "preflight",
    "size_problems",
    "startup_config",
    "template_problems",
]
