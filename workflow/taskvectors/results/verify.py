"""``taskvectors verify``: check every result file of a run before trusting (or rerunning) it.

Snakemake reruns a job when an output is missing or older than its inputs, not when a file is
truncated or was written under other settings (a crash mid-copy, a full disk, a results folder
shared between configs). This walks the run's files through
:class:`taskvectors.results.layout.Layout`, opens each with the typed readers of
:mod:`taskvectors.results.files` (schema included), and compares the provenance of the model stages'
files with the config. ``--fix`` deletes the bad files, so the next run rebuilds exactly them and
what depends on them.

Once a run has written any of its files, every declared output it lacks
(:mod:`taskvectors.pipeline.run_plan`: the analyses' files and the report too) is reported as
missing; the next run rebuilds it, since every output is one of the run's targets.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taskvectors.pipeline.run_plan import MAIN_KINDS, RunPlan
from taskvectors.results.files import (
    ResultFileError,
    check_result_file,
    read_json_result,
    read_prompt_document,
    table_provenance,
)
from taskvectors.results.layout import Layout
from taskvectors.tasks.registry import TaskSpec

PROMPT_KEYS = ("n_demos", "n_dev", "n_test", "n_dummy", "seed")


@dataclass(frozen=True)
class Finding:
    path: Path
    problem: str  # empty when the file is good
    siblings: tuple[Path, ...] = ()  # what to delete with it (see ``downstream``)
    missing: bool = False  # the file does not exist (the next run builds it; nothing to delete)


def downstream(layout: Layout, kind: str, model: str, task: str) -> tuple[Path, ...]:
    """The files to delete with a bad file of ``kind`` so that the next run rebuilds it: the other
    outputs of its job and the main-stage files after it, up to the report (every output is a
    target of the run, so the bad file alone would do; the others go too, so that none of them is
    trusted after a rebuild of the file they were made with or from)."""
    chain = []
    if kind in ("prompts", "activations", "predictions"):
        chain += [layout.prompts(model, task), layout.activations(model, task),
                  layout.predictions(model, task)]  # fmt: skip
    if kind in ("prompts", "activations", "predictions", "sweep", "eval"):
        chain += [layout.sweep(model, task), layout.eval(model, task)]
    if kind != "model":
        chain += [layout.summary(), layout.summary_models(), layout.summary_provenance()]
        chain += [layout.report_page()]
    return tuple(Path(path) for path in chain)


def expected_files(config: Mapping[str, Any], registry: Mapping[str, TaskSpec]):
    """``(path, kind, expected prompt settings or None, the files to delete with it)`` of every
    declared output of the run (:meth:`taskvectors.pipeline.run_plan.RunPlan.outputs`)."""
    plan = RunPlan(config, registry)
    layout = plan.layout
    settings = {key: config["prompts"][key] for key in PROMPT_KEYS}
    job_of: dict[str, tuple[str, str]] = {layout.model_record(m): (m, "") for m in plan.models}
    for model in plan.models:
        for task in plan.tasks:
            for path_of in (layout.prompts, layout.activations, layout.predictions,
                            layout.sweep, layout.eval):  # fmt: skip
                job_of[path_of(model, task)] = (model, task)
    for path, kind in plan.outputs():
        expected = settings if kind in ("prompts", "activations", "predictions") else None
        if kind in MAIN_KINDS:
            outputs = downstream(layout, kind, *job_of.get(path, ("", "")))
        else:
            outputs = ()
        yield Path(path), kind, expected, outputs


def _model_problem(path: Path, entry: Mapping[str, Any], alias: str) -> str:
    record = read_json_result(path, "prepare_model")
    if record.get("alias") != alias:
        return f"written for model {record.get('alias')!r}, not {alias!r}"
    if entry.get("revision") and record.get("revision") != entry["revision"]:
        return f"revision {record.get('revision')!r}, the config asks {entry['revision']!r}"
    return ""


def check_file(path: Path, kind: str, settings, config: Mapping[str, Any]) -> str:
    """The problem with one existing file, or an empty string."""
    try:
        if kind == "model":
            return _model_problem(path, config["models"][path.stem], path.stem)
        if kind == "prompts":
            found = read_prompt_document(path).settings
        elif kind in ("activations", "predictions"):
            found = table_provenance(path).get("settings", {}).get("prompts", {})
        else:
            return check_result_file(path, None if kind == "summary" else kind) or ""
    except ResultFileError as error:
        return error.reason
    reason = check_result_file(path, kind if kind != "prompts" else None)
    if reason:
        return reason
    wrong = {k: found.get(k) for k in settings if found.get(k) != settings[k]}
    return f"written with prompt settings {wrong}, the config has other values" if wrong else ""


def verify_run(config: Mapping[str, Any], registry: Mapping[str, TaskSpec]) -> Iterator[Finding]:
    """A finding for every declared output of the run: the main stages' files are opened and
    checked, the others only found. Once the run has written any of them, a missing one is a
    finding too (the next run rebuilds it); before that, nothing is."""
    expected = list(expected_files(config, registry))
    started = any(path.exists() for path, *_ in expected)
    for path, kind, settings, outputs in expected:
        if path.exists():
            siblings = tuple(p for p in outputs if p != path)
            problem = check_file(path, kind, settings, config) if kind in MAIN_KINDS else ""
            yield Finding(path, problem, siblings)
        elif started:
            yield Finding(path, "missing; the next run rebuilds it", missing=True)
