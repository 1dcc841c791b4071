"""The SLURM path for real: a one-node cluster on this machine runs a reduced smoke pipeline.

What is under test is the executor path, not the science (tests/test_smoke_pipeline.py runs the
whole smoke config), so the run is the smallest that still proves it: config/smoke.yaml (embedded
Gemma 3 270M) cut to two tasks, every analysis off, a few prompts (:func:`reduced_smoke_config`).
Two tasks give two model jobs that SLURM must tell apart by their wildcards and run one at a time
on the one GPU. That config runs twice: locally, and through ``--executor slurm`` with the
repository's two profiles (global ``profiles/slurm``, workflow ``profiles/default``). Every job
Snakemake did not run as a local rule must have been a SLURM job that completed, the model jobs on
the GPU partition with a GPU, the cheap jobs must not have gone through ``sbatch``, and every
result file must be byte-identical to the local run's. The cluster and its limits are described in
tests/slurm_cluster.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml
from slurm_cluster import SlurmCluster, slurm_cluster, submit, unavailable_reason

from snakemake_command import REPO, SMOKE_CONFIG, profiled_command
from taskvectors.cli.bench_pipeline import analysis_names

# The smoke config's first two tasks, and this many dev and test prompts each.
N_TASKS = 2
N_PROMPTS = 4
# Job logs and Snakemake's benchmark files hold wall times and progress bars: they differ between
# any two runs. Every other file below results_dir is compared byte for byte.
RUN_RECORDS = ("logs", "benchmarks")
# Hard bounds against hangs: the reduced run took 27 s locally and 83 s through the cluster (the
# plugin's status checks back off by 10 s while a job runs) on 2 shared cores; a slow CPU takes
# several times longer.
LOCAL_TIMEOUT_S = 1200
SLURM_TIMEOUT_S = 1800

pytestmark = [pytest.mark.slow, pytest.mark.slurm]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> SlurmCluster:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with slurm_cluster(tmp_path_factory.mktemp("slurm")) as running:
        yield running


def reduced_smoke_config() -> dict:
    """config/smoke.yaml with its first :data:`N_TASKS` tasks, :data:`N_PROMPTS` dev and test
    prompts each, and every analysis off (GD's fine-tuning above all)."""
    config = yaml.safe_load(SMOKE_CONFIG.read_text())
    config["tasks"] = config["tasks"][:N_TASKS]
    config["prompts"].update(n_dev=N_PROMPTS, n_test=N_PROMPTS)
    config["analyses"] = {name: {"enabled": False} for name in analysis_names()}
    return config


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    """The reduced config, written once: the local and the SLURM run read the same file."""
    path = tmp_path_factory.mktemp("config") / "reduced_smoke.yaml"
    path.write_text(yaml.safe_dump(reduced_smoke_config(), sort_keys=False))
    return path


def snakemake(workdir: Path, config_file: Path, *options: str, timeout_s: float) -> str:
    """Run the workflow on ``config_file`` in ``workdir``; returns Snakemake's output.

    A run that outlives ``timeout_s`` is killed with its whole process group (and fails)."""
    command = profiled_command(workdir, config_file, *options)
    log = workdir / "snakemake.out"
    workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    with log.open("w") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
        try:
            returncode = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            pytest.fail(f"Snakemake ran over {timeout_s} s:\n{log.read_text()[-5000:]}")
    output = log.read_text()
    assert returncode == 0, output[-8000:]
    return output


def _kill_group(process: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=30)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


class ScheduledJob(NamedTuple):
    """One job as Snakemake announced it; ``wildcards`` joined with ``_`` as the plugin does."""

    rule: str
    wildcards: str
    local: bool
    gpu: bool


def scheduled_jobs(output: str) -> list[ScheduledJob]:
    """Every job in Snakemake's output (blocks start with a ``[date]`` line)."""
    jobs = []
    for block in re.split(r"\n(?=\[[^\n]*\]\n)", output):
        header = re.search(r"^(localrule|rule) (\w+):$", block, re.MULTILINE)
        if header is None or header.group(2) == "all":
            continue
        wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.MULTILINE)
        pairs = wildcards.group(1).split(", ") if wildcards else []
        resources = re.search(r"^\s+resources: (.*)$", block, re.MULTILINE)
        jobs.append(
            ScheduledJob(
                rule=header.group(2),
                wildcards="_".join(pair.split("=", 1)[1] for pair in pairs),
                local=header.group(1) == "localrule",
                gpu=bool(resources and re.search(r"\bgpu=[1-9]", resources.group(1))),
            )
        )
    return jobs


def slurm_rule_jobs(cluster: SlurmCluster) -> dict[tuple[str, str], dict[str, str]]:
    """The cluster's Snakemake jobs by ``(rule, wildcards)``, read from their SLURM comment."""
    found = {}
    for job in cluster.jobs():
        match = re.fullmatch(r"rule_(\w+?)(?:_wildcards_(.*))?", job.get("Comment", ""))
        if match:
            found[(match.group(1), match.group(2) or "")] = job
    return found


def test_cluster_runs_a_gpu_batch_job(cluster, tmp_path):
    job_id = submit(
        "#!/bin/sh\nsrun hostname\necho gpus=$SLURM_GPUS\n",
        tmp_path,
        f"--output={tmp_path}/%j.out",
        "--partition=gpu",
        "--gpus=1",
        "--mem=100",
    )
    assert cluster.wait_for_job(job_id) == "COMPLETED", cluster.log("slurmctld")[-3000:]
    output = (tmp_path / f"{job_id}.out").read_text()
    assert cluster.node in output and "gpus=1" in output


def result_files(workdir: Path, config_file: Path) -> dict[str, bytes]:
    """Every file a run in ``workdir`` wrote below its ``results_dir`` but its run records, by
    path relative to that folder."""
    results = workdir / yaml.safe_load(config_file.read_text())["results_dir"]
    return {
        path.relative_to(results).as_posix(): path.read_bytes()
        for path in sorted(results.rglob("*"))
        if path.is_file() and path.relative_to(results).parts[0] not in RUN_RECORDS
    }


@pytest.fixture(scope="module")
def local_run(config_file, tmp_path_factory) -> Path:
    """The working directory of a local run of the reduced config."""
    workdir = tmp_path_factory.mktemp("local_run")
    snakemake(workdir, config_file, "--cores", "2", timeout_s=LOCAL_TIMEOUT_S)
    return workdir


@pytest.fixture(scope="module")
def slurm_run(cluster, config_file, tmp_path_factory) -> tuple[Path, str]:
    workdir = tmp_path_factory.mktemp("slurm_run")
    output = snakemake(
        workdir,
        config_file,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        # No slurmdbd here, so no sacct: squeue answers (MinJobAge keeps finished jobs).
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
        timeout_s=SLURM_TIMEOUT_S,
    )
    return workdir, output


def test_every_cluster_job_ran_as_a_completed_slurm_job(cluster, slurm_run):
    _, output = slurm_run
    jobs = scheduled_jobs(output)
    remote = {(job.rule, job.wildcards) for job in jobs if not job.local}
    local = {(job.rule, job.wildcards) for job in jobs if job.local}
    submitted = slurm_rule_jobs(cluster)
    print("SLURM jobs:", {f"{r}[{w}]": j["JobId"] for (r, w), j in sorted(submitted.items())})
    assert remote, "no job left the submitting machine"
    assert set(submitted) == remote
    assert {job["JobState"] for job in submitted.values()} == {"COMPLETED"}
    assert local and not local & set(submitted), "a local rule went through sbatch"
    ids = re.findall(r"has been submitted with SLURM jobid (\d+)", output)
    assert sorted(ids) == sorted(job["JobId"] for job in submitted.values())


def test_model_jobs_ran_on_the_gpu_partition_with_a_gpu(cluster, config_file, slurm_run):
    _, output = slurm_run
    model_jobs = {(job.rule, job.wildcards) for job in scheduled_jobs(output) if job.gpu}
    tasks = yaml.safe_load(config_file.read_text())["tasks"]
    assert len(tasks) == N_TASKS
    assert {("run_task", f"gemma-3-270m_{task}") for task in tasks} <= model_jobs
    submitted = slurm_rule_jobs(cluster)
    for key in model_jobs:
        assert submitted[key]["Partition"] == "gpu", key
        assert "gpu" in submitted[key]["TresPerJob"], submitted[key]
    assert {job["Partition"] for key, job in submitted.items() if key not in model_jobs} <= {"cpu"}


def test_slurm_results_are_byte_identical_to_the_local_run(config_file, slurm_run, local_run):
    workdir, _ = slurm_run
    slurm = result_files(workdir, config_file)
    local = result_files(local_run, config_file)
    assert "summary.csv" in local and any(name.startswith("eval/") for name in local)
    assert sorted(slurm) == sorted(local)
    assert [name for name in local if slurm[name] != local[name]] == []
