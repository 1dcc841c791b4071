"""Start-up checks of the config's models that need no weights, no network and no torch.

Run by :func:`taskvectors.pipeline.preflight.preflight` (so by ``taskvectors check`` and ``snakemake
-n``), one line per problem, before ``prepare_model`` would fail on them inside a traceback:

* an embedded model's name is one the package ships;
* a local model has a ``path`` naming a complete Hugging Face folder (config, safetensors weights
  of every shard, tokenizer), and no weights file is cut short (its header says how long it is);
* a hub model has a ``name``; under ``HF_HUB_OFFLINE=1`` its snapshot is in the local cache;
* a folder whose ``config.json`` needs the model's own code (``auto_map``, a model type
  transformers does not know) has ``trust_remote_code: true``;
* the output folders (``results_dir``, ``reports_dir``, and the cache of embedded models) exist
  or can be created (``/proc/x`` cannot).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from taskvectors.engine.model_files import (
    EMBEDDED_NAMES,
    IncompleteFolderError,
    check_structure,
    default_cache_dir,
    safetensors_problems,
)


def model_problems(config: Mapping[str, Any]) -> list[str]:
    """One line per model entry that cannot be prepared, found without loading anything."""
    problems = []
    for alias, entry in config["models"].items():
        where = f"models.{alias}"
        source = entry["source"]
        if source == "embedded":
            name = entry.get("name") or alias
            if name not in EMBEDDED_NAMES:
                problems.append(
                    f"{where}: no embedded model {name!r}; embedded models: "
                    f"{', '.join(EMBEDDED_NAMES)} (set `name`, or use source hub or local)"
                )
        elif source == "local":
            problems += _local_problems(where, entry)
        elif source == "hub":
            problems += _hub_problems(where, entry)
    return problems


def _local_problems(where: str, entry: Mapping[str, Any]) -> list[str]:
    if not entry.get("path"):
        return [f"{where}: a local model needs `path`, the folder holding it"]
    folder = Path(entry["path"]).expanduser()
    if not folder.exists():
        return [f"{where}.path: {entry['path']!r} does not exist"]
    if not folder.is_dir():
        return [f"{where}.path: {entry['path']!r} is not a folder"]
    try:
        check_structure(folder)
    except IncompleteFolderError as error:
        return [f"{where}.path: {error}"]
    problems = [f"{where}.path: {folder}: {problem}" for problem in safetensors_problems(folder)]
    return problems + _remote_code_problems(where, entry, folder)


def _hub_problems(where: str, entry: Mapping[str, Any]) -> list[str]:
    name = entry.get("name")
    if not name:
        return [f"{where}: a hub model needs `name`, its hub id (org/name)"]
    from huggingface_hub import constants

    from taskvectors.engine.resources import _cached_snapshot

    snapshot = _cached_snapshot(str(name), entry.get("revision"))
    if snapshot is None and constants.HF_HUB_OFFLINE:
        return [
            f"{where}: HF_HUB_OFFLINE=1 is set and {name}@{entry.get('revision') or 'main'} is "
            f"not in the Hugging Face cache ({constants.HF_HUB_CACHE}); prepare it where the hub "
            "is reachable, or unset HF_HUB_OFFLINE"
        ]
    return [] if snapshot is None else _remote_code_problems(where, entry, snapshot)


def _remote_code_problems(where: str, entry: Mapping[str, Any], folder: Path) -> list[str]:
    """A folder that only loads with its own code while ``trust_remote_code`` is off."""
    if entry.get("trust_remote_code"):
        return []
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(config, dict) or not config.get("auto_map"):
        return []
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    model_type = config.get("model_type")
    if model_type in CONFIG_MAPPING_NAMES:
        return []  # transformers has the architecture; the folder's code is not needed
    return [
        f"{where}: {folder} needs its own code (config.json has auto_map, and transformers does "
        f"not know model type {model_type!r}); set trust_remote_code: true if you trust it"
    ]


def output_folder_problems(config: Mapping[str, Any]) -> list[str]:
    """Output folders that do not exist and cannot be created, one line each."""
    keys = ["results_dir", "reports_dir"]
    if any(entry["source"] == "embedded" for entry in config["models"].values()):
        keys.append("model_cache_dir")
    problems = []
    for key in keys:
        value = config[key]
        folder = Path(value).expanduser() if value else default_cache_dir()
        reason = _cannot_create(folder)
        if reason:
            problems.append(f"{key}: {str(value or folder)!r} cannot be created ({reason})")
    return problems


def _cannot_create(folder: Path) -> str:
    """Why ``folder`` cannot be made (empty: it exists or can be): tried with a temporary folder
    in its nearest existing parent, removed at once."""
    folder = Path(os.path.abspath(folder))
    if folder.is_dir():
        return ""
    parent = folder
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is a file"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".taskvectors-check-", dir=parent))
    except OSError as error:
        return f"{error.strerror or error} in {parent}"
    return ""


__all__ = ["model_problems", "output_folder_problems"]
