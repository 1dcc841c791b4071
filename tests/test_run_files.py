"""Every declared output of a run is one of its targets: a deleted result file is rebuilt, with
everything after it, and ``taskvectors verify`` names it as missing (issue 21, item 1).

The "completed run" here is every file the run declares (``RunPlan.outputs``), written as empty
stand-ins with one timestamp, so that ``snakemake -n`` sees a complete run without any job running.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

from taskvectors.cli.main import main
from taskvectors.pipeline.config import load_config, normalize_overrides, validate_config
from taskvectors.pipeline.run_plan import RunPlan
from taskvectors.tasks.registry import load_registry

REPO = Path(__file__).resolve().parents[1]
TASKS = ["algorithmic_next_letter", "algorithmic_to_upper"]


def write_config(tmp_path: Path) -> Path:
    config = {
        "results_dir": str(tmp_path / "results"),
        "reports_dir": str(tmp_path / "reports"),
        "data_dir": str(REPO / "data"),
        "models": {"m": {"source": "embedded", "name": "gemma-3-270m"}},
        "tasks": TASKS,
        "prompts": {"n_dev": 10, "n_test": 10},
        "analyses": {"geometry": {"n_vectors": 5}, "order": {"tasks": "all"}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def plan_of(config_path: Path) -> RunPlan:
    config = load_config(config_path)
    return RunPlan(config, load_registry(Path(config["data_dir"]), config["user_tasks"]))


def stand_in_run(config_path: Path) -> RunPlan:
    """Every declared output of the run, empty, all with one timestamp."""
    plan = plan_of(config_path)
    when = time.time()  # newer than every code file, an input of every job
    for path, _ in plan.outputs():
        file = Path(path)
        if file.name in ("figures", "data"):
            file.mkdir(parents=True, exist_ok=True)
        else:
            file.parent.mkdir(parents=True, exist_ok=True)
            file.touch()
        os.utime(file, (when, when))
    return plan


def scheduled(config_path: Path) -> dict[str, int]:
    """Job counts per rule of ``snakemake -n`` on the config (empty: nothing to be done)."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "--cores",
        "1",
        "-s",
        str(REPO / "Snakefile"),
    ]
    command += ["--directory", str(config_path.parent), "--configfile", str(config_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    counts = {}
    for line in result.stdout.splitlines():
        match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if match and match.group(1) not in ("total", "count", "all"):
            counts[match.group(1)] = int(match.group(2))
    return counts


def test_every_declared_output_is_listed_once():
    config = {
        "results_dir": "r",
        "reports_dir": "p",
        "data_dir": str(REPO / "data"),
        "models": {"m": {"source": "embedded", "name": "gemma-3-270m"}},
        "tasks": TASKS,
    }
    config = validate_config(normalize_overrides(config))
    plan = RunPlan(config, load_registry(REPO / "data"))
    paths = [path for path, _ in plan.outputs()]
    assert len(paths) == len(set(paths))
    assert "r/prompts/m/algorithmic_to_upper.json" in paths
    assert "r/analyses/gd/m/algorithmic_next_letter.dist.parquet" in paths
    assert "r/scores/conflicts/m.parquet" in paths and "p/index.html" in paths
    assert "r/benchmarks/run_task/m/algorithmic_to_upper.tsv" in paths


def test_a_deleted_prompt_file_is_rebuilt_with_everything_after_it(tmp_path):
    config_path = write_config(tmp_path)
    plan = stand_in_run(config_path)
    assert scheduled(config_path) == {}
    Path(plan.layout.prompts("m", "algorithmic_to_upper")).unlink()
    jobs = scheduled(config_path)
    assert jobs["run_task"] == 1 and jobs["evaluate"] == 1
    assert jobs["summarize"] == 1 and jobs["report"] == 1
    assert "prepare_model" not in jobs


def test_a_deleted_analysis_file_reruns_its_analysis_and_score(tmp_path):
    config_path = write_config(tmp_path)
    plan = stand_in_run(config_path)
    Path(plan.layout.analysis("order", "m", "algorithmic_to_upper")).unlink()
    assert scheduled(config_path) == {"order": 1, "score_analysis": 1, "report": 1}


def test_verify_names_the_missing_files_of_a_started_run(tmp_path, capsys):
    config_path = write_config(tmp_path)
    plan = stand_in_run(config_path)
    missing = plan.layout.prompts("m", "algorithmic_to_upper")
    Path(missing).unlink()
    assert main(["verify", "--config", str(config_path)]) == 1
    out = capsys.readouterr().out
    assert f"missing: {missing}: missing; the next run rebuilds it\n" in out


def test_verify_finds_nothing_missing_before_a_run_starts(tmp_path, capsys):
    config_path = write_config(tmp_path)
    assert main(["verify", "--config", str(config_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "0 result files checked, 0 bad, 0 missing" in captured.err
