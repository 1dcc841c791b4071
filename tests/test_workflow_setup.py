"""The workflow's configuration, environments, profiles and code-dependency tracking."""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from snakemake_command import workflow_command
from taskvectors.analyses import get, registry
from taskvectors.pipeline.codedeps import stage_sources
from taskvectors.pipeline.config import ConfigError, load_config, load_schema, validate_config
from taskvectors.pipeline.rules import conflict_pairs, select_tasks, task_data_files
from taskvectors.tasks.registry import load_registry
from tiny_models import paper_with_llama_folders

REPO = Path(__file__).resolve().parents[1]
MINIMAL = {"models": {"m": {"source": "embedded"}}}

WORKFLOW = Path(__file__).resolve().parents[1] / "workflow"


def test_envs_file_pins_exactly_the_pyproject_dependencies():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["slurm"]
    env = yaml.safe_load((REPO / "envs" / "taskvectors.yaml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    assert sorted(pip) == sorted(wanted)
    python = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert "python=3.11" in env["dependencies"] and ">=3.11" in python


@pytest.mark.parametrize("name", ["config.yaml", "smoke.yaml", "paper.yaml"])
def test_shipped_configs_are_valid(name):
    config = load_config(REPO / "config" / name)
    assert config["models"]


def test_defaults_are_the_papers_settings():
    config = validate_config(MINIMAL)
    assert config["prompts"] == {
        "template": "paper",
        "n_demos": 5,
        "n_dev": 50,
        "n_test": 50,
        "n_dummy": 2,
        "seed": 41,
    }
    assert config["evaluation"]["answer"] == "first_token"
    assert config["tasks"] == "default"
    assert config["models"]["m"]["dtype"] == "auto"
    assert all(entry["enabled"] for entry in config["analyses"].values())


def test_every_problem_is_named_with_its_path_and_reason():
    bad = {**MINIMAL, "prompts": {"n_demos": 0}, "models": {"m": {"source": "ftp"}}, "x": 1}
    with pytest.raises(ConfigError) as error:
        validate_config(bad)
    message = str(error.value)
    assert "prompts.n_demos: 0 is less than the minimum of 1" in message
    assert "models.m.source: 'ftp' is not one of" in message
    assert "'x' was unexpected" in message


def test_every_schema_key_is_described():
    def walk(schema, path):
        for name, sub in schema.get("properties", {}).items():
            assert "description" in sub, f"{path}.{name} has no description"
            yield from walk(sub, f"{path}.{name}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            yield from walk(extra, f"{path}.*")
        yield path

    assert len(list(walk(load_schema(), "config"))) > 20


def test_task_selection_and_conflict_pairs():
    registry = load_registry(REPO / "data")
    assert len(select_tasks("default", registry)) == 18
    assert len(select_tasks("all", registry)) == 27 + 4  # the paper's tasks and the novel ones
    with pytest.raises(ValueError, match="unknown task"):
        select_tasks(["no_such_task"], registry)
    pairs = [["algorithmic_next_letter", "algorithmic_to_upper"], ["a", "b"]]
    tasks = ["algorithmic_next_letter", "algorithmic_to_upper"]
    assert conflict_pairs(pairs, tasks) == [("algorithmic_next_letter", "algorithmic_to_upper")]
    assert task_data_files(registry["algorithmic_next_letter"], REPO / "data") == []
    assert task_data_files(registry["translation_fr_en"], REPO / "data") == [
        str(REPO / "data" / "translation" / "words.tsv")
    ]
    # a word generator reads its words from a table: editing it reruns the task
    assert task_data_files(registry["novel_second_letter_upper"], REPO / "data") == [
        str(REPO / "data" / "translation" / "words.tsv")
    ]
    assert task_data_files(registry["novel_letter_shift"], REPO / "data") == []


def _names(paths):
    return {Path(p).relative_to(REPO / "workflow" / "taskvectors").as_posix() for p in paths}


def test_code_inputs_follow_imports_and_keep_scoring_out_of_model_stages():
    evaluate = _names(stage_sources("taskvectors.stages.evaluate"))
    assert {"scoring/answers.py", "stages/evaluate.py", "results/storage.py"} <= evaluate
    assert "engine/patching.py" not in evaluate
    for stage in ("run_task", "prepare_model"):
        assert "scoring/answers.py" not in _names(stage_sources(f"taskvectors.stages.{stage}")), (
            stage
        )
    for name, analysis in registry().items():
        # GD scores its dev grid inside its job; recognition_learning its dev sweep (to patch
        # test at each condition's best layer only, as the main run's ``sweep_test: best``)
        scoring = "scoring/answers.py" in _names(stage_sources(*analysis.modules("job")))
        assert scoring == analysis.scores_in_job, name
    assert {"engine/patching.py", "engine/layers.py", "engine/models.py"} <= _names(
        stage_sources("taskvectors.stages.run_task")
    )
    # geometry copies rows of the activations: no model code, so only new activations rerun it
    geometry = _names(stage_sources(*get("geometry").modules("job")))
    assert (
        not {"engine/patching.py", "engine/inference.py", "engine/models.py", "analyses/jobs.py"}
        & geometry
    )


def test_no_analysis_imports_another_and_no_stage_imports_an_analysis():
    """An analysis's jobs depend on its own folder and the shared package only, so editing one
    analysis reruns that analysis alone."""
    for name, analysis in registry().items():
        sources = _names(stage_sources(*analysis.modules("job", "score", "section")))
        folders = {Path(p).parts[1] for p in sources if p.startswith("analyses/") and "/" in p[9:]}
        assert folders <= {name}, (name, folders)
    for stage in ("run_task", "evaluate", "summarize", "prepare_model"):
        sources = _names(stage_sources(f"taskvectors.stages.{stage}"))
        assert not any(p.startswith("analyses/") for p in sources), stage


def test_slurm_profile_passes_a_dry_run(tmp_path):
    paper = paper_with_llama_folders(tmp_path)
    command = workflow_command(tmp_path, paper, "-n", "--profile", str(REPO / "profiles" / "slurm"))
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "gpu=1" in result.stdout
    assert re.search(r"^prepare_model\s+7$", result.stdout, re.MULTILINE), result.stdout[-2000:]


PROBE = """
import sys
from types import SimpleNamespace
sys.path.insert(0, {workflow!r})
{before}
from taskvectors.pipeline.rules import start_job
start_job(SimpleNamespace(log=[{log!r}], threads={threads}, rule="probe"))
print("torch" in sys.modules)
import torch
print(torch.get_num_threads())
"""


@pytest.mark.parametrize("torch_first", [False, True])
def test_start_job_sizes_torch_threads_without_importing_torch(tmp_path, torch_first):
    """A model-free job's start never imports torch (0.8 s); torch, imported before or after the
    start, runs with the rule's threads."""
    code = PROBE.format(
        workflow=str(Path(__file__).resolve().parents[1] / "workflow"),
        before="import torch" if torch_first else "",
        log=str(tmp_path / "job.log"),
        threads=1,
    )
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(torch_first), "1"]


@pytest.mark.parametrize(
    "script", sorted((WORKFLOW / "scripts").glob("*.py")), ids=lambda path: path.stem
)
def test_every_name_a_rule_script_imports_from_the_package_exists(script):
    """A script runs only inside a job: a name moved between modules would fail a run, not lint."""
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("taskvectors"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name):  # else a submodule (stages.score_analyses)
                    importlib.import_module(f"{node.module}.{alias.name}")
