"""The command lines that run this repository's workflow: on any config file (the SLURM dry run)
and on config/smoke.yaml (the smoke run in conftest.py and the SLURM test run it, so that their
summaries can be compared)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


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


def smoke_command(workdir: Path, *options: str) -> list[str]:
    """:func:`workflow_command` on the smoke config with the repository's workflow profile, then
    ``options`` (``--cores``, ``--executor``, a global ``--profile``...)."""
    profile = str(REPO / "profiles" / "default")
    smoke = REPO / "config" / "smoke.yaml"
    return workflow_command(workdir, smoke, "--workflow-profile", profile, *options)
