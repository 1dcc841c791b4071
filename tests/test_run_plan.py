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
from taskvectors.config import load_config
from taskvectors.pipeline import canonical
from taskvectors.run_plan import RunPlan
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


def test_an_analysis_reads_only_the_run_config_it_declares():
    config = copy.deepcopy(CONFIG)
    config["evaluation"]["max_answer_tokens"] += 1  # read by the GD and function-vector jobs
    before, after = params(plan_of(CONFIG)), params(plan_of(config))
    changed = {name for name in NAMES if before[name] != after[name]}
    assert changed == {"gd", "function_vectors"}


def test_params_do_not_depend_on_key_order():
    """Compared as Snakemake compares them: as written, key order included."""
    as_written = json.dumps(params(plan_of(CONFIG)))
    assert json.dumps(params(plan_of(_reordered(CONFIG)))) == as_written


def test_canonical_sorts_keys_recursively_and_lists_tuples():
    value = {"b": {"y": (1, 2), "x": 1}, "a": [{"d": 1, "c": 2}]}
    assert canonical(value) == {"a": [{"c": 2, "d": 1}], "b": {"x": 1, "y": [1, 2]}}
    assert list(canonical(value)) == ["a", "b"]
    assert list(canonical(value)["b"]) == ["x", "y"]
