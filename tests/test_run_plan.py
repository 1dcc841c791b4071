"""The run plan's per-analysis params: each analysis's jobs carry exactly the slice they read.

Snakemake reruns a job whose params changed, so these tests are the unit form of the README's
promise that editing one analysis's settings reruns that analysis alone (tests/test_pipeline.py
checks it on a real run), for every registered analysis, and that the way a config is written
(key order) never matters.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from taskvectors.analyses import registry
from taskvectors.pipeline.config import load_config
from taskvectors.pipeline.rules import canonical
from taskvectors.pipeline.run_plan import RunPlan
from taskvectors.tasks.registry import load_registry

REPO = Path(__file__).resolve().parents[1]
CONFIG = load_config(REPO / "config" / "config.yaml")
TASKS = load_registry(REPO / "data")
NAMES = list(registry())


def plan_of(config) -> RunPlan:
    return RunPlan(config, TASKS)


def params(plan: RunPlan) -> dict[str, tuple[dict, dict]]:
    return {name: (plan.job_params(name), plan.score_params(name)) for name in NAMES}


def _reordered(value):
    if isinstance(value, dict):
        return {key: _reordered(value[key]) for key in reversed(list(value))}
    return value


def test_every_analysis_of_the_default_run_is_enabled():
    assert plan_of(CONFIG).enabled_analyses() == NAMES


@pytest.mark.parametrize("edited", NAMES)
def test_editing_one_analysis_changes_its_params_and_no_others(edited):
    before = params(plan_of(CONFIG))
    config = copy.deepcopy(CONFIG)
    config["analyses"][edited]["an_edit"] = 1  # stands for any setting of its own
    after = params(plan_of(config))
    for name in NAMES:
        assert (before[name] != after[name]) == (name == edited), name


@pytest.mark.parametrize("key", ["evaluation.max_answer_tokens", "evaluation.batch_rows"])
def test_an_analysis_reads_only_the_run_config_it_declares(key):
    readers = {
        name for name, a in registry().items() if key in a.job_config + a.score_config
    }  # what the declarations say; the plan must follow them
    assert readers and set(NAMES) - readers  # the edit tells readers from the others
    config = copy.deepcopy(CONFIG)
    section, leaf = key.split(".")
    config[section][leaf] += 1
    before, after = params(plan_of(CONFIG)), params(plan_of(config))
    changed = {name for name in NAMES if before[name] != after[name]}
    assert changed == readers


def test_params_do_not_depend_on_key_order():
    """Compared as Snakemake compares them: as written, key order included."""
    as_written = json.dumps(params(plan_of(CONFIG)))
    assert json.dumps(params(plan_of(_reordered(CONFIG)))) == as_written


def test_canonical_sorts_keys_recursively_and_lists_tuples():
    value = {"b": {"y": (1, 2), "x": 1}, "a": [{"d": 1, "c": 2}]}
    assert canonical(value) == {"a": [{"c": 2, "d": 1}], "b": {"x": 1, "y": [1, 2]}}
    assert list(canonical(value)) == ["a", "b"]
    assert list(canonical(value)["b"]) == ["x", "y"]


# --- analyses whose tasks come from the registry (task_source: registry) ----------------------

RL = "recognition_learning"


def test_a_registry_sourced_analysis_covers_tasks_outside_the_run():
    config = copy.deepcopy(CONFIG)
    config["tasks"] = ["algorithmic_next_letter"]
    config["analyses"][RL]["tasks"] = ["translation_fr_en"]
    config["analyses"][RL]["novel_tasks"] = ["novel_letter_shift"]
    plan = plan_of(config)
    assert plan.tasks == ["algorithmic_next_letter"]
    assert plan.analysis_tasks(RL) == ["translation_fr_en", "novel_letter_shift"]
    job = plan.job_params(RL)
    assert set(job["task_specs"]) == {"translation_fr_en", "novel_letter_shift"}
    # no main-stage file of a task it lacks; besides data, only the function-vector files
    assert {n for n in plan.job_inputs(RL, "m") if not n.startswith("reads__")} == {"data"}


def test_the_default_tasks_of_a_registry_sourced_analysis_need_not_be_in_the_run():
    config = copy.deepcopy(CONFIG)
    config["tasks"] = ["algorithmic_to_upper"]
    tasks = plan_of(config).analysis_tasks(RL)
    assert "algorithmic_next_letter" in tasks and "novel_letter_permutation" in tasks


def test_a_registry_sourced_analysis_refuses_unknown_task_names():
    config = copy.deepcopy(CONFIG)
    config["analyses"][RL]["tasks"] = ["no_such_task"]
    with pytest.raises(ValueError, match="no_such_task"):
        plan_of(config).analysis_tasks(RL)


def test_preflight_checks_a_registry_sourced_analysis_against_the_registry():
    from taskvectors.pipeline.preflight import analysis_task_problems

    config = copy.deepcopy(CONFIG)
    config["analyses"][RL]["tasks"] = ["novel_letter_shift", "no_such_task"]
    config["analyses"][RL]["novel_tasks"] = ["novel_letter_shfit"]
    problems = analysis_task_problems(config, ["algorithmic_next_letter"], TASKS, config)
    assert [p for p in problems if RL in p] == [
        f"analyses.{RL}.tasks: ['no_such_task'] are not known tasks",
        f"analyses.{RL}.novel_tasks: ['novel_letter_shfit'] are not known tasks",
    ]


def test_a_registry_without_the_default_tasks_leaves_them_out():
    mine = {"algorithmic_to_upper": TASKS["algorithmic_to_upper"]}
    config = copy.deepcopy(CONFIG)
    config["tasks"] = ["algorithmic_to_upper"]
    assert RunPlan(config, mine).analysis_tasks(RL) == []


def test_a_registry_sourced_analysis_may_read_no_main_stage_file():
    from taskvectors.analyses.spec import Analysis

    fields = dict(title="t", folder=Path("."), job="m:f", score="m:f", section="m:f",
                  score_columns=("task",), task_source="registry")  # fmt: skip
    Analysis(name="ok", job_inputs=("data",), **fields)
    with pytest.raises(ValueError, match="main-stage"):
        Analysis(name="bad", job_inputs=("sweeps",), **fields)
    with pytest.raises(ValueError, match="task_source"):
        Analysis(name="bad", **{**fields, "task_source": "elsewhere"})


# --- raw files: a declared part names its files, whatever its extension ----------------------


def test_a_part_with_its_own_extension_is_written_as_named_and_named_without_it():
    """A new analysis's raw files need no edit of the layout: ``""`` is ``<item>.parquet``, a
    bare part ``<item>.<part>.parquet``, a part with an extension ``<item>.<part>``; the job's
    outputs and the score job's inputs are named by the part without its extension."""
    from taskvectors.analyses.spec import Analysis, part_name

    toy = Analysis(name="toy", title="t", folder=Path("."), job="m:f", score="m:f",
                   section="m:f", score_columns=("task",),
                   parts=("", "dist", "vec.safetensors", "meta.json"))  # fmt: skip
    plan = plan_of(CONFIG)
    plan.analyses = {**plan.analyses, "toy": toy}
    plan._analysis_tasks["toy"] = ["t"]
    outputs = plan.analysis_outputs("toy", "m")
    assert {name: [Path(p).name for p in paths] for name, paths in outputs.items()} == {
        "raw": ["t.parquet"], "dist": ["t.dist.parquet"], "vec": ["t.vec.safetensors"],
        "meta": ["t.meta.json"],
    }  # fmt: skip
    assert set(plan.score_inputs("toy", "m")) == {f"raw_{name}" for name in outputs}
    assert [part_name(part) for part in toy.parts] == list(outputs)


# --- the requests a job and its score job build from their rules -----------------------------


@pytest.mark.parametrize("name", ["conflicts", "function_vectors"])
def test_a_job_and_its_score_job_read_their_rules_alike(name):
    """Both requests come from the run plan's inputs, outputs and params; what they share
    (items, pairs, settings, main-stage files) must agree, and the score job's raw files are the
    job's outputs, part by part."""
    from taskvectors.analyses.spec import JobRequest, ScoreRequest

    plan = plan_of(CONFIG)
    job = JobRequest.from_rule(
        plan.job_inputs(name, "m"), plan.analysis_outputs(name, "m"), plan.job_params(name)
    )
    score = ScoreRequest.from_rule("m", plan.score_inputs(name, "m"), plan.score_params(name))
    assert job.items == score.items == plan.analysis_items(name) != []
    assert job.tasks == score.tasks == plan.analysis_tasks(name)
    assert job.pairs == score.pairs == plan.pairs(name)
    assert job.settings == score.settings == CONFIG["analyses"][name]
    assert job.outputs == score.raw and "" in job.outputs
    for request, kinds in ((job, "job_inputs"), (score, "score_inputs")):
        declared = [k for k in getattr(registry()[name], kinds) if k != "data"]
        assert sorted(request.inputs) == sorted(declared)
        assert all(list(files) == request.tasks for files in request.inputs.values())


# --- an analysis reading another analysis's raw files (reads_analyses) -------------------------

FV = "function_vectors"


def test_recognition_learning_reads_the_function_vector_files_when_that_analysis_runs():
    """The declared dependency: RL's job reads FV's ``fv`` and ``cie`` files of every FV task
    (as rule inputs, so Snakemake runs FV first and reruns RL when FV rewrites them), and its
    params name those files' tasks."""
    plan = plan_of(CONFIG)
    inputs = plan.job_inputs(RL, "m")
    outputs = plan.analysis_outputs(FV, "m")
    assert inputs["reads__function_vectors__fv"] == outputs["fv"]
    assert inputs["reads__function_vectors__cie"] == outputs["cie"]
    assert not any(name.startswith("reads__") for name in plan.job_inputs(FV, "m"))
    assert plan.job_params(RL)["reads"] == {FV: plan.analysis_tasks(FV)}


def test_switching_function_vectors_off_drops_its_files_from_recognition_learning():
    config = copy.deepcopy(CONFIG)
    config["analyses"][FV]["enabled"] = False
    plan = plan_of(config)
    assert set(plan.job_inputs(RL, "m")) == {"data"}
    assert "reads" not in plan.job_params(RL)
    assert plan.read_analyses(RL) == []


def test_function_vector_tasks_reach_recognition_learning_through_its_params():
    """Editing FV's own settings leaves RL's params alone (RL reruns through FV's rewritten
    files instead, tests/test_pipeline.py); changing FV's tasks changes RL's params, since the
    files RL reads change."""
    config = copy.deepcopy(CONFIG)
    config["analyses"][FV]["tasks"] = ["algorithmic_next_letter"]
    plan = plan_of(config)
    assert plan.job_params(RL)["reads"] == {FV: ["algorithmic_next_letter"]}
    assert plan.job_params(RL) != plan_of(CONFIG).job_params(RL)


def test_a_job_request_gets_the_files_it_reads_by_analysis_part_and_task():
    from taskvectors.analyses.spec import JobRequest

    plan = plan_of(CONFIG)
    outputs = {"raw": [f"out/{t}.parquet" for t in plan.analysis_items(RL)]}
    request = JobRequest.from_rule(plan.job_inputs(RL, "m"), outputs, plan.job_params(RL))
    fv_tasks = plan.analysis_tasks(FV)
    assert set(request.reads) == {FV}
    assert set(request.reads[FV]) == {"fv", "cie"}
    for task, path in request.reads[FV]["fv"].items():
        assert path == Path(plan.layout.analysis(FV, "m", task, "fv.safetensors"))
    assert list(request.reads[FV]["cie"]) == fv_tasks
    assert set(request.inputs) == set()  # no main-stage kind: the reads are apart


def test_the_registry_refuses_reads_of_unknown_analyses_or_parts():
    from taskvectors.analyses.spec import Analysis

    fields = dict(title="t", folder=Path("."), job="m:f", score="m:f", section="m:f",
                  score_columns=("task",))  # fmt: skip
    analyses = {FV: registry()[FV]}
    reader = Analysis(name="reader", reads_analyses={FV: ("fv.safetensors", "nope")}, **fields)
    assert reader.read_problems(analyses) == [
        f"analysis reader reads parts ['nope'] that {FV} does not write "
        f"({list(registry()[FV].parts)})"
    ]
    lost = Analysis(name="lost", reads_analyses={"no_such": ("",)}, **fields)
    assert lost.read_problems(analyses) == ["analysis lost reads unknown analysis 'no_such'"]
    with pytest.raises(ValueError, match="itself"):
        Analysis(name="self", reads_analyses={"self": ("",)}, **fields)
