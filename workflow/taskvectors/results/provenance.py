"""Provenance blocks for result files.

Every file the pipeline writes says where it came from: which model (alias, source, revision,
dtype), which settings (seed included), which package versions, which git commit, and whether the
CPU's bfloat16 was native or forced off (``TASKVECTORS_CPU_BF16``). The block
holds no timestamp, so that the same config gives byte-identical files; wall times live in the
Snakemake benchmark files instead.
"""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from taskvectors.engine.precision import capability_record

TRACKED_PACKAGES = ("taskvectors", "torch", "transformers", "numpy", "pandas", "pyarrow")


@cache
def package_versions() -> dict[str, str]:
    """Installed versions of the packages whose behaviour shapes the results."""
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@cache
def git_commit(repo: Path | None = None) -> str:
    """The commit of the working tree, with ``-dirty`` when it has uncommitted changes."""
    cwd = repo or Path(__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def provenance(model: dict[str, Any] | None = None, **settings: Any) -> dict[str, Any]:
    """A provenance block: the model's description, the stage's settings and the environment.

    Args:
        model: the ``models/{model}.json`` record (alias, source, revision, dtype, ...), if any.
        **settings: the stage's own settings (seed, sizes, template, ...), JSON-serialisable.
    """
    block: dict[str, Any] = {}
    if model is not None:
        keys = ("alias", "source", "name_or_path", "revision", "dtype", "model_type", "n_layers")
        block["model"] = {key: model.get(key) for key in keys}
    block["settings"] = settings
    block["packages"] = package_versions()
    block["git_commit"] = git_commit()
    block["python"] = platform.python_version()
    block["cpu"] = capability_record()
    return block
