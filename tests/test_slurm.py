"""The SLURM path for real: a one-node cluster on this machine runs the smoke pipeline.

The smoke pipeline (config/smoke.yaml, embedded Gemma 3 270M) runs twice: locally, and through
``--executor slurm`` with the repository's two profiles (global ``profiles/slurm``, workflow
``profiles/default``). Every job Snakemake did not run as a local rule must have been a SLURM job
that completed, the model jobs on the GPU partition with a GPU, the cheap jobs must not have gone
through ``sbatch``, and ``summary.csv`` must be byte-identical to the local run's. The cluster and
its limits are described in tests/slurm_cluster.py.
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

from snakemake_command import smoke_command

REPO = Path(__file__).resolve().parents[1]
SUMMARY = Path("results", "smoke", "summary.csv")
# Hard bounds against hangs: the smoke run takes about 2 minutes alone on 2 cores, far longer
# when the cores are shared.
LOCAL_TIMEOUT_S = 2400
SLURM_TIMEOUT_S = 3600

pytestmark = [pytest.mark.slow, pytest.mark.slurm]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> SlurmCluster:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with slurm_cluster(tmp_path_factory.mktemp("slurm")) as running:
        yield running


def snakemake(workdir: Path, *options: str, timeout_s: float) -> str:
    """Run the smoke pipeline in ``workdir``; returns Snakemake's output.

    A run that outlives ``timeout_s`` is killed with its whole process group (and fails)."""
    command = smoke_command(workdir, *options)
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


@pytest.fixture(scope="module")
def local_summary(request, tmp_path_factory) -> bytes:
    """The local smoke run's summary: a session-wide ``smoke_run`` (a working directory that
    ran config/smoke.yaml) when conftest.py offers one, else a run of our own."""
    try:
        workdir = request.getfixturevalue("smoke_run")
    except pytest.FixtureLookupError:
        workdir = tmp_path_factory.mktemp("local")
        snakemake(workdir, "--cores", "2", timeout_s=LOCAL_TIMEOUT_S)
    return (workdir / SUMMARY).read_bytes()


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory) -> tuple[Path, str]:
    workdir = tmp_path_factory.mktemp("slurm_run")
    output = snakemake(
        workdir,
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


def test_model_jobs_ran_on_the_gpu_partition_with_a_gpu(cluster, slurm_run):
    _, output = slurm_run
    model_jobs = {(job.rule, job.wildcards) for job in scheduled_jobs(output) if job.gpu}
    tasks = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())["tasks"]
    assert {("run_task", f"gemma-3-270m_{task}") for task in tasks} <= model_jobs
    submitted = slurm_rule_jobs(cluster)
    for key in model_jobs:
        assert submitted[key]["Partition"] == "gpu", key
        assert "gpu" in submitted[key]["TresPerJob"], submitted[key]
    assert {job["Partition"] for key, job in submitted.items() if key not in model_jobs} <= {"cpu"}


def test_slurm_summary_is_byte_identical_to_the_local_run(slurm_run, local_summary):
    workdir, _ = slurm_run
    assert (workdir / SUMMARY).read_bytes() == local_summary
