"""A real one-node SLURM cluster on this machine, for the tests that submit through ``sbatch``.

Why: the SLURM profile is the suite's promise for GPU clusters, and a dry run proves nothing about
``sbatch`` options, partitions, accounting or the executor plugin's in-job ``srun``. This module
starts Debian's ``munged``, ``slurmctld`` and ``slurmd`` (slurm 22.05) as background processes with
a configuration generated into a temporary folder, and stops them by their process ids.

Choices, each forced by the machine or by snakemake-executor-plugin-slurm 2.8.0:

- no cgroups (``proctrack/linuxproc``, ``task/none``): containers and CI runners rarely have them;
- ``select/cons_tres`` with ``CR_Core_Memory`` and ``DefMemPerCPU``: without a default, a job
  without ``--mem`` takes the whole node's memory and jobs run one at a time;
- one fake GPU (``Gres=gpu:1``, no device file): the workflow profile's model rules ask for
  ``gpu: 1`` (``sbatch --gpus=1``), as on a real GPU node; SLURM then runs one model job at a time;
- no accounting daemon: ``sacct`` cannot answer, so Snakemake must run with
  ``--slurm-status-command squeue``; ``MinJobAge`` keeps finished jobs visible to ``squeue`` far
  longer than the plugin's status interval (it falls back to ``sacct`` below three intervals);
- the configuration is linked at ``/etc/slurm/slurm.conf``: the plugin clears every ``SLURM_*``
  variable (``SLURM_CONF`` included) before its in-job ``srun``, which then reads the default path.
  The link is removed afterwards; an existing real configuration there is never touched.

Needs root and the Debian packages (``scripts/ci/install_slurm.sh`` installs them);
:func:`unavailable_reason` says why a test must skip otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SLURM_CONF = Path("/etc/slurm/slurm.conf")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "scancel", "srun")
# The partitions of profiles/slurm/partitions.yaml, both on the one node.
PARTITIONS = ("cpu", "gpu")
DEFAULT_MEM_PER_CPU_MB = 1000
# Finished jobs stay visible to squeue this long (the plugin needs >= 3 status intervals).
MIN_JOB_AGE_S = 3600


INSTALLER = Path(__file__).resolve().parents[1] / "scripts" / "ci" / "install_slurm.sh"


def unavailable_reason() -> str | None:
    """Why a real cluster cannot start here (``None`` when it can).

    As root, missing packages are installed first (``scripts/ci/install_slurm.sh``)."""
    if os.geteuid() != 0:
        return "the one-node SLURM cluster needs root (it writes /etc/slurm/slurm.conf)"
    if _missing_programs():
        subprocess.run(["bash", str(INSTALLER)], capture_output=True, timeout=600)
    missing = _missing_programs()
    if missing:
        return f"SLURM could not be installed ({', '.join(missing)} missing): see {INSTALLER.name}"
    if SLURM_CONF.exists() or SLURM_CONF.is_symlink():
        return f"{SLURM_CONF} already exists: refusing to replace a real cluster's configuration"
    return None


def _missing_programs() -> list[str]:
    return [name for name in DAEMONS + CLIENTS if _find(name) is None]


def _find(program: str) -> str | None:
    return shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _node_memory_mb() -> int:
    """90% of the machine's memory: slurmd drains a node that reports less than configured."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 9 // 10 // 1024
    raise RuntimeError("MemTotal missing from /proc/meminfo")


def slurm_conf_text(root: Path, node: str, cpus: int, memory_mb: int) -> str:
    """The generated ``slurm.conf`` of the one-node cluster, every file kept below ``root``."""
    lines = {
        "ClusterName": "taskvectors-test",
        "SlurmctldHost": f"{node}(127.0.0.1)",
        "SlurmctldPort": _free_port(),
        "SlurmdPort": _free_port(),
        "SlurmUser": "root",
        "SlurmdUser": "root",
        "AuthType": "auth/munge",
        "CredType": "cred/munge",
        "AuthInfo": f"socket={root / 'munge' / 'munge.socket'}",
        "StateSaveLocation": root / "state",
        "SlurmdSpoolDir": root / "spool",
        "SlurmctldPidFile": root / "slurmctld.pid",
        "SlurmdPidFile": root / "slurmd.pid",
        "SlurmctldLogFile": root / "slurmctld.log",
        "SlurmdLogFile": root / "slurmd.log",
        "SlurmctldDebug": "info",
        "SlurmdDebug": "info",
        "ProctrackType": "proctrack/linuxproc",
        "TaskPlugin": "task/none",
        "JobAcctGatherType": "jobacct_gather/none",
        "AccountingStorageType": "accounting_storage/none",
        "JobCompType": "jobcomp/none",
        "MpiDefault": "none",
        "SchedulerType": "sched/backfill",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_Core_Memory",
        "DefMemPerCPU": DEFAULT_MEM_PER_CPU_MB,
        "MinJobAge": MIN_JOB_AGE_S,
        "ReturnToService": 2,
        "GresTypes": "gpu",
    }
    text = "\n".join(f"{key}={value}" for key, value in lines.items())
    return (
        f"{text}\n"
        f"NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} Gres=gpu:1"
        " State=UNKNOWN\n"
        + "".join(
            f"PartitionName={name} Nodes={node} Default={'YES' if i == 0 else 'NO'}"
            " MaxTime=INFINITE State=UP\n"
            for i, name in enumerate(PARTITIONS)
        )
    )


@dataclass
class SlurmCluster:
    """A running one-node cluster: its folder, node name and daemons (stop with :meth:`stop`)."""

    root: Path
    node: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def log(self, daemon: str) -> str:
        path = self.root / f"{daemon}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def jobs(self) -> list[dict[str, str]]:
        """Every job slurmctld still knows, running or finished (``scontrol show job`` fields:
        ``JobId``, ``JobState``, ``Partition``, ``Comment``, ``TresPerJob``, ...)."""
        output = subprocess.run(
            ["scontrol", "--oneliner", "show", "job"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
            env=_clean_env(),
        ).stdout
        return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in output.splitlines() if line]

    def wait_for_job(self, job_id: str, timeout_s: float = 120) -> str:
        """Poll until the job leaves the queue; returns its final state (e.g. ``COMPLETED``)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = {job["JobId"]: job["JobState"] for job in self.jobs()}
            if states.get(job_id) not in (None, "PENDING", "RUNNING", "CONFIGURING", "COMPLETING"):
                return states[job_id]
            time.sleep(1)
        raise TimeoutError(f"SLURM job {job_id} still queued after {timeout_s} s")

    def stop(self) -> None:
        """Cancel what is left, then stop the daemons by pid (slurmd first, munged last)."""
        if self.processes.get("slurmctld") and self.processes["slurmctld"].poll() is None:
            subprocess.run(["scancel", "--full", "--user=root"], capture_output=True, timeout=30)
        for name in reversed(DAEMONS):
            process = self.processes.get(name)
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


def _start(name: str, command: list[str], root: Path) -> subprocess.Popen:
    output = (root / f"{name}.out").open("w")
    return subprocess.Popen(
        command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, env=_clean_env()
    )


def _clean_env() -> dict[str, str]:
    """The caller's environment without ``SLURM_*`` (a job's variables would confuse clients)."""
    return {key: value for key, value in os.environ.items() if not key.startswith("SLURM_")}


def _start_munge(root: Path) -> subprocess.Popen:
    """munged on a private socket; it runs as root here, which ``--force`` allows."""
    munge = root / "munge"
    munge.mkdir(mode=0o700)
    key = munge / "munge.key"
    key.write_bytes(os.urandom(128))
    key.chmod(0o400)
    command = [
        _find("munged"),
        "--foreground",
        "--force",
        f"--socket={munge / 'munge.socket'}",
        f"--key-file={key}",
        f"--pid-file={munge / 'munged.pid'}",
        f"--log-file={munge / 'munged.log'}",
        f"--seed-file={munge / 'munged.seed'}",
    ]
    process = _start("munged", command, root)
    _wait_until(lambda: (munge / "munge.socket").exists(), "munged socket", process)
    return process


def _wait_until(ready, what: str, process: subprocess.Popen, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        if process.poll() is not None:
            raise RuntimeError(f"{what}: the daemon exited with {process.returncode}")
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready after {timeout_s} s")


def _node_is_idle(node: str) -> bool:
    result = subprocess.run(
        ["sinfo", "--noheader", "--nodes", node, "--format=%T"],
        capture_output=True,
        text=True,
        timeout=10,
        env=_clean_env(),
    )
    return result.returncode == 0 and result.stdout.strip() in ("idle", "mixed", "allocated")


@contextmanager
def slurm_cluster(root: Path) -> Iterator[SlurmCluster]:
    """Start the one-node cluster in ``root``; stop it and remove the config link on exit."""
    node = socket.gethostname().split(".")[0]
    for folder in ("state", "spool"):
        (root / folder).mkdir(parents=True)
    conf = root / "slurm.conf"
    conf.write_text(slurm_conf_text(root, node, os.cpu_count() or 1, _node_memory_mb()))
    # Read beside slurm.conf: one fake GPU (a plain file stands for its device node).
    (root / "gpu0").touch()
    gres = f"AutoDetect=off\nNodeName={node} Name=gpu File={root / 'gpu0'}\n"
    (root / "gres.conf").write_text(gres)
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SLURM_CONF.symlink_to(conf)
    cluster = SlurmCluster(root=root, node=node)
    try:
        cluster.processes["munged"] = _start_munge(root)
        cluster.processes["slurmctld"] = _start(
            "slurmctld", [_find("slurmctld"), "-D", "-c", "-f", str(conf)], root
        )
        cluster.processes["slurmd"] = _start(
            "slurmd", [_find("slurmd"), "-D", "-N", node, "-f", str(conf)], root
        )
        _wait_until(
            lambda: _node_is_idle(node), "node idle in sinfo", cluster.processes["slurmd"], 60
        )
        yield cluster
    finally:
        cluster.stop()
        SLURM_CONF.unlink(missing_ok=True)


def submit(script: str, cwd: Path, *options: str) -> str:
    """``sbatch --parsable`` a shell script; returns the job id."""
    result = subprocess.run(
        ["sbatch", "--parsable", *options],
        input=script,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=30,
        env=_clean_env(),
    )
    if result.returncode != 0:
        raise RuntimeError(f"sbatch failed: {result.stderr.strip()}")
    return result.stdout.strip().split(";")[0]
