"""The command line that runs this repository's workflow on config/smoke.yaml (the smoke run in
conftest.py and the SLURM test run it, so that their summaries can be compared)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def smoke_command(workdir: Path, *options: str) -> list[str]:
    """``python -m snakemake`` on the smoke config in ``workdir`` with the repository's workflow
    profile and data, then ``options`` (``--cores``, ``--executor``, a global ``--profile``...)."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--workflow-profile",
        str(REPO / "profiles" / "default"),
        "--configfile",
        str(REPO / "config" / "smoke.yaml"),
        "--config",
        f"data_dir={REPO / 'data'}",
        *options,
    ]
