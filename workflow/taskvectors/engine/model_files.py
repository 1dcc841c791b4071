"""Model folders: what a complete Hugging Face folder holds, and a cheap check that it still does.

A model folder can be damaged after it was prepared: a cache cleaned by hand, a copy interrupted,
a file truncated by a full disk. transformers then fails late and misleadingly: without
``tokenizer.json`` a Gemma tokenizer is silently rebuilt with 5 tokens, and every pair is then
"filtered out". So a prepared folder carries a *manifest*, every file's name and size, and each
load compares the folder with it using ``stat`` only (no hashing, milliseconds even for 60 GB).

* Embedded models keep the manifest in the folder's completion marker
  (:data:`COMPLETE_MARKER`), written when the conversion finishes.
* Local and hub folders are not ours to write into: their manifest goes into the model record
  (``models/{model}.json``), and :func:`check_structure` refuses a folder that lacks weights or
  tokenizer files before the manifest is taken.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

COMPLETE_MARKER = "taskvectors-complete.json"
#: Names of the embedded models (``taskvectors.engine.models.EMBEDDED_MODELS``, which imports torch;
#: start-up checks read this list instead, and a test checks that the two agree).
EMBEDDED_NAMES = ("gemma-3-270m",)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tiktoken.model")
WEIGHTS_INDEX = "model.safetensors.index.json"


class IncompleteFolderError(ValueError):
    """A model folder lacks files, or holds files of another size than when it was prepared."""


def manifest(folder: Path) -> dict[str, int]:
    """Every regular file below ``folder`` (relative POSIX path) with its size in bytes.

    Hidden entries (``.cache``, staging leftovers) and the completion marker are left out.
    """
    files: dict[str, int] = {}
    for root, dirs, names in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(root) / name
            relative = path.relative_to(folder).as_posix()
            if name.startswith(".") or relative == COMPLETE_MARKER:
                continue
            files[relative] = path.stat().st_size
    return files


def manifest_problems(folder: Path, expected: Mapping[str, int]) -> list[str]:
    """How ``folder`` differs from ``expected`` (name -> size): missing files and size changes."""
    problems = []
    for name, size in sorted(expected.items()):
        try:
            actual = (folder / name).stat().st_size
        except FileNotFoundError:
            problems.append(f"{name} is missing")
            continue
        if actual != size:
            problems.append(f"{name} has {actual} bytes, {size} when prepared")
    return problems


def check_manifest(folder: Path, expected: Mapping[str, int]) -> None:
    """Raise :class:`IncompleteFolderError` listing what differs from ``expected``."""
    problems = manifest_problems(folder, expected)
    if problems:
        raise IncompleteFolderError(f"{folder} is incomplete: {'; '.join(problems)}")


def check_structure(folder: Path) -> None:
    """Refuse a folder without a config, safetensors weights (every shard) or tokenizer files."""
    problems = []
    if not (folder / "config.json").is_file():
        problems.append("no config.json")
    problems += _weights_problems(folder)
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        problems.append(f"no tokenizer file (one of {', '.join(TOKENIZER_FILES)})")
    if problems:
        raise IncompleteFolderError(
            f"{folder} is not a complete model folder: {'; '.join(problems)}"
        )


def _weights_problems(folder: Path) -> list[str]:
    index = folder / WEIGHTS_INDEX
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        return [
            f"weight shard {shard} is missing" for shard in shards if not (folder / shard).is_file()
        ]
    if not any(folder.glob("*.safetensors")):
        return ["no *.safetensors weights (weights load from safetensors only)"]
    return []


def safetensors_problems(folder: Path) -> list[str]:
    """Weights files cut short, from their headers alone (no tensor is read): each
    ``*.safetensors`` must hold its header and every tensor's bytes that the header promises."""
    problems = []
    for path in sorted(Path(folder).glob("*.safetensors")):
        try:
            size = path.stat().st_size
            with open(path, "rb") as handle:
                prefix = handle.read(8)
                if len(prefix) < 8:
                    problems.append(f"{path.name} is truncated ({size} bytes, no header)")
                    continue
                length = int.from_bytes(prefix, "little")
                if length > size - 8:
                    problems.append(
                        f"{path.name} is truncated (its header alone needs {length} bytes)"
                    )
                    continue
                header = json.loads(handle.read(length))
            end = max(
                (t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0
            )
        except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
            problems.append(f"{path.name} is not a safetensors file ({error})")
            continue
        if 8 + length + end > size:
            problems.append(
                f"{path.name} is truncated: {size} bytes, its tensors need {8 + length + end}"
            )
    return problems


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The completion marker of a converted folder, or ``None`` when there is none (or garbled)."""
    try:
        return json.loads((folder / COMPLETE_MARKER).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_marker(folder: Path, **fields: Any) -> dict[str, Any]:
    """Write the completion marker (the fields plus the folder's manifest) atomically."""
    marker = {**fields, "files": manifest(folder)}
    staging = folder / f".{COMPLETE_MARKER}.tmp"
    staging.write_text(json.dumps(marker, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(staging, folder / COMPLETE_MARKER)
    return marker


def marker_problems(folder: Path) -> list[str]:
    """Why a converted folder cannot be used as it is (empty when complete)."""
    marker = read_marker(folder)
    if marker is None:
        return ["no completion marker"]
    if "files" not in marker:
        return ["the completion marker has no file list (written by an older taskvectors)"]
    return manifest_problems(folder, marker["files"])


def parameters_in_folder(folder: Path) -> int | None:
    """Parameters stored in the folder's safetensors files (headers only), ``None`` without any."""
    shards = sorted(Path(folder).glob("*.safetensors"))
    if not shards:
        return None
    try:
        return sum(_parameters_in_shard(shard, shard.stat().st_mtime_ns) for shard in shards)
    except (OSError, ValueError, KeyError, TypeError, struct.error):  # not a safetensors header
        return None


@cache
def _parameters_in_shard(path: Path, mtime_ns: int) -> int:
    """Sum of the tensor sizes in one safetensors file, read from its JSON header."""
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        if length > path.stat().st_size - 8:
            raise ValueError(f"{path}: header length {length} exceeds the file")
        header = json.loads(handle.read(length))
    return sum(
        math.prod(tensor["shape"]) for name, tensor in header.items() if name != "__metadata__"
    )


def default_cache_dir() -> Path:
    """Where converted embedded models live: ``$TASKVECTORS_CACHE`` or ``~/.cache/taskvectors``."""
    root = os.environ.get("TASKVECTORS_CACHE") or Path.home() / ".cache" / "taskvectors"
    return Path(root).expanduser() / "models"
