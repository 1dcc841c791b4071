"""Faults and determinism on the real workflow with tiny models (issue 10):

* a run killed with SIGKILL during its first model job is rerun (after ``--unlock``) to the end,
  and its tables are byte-identical to an uninterrupted run's;
* the two runs use different ``PYTHONHASHSEED`` values, so the same comparison shows that prompts,
  sweeps, eval tables and the summary never depend on Python's string hashing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from taskvectors.cli.bench_pipeline import analysis_names
from tiny_models import save_tiny_model

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
TASKS = ["algorithmic_next_letter", "algorithmic_to_upper"]
COMPARED = ("prompts", "sweeps", "eval", "predictions")


def make_project(root: Path, model_dir: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copy(REPO / "Snakefile", root)
    for folder in ("workflow", "profiles", "data", "config", "envs"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    config = {
        "results_dir": "results",
        "reports_dir": "reports/tiny",
        "models": {"tiny": {"source": "local", "path": str(model_dir)}},
        "tasks": TASKS,
        "prompts": {"n_demos": 3, "n_dev": 4, "n_test": 4},
        "evaluation": {"batch_size": 4, "batch_rows": 64},
        "analyses": {name: {"enabled": False} for name in analysis_names()},
    }  # fmt: skip
    (root / "run.yaml").write_text(yaml.safe_dump(config))
    return root


def command(*extra: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "results/summary.csv", "--cores", "1", *extra,
            "--configfile", "run.yaml"]  # fmt: skip


def env(hash_seed: str) -> dict[str, str]:
    return {**os.environ, "PYTHONHASHSEED": hash_seed}


def run(project: Path, hash_seed: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(*extra), cwd=project, env=env(hash_seed), capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip


def kill_during_first_model_job(project: Path, hash_seed: str) -> None:
    """Start a run and SIGKILL its whole process group once the first run_task job has started."""
    log = project / "results" / "logs" / "run_task" / "tiny"
    process = subprocess.Popen(
        command(), cwd=project, env=env(hash_seed), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 600
    try:
        while not (log.exists() and any(log.iterdir())):
            assert process.poll() is None, "the run ended before its first model job"
            assert time.monotonic() < deadline, "no model job started in 10 minutes"
            time.sleep(0.2)
        time.sleep(1.0)  # inside the job: the model is loading or computing
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def result_bytes(project: Path) -> dict[str, bytes]:
    files = {"summary.csv": project / "results" / "summary.csv"}
    for stage in COMPARED:
        for path in sorted((project / "results" / stage).rglob("*")):
            if path.is_file():
                files[str(path.relative_to(project / "results"))] = path
    return {name: path.read_bytes() for name, path in files.items()}


def test_killed_run_reruns_to_byte_identical_tables_under_another_hash_seed(tmp_path):
    model_dir = save_tiny_model("llama", tmp_path / "model")
    reference = make_project(tmp_path / "reference", model_dir)
    done = run(reference, "0")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    killed = make_project(tmp_path / "killed", model_dir)
    kill_during_first_model_job(killed, "123")
    assert not (killed / "results" / "summary.csv").exists()
    run(killed, "123", "--unlock")
    rerun = run(killed, "123")
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]

    expected, found = result_bytes(reference), result_bytes(killed)
    assert expected.keys() == found.keys()
    different = [name for name in expected if expected[name] != found[name]]
    assert not different, different
