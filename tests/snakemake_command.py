"""The command lines that run this repository's workflow: on any config file (the SLURM dry run),
with the repository's workflow profile (the SLURM test runs one reduced config locally and
through the cluster, so that their results can be compared), and on config/smoke.yaml (the smoke
run in conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SMOKE_CONFIG = REPO / "config" / "smoke.yaml"


def workflow_command(workdir: Path, config_file: Path, *options: str) -> list[str]:
    """``python -m snakemake`` on this repository's workflow and data in ``workdir`` with
    ``options`` (``-n``, ``--cores``, ``--profile``...) and the config file ``config_file``."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        *options,
        "--configfile",
        str(config_file),
        "--config",
        f"data_dir={REPO / 'data'}",
    ]


def profiled_command(workdir: Path, config_file: Path, *options: str) -> list[str]:
    """:func:`workflow_command` on ``config_file`` with the repository's workflow profile, then
    ``options`` (``--cores``, ``--executor``, a global ``--profile``...)."""
    profile = str(REPO / "profiles" / "default")
    return workflow_command(workdir, config_file, "--workflow-profile", profile, *options)


def smoke_command(workdir: Path, *options: str) -> list[str]:
    """:func:`profiled_command` on the smoke config."""
    return profiled_command(workdir, SMOKE_CONFIG, *options)
