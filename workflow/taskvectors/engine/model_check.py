"""Pre-flight for a model: does the suite support it, and how much memory will it need?

Before a GPU job downloads 60 GB of weights, ``taskvectors check-model <hub id or folder>`` reads
the model's ``config.json`` only, builds the model on the meta device (``init_empty_weights``: no
memory, no weights) and checks what the method needs from it:

* a causal LM class for the config (``AutoModelForCausalLM``);
* the decoder blocks, by the architecture table or the documented fallback (the ``ModuleList`` of
  ``num_hidden_layers`` blocks), with as many blocks as the config says;
* the final norm and the unembedding, which the top-token analysis projects vectors through;

then counts the parameters and estimates the memory per dtype (:mod:`taskvectors.engine.resources`).
A hub id needs its config from the hub (or the local Hugging Face cache under
``HF_HUB_OFFLINE=1``); a folder needs its ``config.json``. An argument that reads as a path
(:func:`looks_like_a_path`) and does not exist is refused as a missing folder, not looked up on
the hub.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path

from taskvectors.engine.resources import BYTES_PER_PARAM, estimate_model_memory


@dataclass(frozen=True)
class ModelCheck:
    """What :func:`check_model` found; ``supported`` is true when ``problems`` is empty."""

    source: str
    model_type: str | None = None
    architecture: str | None = None
    n_layers: int | None = None
    d_model: int | None = None
    vocab_size: int | None = None
    blocks_path: str | None = None
    blocks_found_by: str | None = None  # "table" or "fallback"
    final_norm: str | None = None
    unembedding: str | None = None
    n_params: int | None = None
    memory_mb: dict[str, int] = field(default_factory=dict)  # dtype -> estimated job memory
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def supported(self) -> bool:
        return not self.problems


def check_model(
    source: str, *, revision: str | None = None, trust_remote_code: bool = False
) -> ModelCheck:
    """Check the model at ``source`` (a local folder or a hub id) from its config alone."""
    try:
        config = _read_config(source, revision, trust_remote_code)
    except Exception as error:  # noqa: BLE001 - reported, not raised
        return ModelCheck(source, problems=(f"cannot read its config: {error}",))
    text_config = config.get_text_config()
    basics = {
        "model_type": getattr(config, "model_type", None),
        "n_layers": getattr(text_config, "num_hidden_layers", None),
        "d_model": getattr(text_config, "hidden_size", None),
        "vocab_size": getattr(text_config, "vocab_size", None),
    }
    try:
        model = _meta_model(config, trust_remote_code)
    except Exception as error:  # noqa: BLE001
        problem = f"not a causal language model transformers can build: {_first_line(error)}"
        return ModelCheck(source, **basics, problems=(problem,))
    return _inspect(source, model, basics)


def _read_config(source: str, revision: str | None, trust_remote_code: bool):
    from transformers import AutoConfig

    folder = Path(source).expanduser()
    if folder.exists() and not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder} has no config.json")
    if not folder.exists() and looks_like_a_path(source):
        raise FileNotFoundError(
            f"no local folder {source} (it reads as a path, not as a hub id such as org/name)"
        )
    target = folder if folder.exists() else source
    return AutoConfig.from_pretrained(
        target, revision=revision, trust_remote_code=trust_remote_code
    )


def looks_like_a_path(source: str) -> bool:
    """Whether ``source`` names a local folder rather than a hub id (``name`` or ``org/name``):
    it starts with ``/``, ``.`` or ``~``, ends with ``/``, has a backslash or more than one ``/``,
    or its first part is an existing folder here (``models/nope`` beside a ``models`` folder)."""
    if source.startswith(("/", ".", "~")) or source.endswith("/") or "\\" in source:
        return True
    parts = source.split("/")
    return len(parts) > 2 or (len(parts) == 2 and Path(parts[0]).is_dir())


def _meta_model(config, trust_remote_code: bool):
    from taskvectors.engine.resources import meta_model

    return meta_model(config, trust_remote_code)


def _first_line(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def _inspect(source: str, model, basics: dict) -> ModelCheck:
    """Blocks, norm, unembedding, size and memory of a meta-device model."""
    from taskvectors.engine.layers import find_decoder_blocks
    from taskvectors.engine.patching import final_norm

    problems, notes = [], []
    blocks_path = found_by = norm_name = unembedding = None
    try:
        blocks_path, found_by = find_decoder_blocks(model)
        n_blocks = len(model.get_submodule(blocks_path))
        if n_blocks != basics["n_layers"]:
            problems.append(f"{n_blocks} blocks at {blocks_path}, config says {basics['n_layers']}")
        if found_by == "fallback":
            notes.append("blocks found by the fallback (not in the architecture table)")
    except ValueError as error:
        problems.append(f"no decoder blocks: {error}")
    try:
        norm_name = _module_name(model, final_norm(model))
    except ValueError as error:
        problems.append(f"no final norm: {error}")
    head = model.get_output_embeddings()
    if head is None:
        problems.append("no unembedding (get_output_embeddings() is None)")
    else:
        unembedding = _module_name(model, head)
    if "logits_to_keep" not in inspect.signature(type(model).forward).parameters:
        notes.append("forward has no logits_to_keep: logits are computed at every position")
    n_params = sum(parameter.numel() for parameter in model.parameters())
    memory = {dtype: estimate_model_memory(n_params, dtype) for dtype in BYTES_PER_PARAM}
    return ModelCheck(
        source,
        architecture=type(model).__name__,
        blocks_path=blocks_path,
        blocks_found_by=found_by,
        final_norm=norm_name,
        unembedding=unembedding,
        n_params=n_params,
        memory_mb=memory,
        problems=tuple(problems),
        notes=tuple(notes),
        **basics,
    )


def _module_name(model, module) -> str:
    return next((name for name, candidate in model.named_modules() if candidate is module), "?")


def format_check(check: ModelCheck) -> str:
    """A few lines for the terminal: verdict, structure, size and memory, problems and notes."""
    verdict = "supported" if check.supported else "NOT supported"
    lines = [f"{check.source}: {verdict}"]
    if check.model_type is not None:
        lines.append(
            f"  model type {check.model_type} ({check.architecture or '?'}), "
            f"{check.n_layers} layers, d_model {check.d_model}, vocabulary {check.vocab_size}"
        )
    if check.blocks_path is not None:
        lines.append(
            f"  decoder blocks: {check.blocks_path} (found by the {check.blocks_found_by})"
        )
    if check.final_norm or check.unembedding:
        lines.append(f"  final norm: {check.final_norm}; unembedding: {check.unembedding}")
    if check.n_params is not None:
        memory = ", ".join(f"{dtype} {mb / 1024:.1f} GiB" for dtype, mb in check.memory_mb.items())
        lines.append(f"  parameters: {check.n_params / 1e6:,.1f} M; memory per job: {memory}")
    lines += [f"  problem: {problem}" for problem in check.problems]
    lines += [f"  note: {note}" for note in check.notes]
    return "\n".join(lines)
