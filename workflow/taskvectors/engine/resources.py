"""Memory a model job needs, from the model's parameter count and dtype, without loading weights.

Snakemake asks every job for its ``resources`` while it builds the DAG, on the submit host and
before any model is prepared, so this module must be fast and must never read weights:

* a prepared or local folder: the parameter count is summed from the safetensors *headers* (a few
  kilobytes of JSON per shard), exactly;
* a config only (hub model whose config is in the Hugging Face cache): the model is instantiated
  on the meta device (``accelerate.init_empty_weights``), which allocates nothing;
* nothing local yet (hub model not downloaded): a default, and :func:`model_size` says so.

The estimate is ``runtime + weights × (1 + workspace)``: ``runtime`` covers Python, torch,
transformers and the tokenizer; ``workspace`` the activations, key/value caches and last-position
logits of one batch. Both constants are calibrated on the embedded model on CPU (see
docs/huggingface.md); on GPUs they are estimates, not measurements.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taskvectors.engine.model_files import default_cache_dir, parameters_in_folder

log = logging.getLogger(__name__)

BYTES_PER_PARAM = {"float32": 4, "bfloat16": 2, "float16": 2}
#: Memory a model job needs besides its weights and their workspace: the interpreter and libraries
#: (~0.3 GiB), a large tokenizer (Gemma 3's: ~0.3 GiB), the vocabulary head's bfloat16 screen, and
#: activations of a batch or a GD training pass. Measured on Gemma 3 270M in float32 (1.0 GiB of
#: weights): run_task peaked at 2.49 GB and gd at 2.79 GB, above the 2304 MB that 1024 gave.
RUNTIME_MB = 2048
WORKSPACE_SHARE = 0.25
ROUND_MB = 256
DEFAULT_RESOURCES = {"mem_mb": 32768, "gpu_mem_mb": 40960}
MB = 2**20


@dataclass(frozen=True)
class ModelSize:
    """A model's parameter count (``None`` if unknown here) and how it was found."""

    n_params: int | None
    basis: str


def estimate_model_memory(n_params: int, dtype: str) -> int:
    """Megabytes a job holding ``n_params`` parameters in ``dtype`` needs (rounded up to 256)."""
    if dtype not in BYTES_PER_PARAM:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {sorted(BYTES_PER_PARAM)}")
    weights_mb = n_params * BYTES_PER_PARAM[dtype] / MB
    return _round_up(RUNTIME_MB + weights_mb * (1 + WORKSPACE_SHARE))


def weights_memory(n_params: int, dtype: str) -> int:
    """Megabytes of the weights alone (no runtime, no workspace), rounded up to 256."""
    return _round_up(n_params * BYTES_PER_PARAM[dtype] / MB)


def _round_up(mb: float) -> int:
    return int(math.ceil(mb / ROUND_MB) * ROUND_MB)


def model_resources(record_or_entry: Mapping[str, Any], cache_dir: Path | None = None) -> dict:
    """``{"mem_mb": ..., "gpu_mem_mb": ...}`` for a model record or a config's model entry.

    ``device: cpu`` needs no GPU memory; ``cuda`` needs the estimate on the GPU and room to stage
    the weights in host memory; ``auto`` may run either way, so it asks for both.
    """
    size = model_size(record_or_entry, cache_dir)
    if size.n_params is None:
        log.warning("resources: %s; using %s", size.basis, DEFAULT_RESOURCES)
        return dict(DEFAULT_RESOURCES)
    device = str(record_or_entry.get("requested_device") or record_or_entry.get("device", "auto"))
    cpu_dtype, gpu_dtype = _dtypes(record_or_entry)
    on_cpu = estimate_model_memory(size.n_params, cpu_dtype)
    on_gpu = estimate_model_memory(size.n_params, gpu_dtype)
    staging = RUNTIME_MB + weights_memory(size.n_params, gpu_dtype)
    if device == "cpu":
        return {"mem_mb": on_cpu, "gpu_mem_mb": 0}
    if device.startswith("cuda"):
        return {"mem_mb": staging, "gpu_mem_mb": on_gpu}
    return {"mem_mb": max(on_cpu, staging), "gpu_mem_mb": on_gpu}


def _dtypes(record_or_entry: Mapping[str, Any]) -> tuple[str, str]:
    """The dtype a CPU load and a GPU load would use (``auto``: float32 / bfloat16)."""
    from taskvectors.engine.devices import dtype_name, resolve_dtype

    asked = str(record_or_entry.get("requested_dtype") or record_or_entry.get("dtype", "auto"))
    if asked not in BYTES_PER_PARAM and asked != "auto":
        asked = "auto"  # a record's resolved dtype is always a known name; be lenient otherwise
    cpu = dtype_name(resolve_dtype(asked, "cpu"))
    gpu = dtype_name(resolve_dtype(asked, "cuda"))
    return cpu, gpu


def model_size(record_or_entry: Mapping[str, Any], cache_dir: Path | None = None) -> ModelSize:
    """The parameter count of a record's or entry's model, from what is on this machine."""
    folder = local_folder(record_or_entry, cache_dir)
    if folder is not None:
        counted = parameters_in_folder(folder)
        if counted is not None:
            return ModelSize(counted, f"safetensors headers in {folder}")
        if (folder / "config.json").is_file():
            return _from_config_file(folder, record_or_entry)
    known = _embedded_size(record_or_entry)
    if known is not None:
        return known
    name = record_or_entry.get("name") or record_or_entry.get("path") or "?"
    return ModelSize(None, f"model {name} is not on this machine yet (run prepare_model first)")


def _from_config_file(folder: Path, record_or_entry: Mapping[str, Any]) -> ModelSize:
    from transformers import AutoConfig

    trust = bool(record_or_entry.get("trust_remote_code", False))
    config = AutoConfig.from_pretrained(folder, trust_remote_code=trust)
    return ModelSize(parameters_from_config(config, trust), f"config {folder / 'config.json'}")


def _embedded_size(record_or_entry: Mapping[str, Any]) -> ModelSize | None:
    if record_or_entry.get("source") != "embedded":
        return None
    from taskvectors.engine.models import EMBEDDED_MODELS

    name = str(record_or_entry.get("name") or record_or_entry.get("alias") or "")
    if name not in EMBEDDED_MODELS:
        return None
    return ModelSize(EMBEDDED_MODELS[name].n_params, f"embedded model {name} (known size)")


def local_folder(record_or_entry: Mapping[str, Any], cache_dir: Path | None) -> Path | None:
    """The folder holding the model on this machine, if any, without network access."""
    if record_or_entry.get("local_path"):
        return Path(record_or_entry["local_path"])
    source = record_or_entry.get("source", "hub")
    if source == "local" and record_or_entry.get("path"):
        return Path(str(record_or_entry["path"])).expanduser()
    if source == "embedded":
        name = str(record_or_entry.get("name") or record_or_entry.get("alias") or "")
        folder = (cache_dir or default_cache_dir()) / name
        return folder if name and folder.is_dir() else None
    if source == "hub" and record_or_entry.get("name"):
        return _cached_snapshot(str(record_or_entry["name"]), record_or_entry.get("revision"))
    return None


def _cached_snapshot(repo_id: str, revision: str | None) -> Path | None:
    """The snapshot folder of a hub model in the local Hugging Face cache (honours HF_HUB_CACHE)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    except Exception:  # noqa: BLE001 - an unusable cache entry means "not here"
        return None
    return Path(found).parent if isinstance(found, str) else None


def parameters_from_config(config, trust_remote_code: bool = False) -> int:
    """Parameters of the causal LM ``config`` describes, counted on the meta device (no memory)."""
    return sum(
        parameter.numel() for parameter in meta_model(config, trust_remote_code).parameters()
    )


def meta_model(config, trust_remote_code: bool = False):
    """The causal LM of ``config`` with every weight on the meta device (allocates nothing)."""
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM

    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    model.tie_weights()  # not done on the meta device; a tied unembedding is not a parameter more
    return model
