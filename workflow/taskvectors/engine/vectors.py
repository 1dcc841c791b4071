"""The function vector: built from head means, added to queries, and saved as a reusable file.

Why this module: a function vector (Todd et al., ICLR 2024) is a residual-stream vector made of the
chosen heads' mean outputs; adding it at one layer's output, at a zero-shot query's last token,
should make the model do the task. Beside it the paper's task vector θ *replaces* the same hidden
state. Both are worth keeping once found, so either can be saved with what it was made from and
applied to new queries without rerunning anything.

Building it (:func:`function_vector`): each chosen head ``(l, h)`` contributes the output
projection of layer ``l`` applied to its mean output ``ā_lh`` placed in its own slot (zeros
elsewhere), ``W_O[:, slot_h] ā_lh``; the vector is the sum over heads.

* **Projection bias** (GPT-2 ``c_proj``, GPT-NeoX ``dense``): it belongs to no head. The authors'
  code calls the projection module once per head, which adds the bias once per head (k times).
  Here the vector is the sum of head contributions and, by default, carries no bias: the bias is
  added in every forward pass whatever the heads write, so it is already in the stream the vector
  is added to. ``include_bias=True`` adds each involved layer's bias once (the issue's wording), so
  that with all heads of a layer selected the vector equals the projection of their concatenation.
* **Gemma 2/3** (and OLMo 2) normalise the attention output (``post_attention_layernorm``, an RMS
  norm) before it joins the residual stream, so ``Σ W_O ā`` is not what enters the stream. Two
  variants, chosen by ``variant``:

  - ``raw``: the projected sum, as the authors compute it for every model;
  - ``normalised``: each head's contribution *as it enters the residual stream* when the layer's
    attention output is its clean mean ``Ā_l = W_O ā_l + b``. An RMS norm maps ``x`` to
    ``g ⊙ x / rms(x)``; at ``Ā_l`` it is the per-channel linear map ``g / rms(Ā_l)``, which
    splits what the block adds, ``norm(Ā_l)``, into per-head shares that sum to it exactly. This
    is the principled reading: normalising only the chosen heads' sum instead would rescale one
    head to the size of the whole attention output, which the model never adds.

  For blocks without such a norm (GPT-2, GPT-J, GPT-NeoX, LLaMA, Qwen2) the two coincide.

Applying (:func:`add_vector`): rows ``(query, layer)`` of single-token forwards against each
query's prefix cache, through :func:`taskvectors.engine.patching.sweep_layers` with ``add=True``.

Files (:func:`save_vector`, :func:`load_vector`, :func:`apply_vector`): safetensors holding the
vector ``(d_model,)`` float32 and string metadata (format, kind, model, revision, hidden size,
layer, task, heads and settings as JSON). :func:`apply_vector` refuses a vector made on another
model, revision or hidden size, with the reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from taskvectors.engine import patching
from taskvectors.engine.heads import (
    head_shape,
    output_projections,
    projection_matrix,
)
from taskvectors.engine.layers import decoder_blocks
from taskvectors.results.storage import atomic_path
from taskvectors.tasks.prompts import PromptTemplate, get_template

VARIANTS = ("raw", "normalised")
KINDS = ("task", "function")
#: How a vector is applied at its layer: a task vector replaces the hidden state, a function
#: vector is added to it.
ADDS = {"task": False, "function": True}
FORMAT = "taskvectors.vector/1"
TENSOR_KEY = "vector"

# --- building the function vector ---------------------------------------------------------------


def attention_output_norm(block: nn.Module) -> nn.Module | None:
    """The norm a block applies to its attention output before the residual add, or None.

    Gemma 2/3 and OLMo 2 call it ``post_attention_layernorm`` and also have a
    ``post_feedforward_layernorm``. LLaMA, Qwen2 and GPT-NeoX have a ``post_attention_layernorm``
    too, but there it is the MLP's input norm (and they have no ``post_feedforward_layernorm``).
    """
    norm = getattr(block, "post_attention_layernorm", None)
    paired = getattr(block, "post_feedforward_layernorm", None)
    return norm if isinstance(norm, nn.Module) and isinstance(paired, nn.Module) else None


def _rms_map(norm: nn.Module, at: torch.Tensor) -> torch.Tensor:
    """The per-channel factor ``g / rms(at)`` ``(d,)`` that an RMS norm applies at ``at`` ``(d,)``.

    The gain ``g`` is read off the module (``norm(1) · √(1 + ε)``) and the factor checked against
    the module's own output at ``at``; a norm that is not ``g ⊙ x / rms(x)`` is refused.
    """
    eps = getattr(norm, "eps", getattr(norm, "variance_epsilon", None))
    if eps is None:
        raise ValueError(f"{type(norm).__name__}: no eps; the normalised variant needs an RMS norm")
    device = next((p.device for p in norm.parameters()), torch.device("cpu"))
    at = at.to(device, torch.float32)
    with torch.no_grad():
        gain = norm(torch.ones_like(at)[None]).float()[0] * math.sqrt(1.0 + eps)
        expected = norm(at[None]).float()[0]
    factor = gain / torch.sqrt(at.pow(2).mean() + eps)
    scale = float(expected.abs().max()) + 1e-12
    if not torch.allclose(factor * at, expected, rtol=1e-4, atol=1e-5 * scale):
        raise ValueError(
            f"{type(norm).__name__} is not an RMS norm (g ⊙ x / rms(x)); the normalised variant "
            "is defined for RMS norms only"
        )
    return factor.cpu()


def _entry_map(model: nn.Module, means: torch.Tensor, layer: int) -> torch.Tensor | None:
    """Layer ``layer``'s map from attention output to residual stream at the clean mean attention
    output (``(d,)`` factor), or None when the block adds its attention output unchanged."""
    norm = attention_output_norm(decoder_blocks(model)[layer])
    if norm is None:
        return None
    weight, bias = projection_matrix(output_projections(model)[layer])
    mean_output = weight.float() @ means[layer].reshape(-1).to(weight.device, torch.float32)
    if bias is not None:
        mean_output = mean_output + bias.float()
    return _rms_map(norm, mean_output)


def head_contributions(
    model: nn.Module,
    means: torch.Tensor,
    heads: Sequence[tuple[int, int]],
    *,
    variant: str = "raw",
) -> torch.Tensor:
    """What each head adds to the residual stream at its mean output.

    Args:
        means: ``(n_layers, n_heads, head_dim)`` clean mean head outputs.
        heads: ``k`` heads ``(layer, head)``.
        variant: ``raw`` (``W_O`` applied to the head's slot) or ``normalised`` (as it enters
            the residual stream; see the module docstring).
    Returns:
        ``(k, d_model)`` float32 on the CPU.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown function-vector variant {variant!r}; choose one of {VARIANTS}")
    shape = head_shape(model)
    projections = output_projections(model)
    maps: dict[int, torch.Tensor | None] = {}
    rows = []
    for layer, head in heads:
        weight, _ = projection_matrix(projections[layer])
        slot = slice(head * shape.head_dim, (head + 1) * shape.head_dim)
        mean = means[layer, head].to(weight.device, torch.float32)
        contribution = (weight[:, slot].float() @ mean).cpu()
        if variant == "normalised":
            if layer not in maps:
                maps[layer] = _entry_map(model, means, layer)
            contribution = contribution if maps[layer] is None else contribution * maps[layer]
        rows.append(contribution)
    width = projection_matrix(projections[0])[0].shape[0]
    return torch.stack(rows) if rows else torch.zeros(0, width)


def _bias_terms(
    model: nn.Module, means: torch.Tensor, layers: Sequence[int], variant: str
) -> torch.Tensor:
    """The sum over ``layers`` of each layer's projection bias as it enters the stream ``(d,)``."""
    projections = output_projections(model)
    total = torch.zeros(projection_matrix(projections[0])[0].shape[0])
    for layer in layers:
        _, bias = projection_matrix(projections[layer])
        if bias is None:
            continue
        term = bias.detach().float().cpu()
        entry = _entry_map(model, means, layer) if variant == "normalised" else None
        total += term if entry is None else term * entry
    return total


def function_vector(
    model: nn.Module,
    means: torch.Tensor,
    heads: Sequence[tuple[int, int]],
    *,
    variant: str = "raw",
    include_bias: bool = False,
) -> torch.Tensor:
    """The function vector ``(d_model,)`` float32 on the CPU: the sum of the heads' contributions.

    Args:
        means: ``(n_layers, n_heads, head_dim)`` clean mean head outputs.
        heads: the chosen heads ``(layer, head)``.
        variant: ``raw`` or ``normalised`` (see the module docstring).
        include_bias: add the projection bias once per layer that has a chosen head.
    """
    vector = head_contributions(model, means, heads, variant=variant).sum(0)
    if include_bias:
        layers = sorted({layer for layer, _ in heads})
        vector = vector + _bias_terms(model, means, layers, variant)
    return vector


# --- adding a vector to queries -----------------------------------------------------------------


@torch.no_grad()
def add_vector(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    vector: torch.Tensor,
    layers: Sequence[int],
    *,
    include_unpatched: bool = False,
    max_new_tokens: int = 1,
    keep_first_logits: bool = True,
    batch_rows: int = 256,
) -> patching.Decoded:
    """Add ``vector`` to the output of each block in ``layers`` at the last token of each prompt.

    Args:
        prompts: ``n`` zero-shot queries (at least two tokens each).
        vector: ``(d_model,)``; added, in the model's dtype, to the residual stream.
        layers: the layers to try, one row each.
        include_unpatched: also return each prompt's unpatched row (first variant, layer ``-1``).
        keep_first_logits: keep the first step's logits (for :func:`token_probabilities`).
        batch_rows: the most rows (prompts × variants) per forward batch.
    Returns:
        :class:`taskvectors.engine.patching.Decoded` with ``n * n_variants`` rows, prompt-major (row
        ``i * n_variants + j`` is prompt ``i`` with variant ``j``, variants ``[-1] + layers`` or
        ``layers``).
    """
    return _sweep(
        model, tokenizer, prompts, vector, layers, add=True,
        include_unpatched=include_unpatched, max_new_tokens=max_new_tokens,
        keep_first_logits=keep_first_logits, batch_rows=batch_rows,
    )  # fmt: skip


def _sweep(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    vector: torch.Tensor,
    layers: Sequence[int],
    *,
    add: bool,
    include_unpatched: bool,
    max_new_tokens: int,
    keep_first_logits: bool,
    batch_rows: int,
) -> patching.Decoded:
    """:func:`taskvectors.engine.patching.sweep_layers` of one vector at every layer, in prompt
    chunks."""
    n_layers = len(decoder_blocks(model))
    per_chunk = max(1, batch_rows // (len(layers) + int(include_unpatched)))
    parts = []
    for rows in patching.chunks(prompts, per_chunk):
        vectors = vector.float().reshape(1, 1, -1).expand(len(rows), n_layers, -1)
        parts.append(
            patching.sweep_layers(
                model,
                tokenizer,
                [prompts[i] for i in rows],
                vectors,
                list(layers),
                include_unpatched=include_unpatched,
                max_new_tokens=max_new_tokens,
                keep_first_logits=keep_first_logits,
                add=add,
            )
        )
    return patching.concatenate(parts)


def token_probabilities(decoded: patching.Decoded, token_ids: torch.Tensor) -> torch.Tensor:
    """Softmax probability ``(rows,)`` float32 of ``token_ids`` ``(rows,)`` at the first step of
    ``decoded`` (which must keep its first logits)."""
    if decoded.first_logits.numel() == 0:
        raise ValueError("these rows kept no first logits (decode with keep_first_logits=True)")
    log_p = torch.log_softmax(decoded.first_logits.float(), dim=-1)
    return log_p.gather(1, torch.as_tensor(token_ids)[:, None])[:, 0].exp()


# --- vectors as files ---------------------------------------------------------------------------


class VectorFileError(ValueError):
    """A vector file that cannot be read (not safetensors, or not from :func:`save_vector`)."""


class VectorMismatchError(ValueError):
    """A vector made on another model (name, revision or hidden size) than the one given."""


@dataclass(frozen=True)
class VectorArtifact:
    """A task or function vector with what it was made from.

    ``vector`` is ``(d_model,)``; ``layer`` the block whose output it replaces (task vector) or is
    added to (function vector); ``heads`` the function vector's ``(layer, head)`` pairs (empty for
    a task vector); ``settings`` anything JSON-serialisable (template, sizes, variant, seed...).
    """

    vector: torch.Tensor
    kind: str
    layer: int
    model: str
    revision: str | None
    task: str
    heads: tuple[tuple[int, int], ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problem = _artifact_problem(self)
        if problem:
            raise ValueError(f"vector artifact: {problem}")

    @property
    def hidden_size(self) -> int:
        return int(self.vector.numel())

    @property
    def adds(self) -> bool:
        """Whether applying the vector adds it to the hidden state (else replaces it)."""
        return ADDS[self.kind]


def _artifact_problem(artifact: VectorArtifact) -> str | None:
    if artifact.kind not in KINDS:
        return f"kind must be one of {KINDS}, got {artifact.kind!r}"
    if artifact.vector.dim() != 1 or artifact.vector.numel() == 0:
        return f"the vector must be 1-D and non-empty, got shape {tuple(artifact.vector.shape)}"
    if artifact.layer < 0:
        return f"layer must be non-negative, got {artifact.layer}"
    if artifact.kind == "task" and artifact.heads:
        return "a task vector has no heads"
    return None


def _metadata(artifact: VectorArtifact) -> dict[str, str]:
    return {
        "format": FORMAT,
        "kind": artifact.kind,
        "model": artifact.model,
        "revision": json.dumps(artifact.revision),
        "hidden_size": str(artifact.hidden_size),
        "layer": str(artifact.layer),
        "task": artifact.task,
        "heads": json.dumps([list(head) for head in artifact.heads]),
        "settings": json.dumps(dict(artifact.settings), sort_keys=True),
    }


def save_vector(path: str | Path, artifact: VectorArtifact) -> Path:
    """Write ``artifact`` as safetensors (the vector as float32, the rest as metadata),
    atomically; returns the path."""
    path = Path(path)
    tensors = {TENSOR_KEY: artifact.vector.detach().float().cpu().contiguous()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=_metadata(artifact))
    return path


def load_vector(path: str | Path) -> VectorArtifact:
    """Read a vector file written by :func:`save_vector` (:class:`VectorFileError` otherwise)."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            names = list(handle.keys())  # the handle itself supports no ``in``
            vector = handle.get_tensor(TENSOR_KEY) if TENSOR_KEY in names else None
    except (OSError, SafetensorError) as error:
        raise VectorFileError(f"{path}: not a readable safetensors file ({error})") from None
    if meta.get("format") != FORMAT or vector is None:
        raise VectorFileError(f"{path}: not a taskvectors vector file (format {FORMAT})")
    try:
        artifact = VectorArtifact(
            vector=vector,
            kind=meta["kind"],
            layer=int(meta["layer"]),
            model=meta["model"],
            revision=json.loads(meta["revision"]),
            task=meta["task"],
            heads=tuple((int(layer), int(head)) for layer, head in json.loads(meta["heads"])),
            settings=json.loads(meta["settings"]),
        )
    except (KeyError, ValueError, TypeError) as error:
        raise VectorFileError(f"{path}: damaged vector metadata ({error})") from None
    if artifact.hidden_size != int(meta["hidden_size"]):
        raise VectorFileError(f"{path}: the vector's width differs from its recorded hidden size")
    return artifact


def model_identity(record: Any) -> tuple[str, str | None]:
    """The ``(model, revision)`` a vector file records, from a
    :class:`taskvectors.engine.models.ModelRecord`: the embedded name, hub id or local folder, and
    the revision resolved (a hub snapshot's commit). Writers and :func:`apply_vector` both use
    it."""
    return record.name_or_path, record.revision


def mismatch(
    artifact: VectorArtifact, model: nn.Module, model_name: str, revision: str | None
) -> str | None:
    """Why ``artifact`` cannot be applied to ``model`` (named ``model_name`` at ``revision``), or
    None. Name, revision, hidden size and layer count must match."""
    config = model.config.get_text_config()
    if artifact.model != model_name:
        return f"it was made on model {artifact.model!r}, not {model_name!r}"
    if artifact.revision != revision:
        return f"it was made on revision {artifact.revision!r} of {model_name}, not {revision!r}"
    if artifact.hidden_size != config.hidden_size:
        return (
            f"it is {artifact.hidden_size} wide but {model_name} has hidden size "
            f"{config.hidden_size}"
        )
    n_layers = len(decoder_blocks(model))
    if artifact.layer >= n_layers:
        return f"its layer {artifact.layer} does not exist ({model_name} has {n_layers} layers)"
    return None


@torch.no_grad()
def apply_vector(
    model: nn.Module,
    tokenizer,
    vector_file: str | Path | VectorArtifact,
    queries: Sequence[str],
    template: str | Mapping[str, Any] | PromptTemplate | None = None,
    *,
    model_name: str,
    revision: str | None = None,
    max_new_tokens: int = 1,
    batch_rows: int = 256,
) -> patching.Decoded:
    """Answer zero-shot ``queries`` with a saved vector applied at its layer.

    A function vector is added to the block output at the query's last token, a task vector
    replaces it. ``template`` defaults to the one in the vector's settings (else ``paper``).

    Returns:
        :class:`taskvectors.engine.patching.Decoded`, one row per query, answers greedy up to
        ``max_new_tokens`` tokens.
    Raises:
        VectorMismatchError: the vector was made on another model, revision or hidden size.
    """
    artifact = vector_file if isinstance(vector_file, VectorArtifact) else load_vector(vector_file)
    problem = mismatch(artifact, model, model_name, revision)
    if problem:
        source = "" if isinstance(vector_file, VectorArtifact) else f"{vector_file}: "
        raise VectorMismatchError(f"{source}refused: {problem}")
    chosen = get_template(template or artifact.settings.get("template", "paper"))
    prompts = [chosen.zero_shot_prompt(query) for query in queries]
    return _sweep(
        model, tokenizer, prompts, artifact.vector, [artifact.layer], add=artifact.adds,
        include_unpatched=False, max_new_tokens=max_new_tokens, keep_first_logits=False,
        batch_rows=batch_rows,
    )  # fmt: skip
