"""Attention heads at the last token: their outputs, and the causal indirect effect of each.

A function vector (Todd et al., ICLR 2024) is built from the few heads whose clean output, written
into a prompt whose demonstrations were corrupted, brings back the right answer. This module reads
the heads and measures that effect, on any Hugging Face decoder:

* a head's output is its slice of the **input** of the attention output projection (the heads'
  outputs concatenated, before ``W_O``), at the last token, reshaped to ``(n_heads, head_dim)``.
  ``head_dim`` is the projection's input width ÷ the number of heads, not ``hidden_size`` ÷ heads:
  Gemma 3 270M writes 4 heads of 256 into a 640-wide stream. The projection is found per decoder
  block (an attention child holding ``o_proj``, ``out_proj``, ``c_proj`` or ``dense``), so a new
  architecture needs no table entry as long as it names things the usual way;
* a head's **clean mean** is over clean ICL prompts the model answers correctly (its greedy first
  token is an accepted answer's), as the authors filter them (:func:`correct_mean_head_activations`;
  every prompt when none is);
* the **causal indirect effect** (CIE) of head ``(l, h)`` on a corrupted prompt is ``P(answer)``
  with that head's last-token output replaced by its clean mean, minus ``P(answer)`` without, ``P``
  being the softmax probability of the correct answer's first token (computed in float32).

A patch at the last token leaves every earlier position unchanged, so :func:`indirect_effects`
runs each prompt's prefix once (:func:`taskvectors.engine.patching.last_token_rows`, the cache the
layer sweep uses) and all ``layers × heads`` patches, plus one unpatched row, as rows of
single-token forwards, at most ``batch_rows`` at a time: a few forwards per prompt instead of
``layers × heads`` full ones. :func:`indirect_effects_naive` is the plain one-forward-per-head loop
it must equal.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from taskvectors.engine import patching
from taskvectors.engine.layers import decoder_blocks, hooks
from taskvectors.seeding import derived_seed
from taskvectors.tasks.prompts import PromptTemplate
from taskvectors.tasks.splits import continuations

#: Names of the attention output projection inside an attention module (LLaMA/Qwen2/Gemma,
#: GPT-J, GPT-2, GPT-NeoX in this order).
PROJECTION_NAMES = ("o_proj", "out_proj", "c_proj", "dense")
NO_HEAD = -1


@dataclass(frozen=True)
class HeadShape:
    """How a model's heads are laid out: ``n_layers × n_heads`` heads of ``head_dim`` each."""

    n_layers: int
    n_heads: int
    head_dim: int


def output_projection(block: nn.Module, layer: int | None = None) -> nn.Module:
    """The attention output projection of one decoder block.

    It is the first of :data:`PROJECTION_NAMES` held by a child whose name contains ``attn`` or
    ``attention`` (``mlp.c_proj`` and ``mlp.dense`` are never taken); ``ValueError`` names the
    block's children when there is none.
    """
    for name, child in block.named_children():
        if "attn" not in name.lower() and "attention" not in name.lower():
            continue
        for projection_name in PROJECTION_NAMES:
            projection = getattr(child, projection_name, None)
            if isinstance(projection, nn.Module):
                return projection
    where = f"block {layer}" if layer is not None else "block"
    children = ", ".join(f"{n} ({type(c).__name__})" for n, c in block.named_children())
    raise ValueError(
        f"{where} ({type(block).__name__}): no attention output projection found; expected a child "
        f"named like *attn*/*attention* holding one of {', '.join(PROJECTION_NAMES)}; the block's "
        f"children are: {children}"
    )


def output_projections(model: nn.Module) -> list[nn.Module]:
    """The attention output projection of every decoder block, in layer order."""
    return [output_projection(block, layer) for layer, block in enumerate(decoder_blocks(model))]


def projection_matrix(projection: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The projection as ``y = W x + b``: ``W`` ``(out, in)`` and ``b`` ``(out,)`` or None.

    ``nn.Linear`` stores ``(out, in)``; GPT-2's ``Conv1D`` stores ``(in, out)`` (it has ``nf``).
    """
    weight = getattr(projection, "weight", None)
    bias = getattr(projection, "bias", None)
    if isinstance(projection, nn.Linear):
        return projection.weight, bias
    if isinstance(weight, torch.Tensor) and weight.dim() == 2 and hasattr(projection, "nf"):
        return weight.T, bias
    raise ValueError(
        f"{type(projection).__name__}: not a linear projection (nn.Linear or GPT-2's Conv1D)"
    )


def head_shape(model: nn.Module) -> HeadShape:
    """Layers, heads per layer, and ``head_dim`` = the projection's input width ÷ heads."""
    projections = output_projections(model)
    n_heads = int(model.config.get_text_config().num_attention_heads)
    width = projection_matrix(projections[0])[0].shape[1]
    if width % n_heads:
        raise ValueError(
            f"the attention output projection takes {width} inputs, not a multiple of the "
            f"{n_heads} heads"
        )
    return HeadShape(len(projections), n_heads, width // n_heads)


# --- hooks on the projection's input ------------------------------------------------------------


def _input_of(args: tuple, kwargs: dict) -> torch.Tensor:
    """The tensor a projection is called with (positionally or by keyword)."""
    if args:
        return args[0]
    return next(value for value in kwargs.values() if isinstance(value, torch.Tensor))


def _with_input(args: tuple, kwargs: dict, x: torch.Tensor) -> tuple[tuple, dict]:
    if args:
        return (x, *args[1:]), kwargs
    key = next(k for k, value in kwargs.items() if isinstance(value, torch.Tensor))
    return args, {**kwargs, key: x}


@contextmanager
def record_heads(projections: Sequence[nn.Module]) -> Iterator[list[torch.Tensor]]:
    """Record every projection's input at the last position.

    Yields a list that, after a forward pass, holds one ``(batch, n_heads * head_dim)`` tensor per
    layer, all on the device of the first one.
    """
    recorded: list[torch.Tensor] = []

    def make_hook(layer: int):
        def hook(module, args, kwargs):
            state = _input_of(args, kwargs)[:, -1, :].detach()
            recorded.append(state.to(recorded[0].device) if recorded else state)

        return hook

    with hooks(projections, make_hook, pre=True):
        yield recorded


@contextmanager
def patch_heads(
    projections: Sequence[nn.Module],
    head_dim: int,
    layer_of_row: torch.Tensor,
    head_of_row: torch.Tensor,
    values: torch.Tensor,
) -> Iterator[None]:
    """Replace one head's output at the last position of each row.

    Args:
        projections: the attention output projections, one per layer.
        head_dim: the width of one head's slot in the projection's input.
        layer_of_row: ``(batch,)`` long; the layer patched in each row, ``-1`` for no patch.
        head_of_row: ``(batch,)`` long; the head patched in each row.
        values: ``(batch, head_dim)``; the head output written into each patched row.
    """
    layer_of_row = layer_of_row.to(torch.long).cpu()
    head_of_row = head_of_row.to(torch.long).cpu()

    def make_hook(layer: int):
        rows = (layer_of_row == layer).nonzero(as_tuple=True)[0]
        if rows.numel() == 0:
            return None
        columns = head_of_row[rows, None] * head_dim + torch.arange(head_dim)  # (k, head_dim)

        def hook(module, args, kwargs):
            x = _input_of(args, kwargs).clone()
            at, slot = rows.to(x.device)[:, None], columns.to(x.device)
            x[at, -1, slot] = values[rows.to(values.device)].to(x.device, x.dtype)
            return _with_input(args, kwargs, x)

        return hook

    with hooks(projections, make_hook, pre=True):
        yield


# --- head activations ---------------------------------------------------------------------------


@torch.no_grad()
def head_activations(
    model: nn.Module, tokenizer, prompts: Sequence[str], *, batch_size: int = 16
) -> torch.Tensor:
    """Every head's output at the last token of each prompt.

    Returns:
        ``(n_prompts, n_layers, n_heads, head_dim)`` float32 on the CPU.
    """
    return _record_heads_of(model, tokenizer, prompts, batch_size, predict=False)[0]


def _record_heads_of(
    model: nn.Module, tokenizer, prompts: Sequence[str], batch_size: int, *, predict: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Head outputs ``(n, n_layers, n_heads, head_dim)`` float32 on the CPU and, with
    ``predict``, the greedy next token ``(n,)`` at the last position (else None, and the
    vocabulary projection is skipped)."""
    shape = head_shape(model)
    projections = output_projections(model)
    parts, tokens = [], []
    for rows in patching.chunks(prompts, batch_size):
        batch = patching.encode(tokenizer, [prompts[i] for i in rows], model.device)
        with record_heads(projections) as recorded:
            if predict:
                decoded = patching.decode(
                    model, tokenizer, batch, max_new_tokens=1, keep_first_logits=False
                )
                tokens.append(decoded.tokens[:, 0])
            else:
                patching._forward(model, batch.input_ids, batch.attention_mask, logits=False)
        parts.append(torch.stack(recorded, dim=1).float().cpu())  # (b, n_layers, width)
    stacked = torch.cat(parts)
    activations = stacked.reshape(len(prompts), shape.n_layers, shape.n_heads, shape.head_dim)
    return activations, torch.cat(tokens) if predict else None


def mean_head_activations(
    model: nn.Module, tokenizer, prompts: Sequence[str], *, batch_size: int = 16
) -> torch.Tensor:
    """The mean head outputs ``(n_layers, n_heads, head_dim)`` float32 over clean ICL prompts."""
    return head_activations(model, tokenizer, prompts, batch_size=batch_size).mean(0)


@dataclass(frozen=True)
class CleanMeans:
    """Mean head outputs ``(n_layers, n_heads, head_dim)`` float32 over the clean prompts the model
    answers correctly, and how many prompts there were, were answered correctly and were used
    (``n_used`` is ``n_prompts`` when none was answered correctly: the fallback)."""

    means: torch.Tensor
    n_prompts: int
    n_correct: int
    n_used: int


@torch.no_grad()
def correct_mean_head_activations(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    accepted_first_tokens: Sequence[Collection[int]],
    *,
    batch_size: int = 16,
) -> CleanMeans:
    """The authors' filter: the mean head outputs over the clean prompts whose greedy next token
    at the last position is one of the prompt's accepted answers' first tokens.

    The forward pass that records the heads also gives the greedy token (the engine's decoding
    step, through the model's vocabulary head when it has one), so the filter costs no extra
    pass. When no prompt is answered correctly the mean is over every prompt, so a task the model
    cannot do in context still gets heads to rank.

    Args:
        prompts: ``n`` clean ICL prompts.
        accepted_first_tokens: for each prompt, the token ids that count as a correct answer's
            first token (:attr:`taskvectors.results.files.Example.answer_first_token_ids`).
    """
    if len(accepted_first_tokens) != len(prompts):
        raise ValueError("one set of accepted first tokens per prompt is needed")
    activations, predicted = _record_heads_of(model, tokenizer, prompts, batch_size, predict=True)
    correct = torch.tensor(
        patching.first_token_accepted(predicted, accepted_first_tokens), dtype=torch.bool
    )
    used = correct if bool(correct.any()) else torch.ones_like(correct)
    return CleanMeans(activations[used].mean(0), len(prompts), int(correct.sum()), int(used.sum()))


# --- corrupted prompts and targets --------------------------------------------------------------


def shuffled_outputs(
    demos: Sequence[tuple[str, str]], *seed_parts: object
) -> tuple[tuple[str, str], ...]:
    """The demonstrations with their outputs permuted among them (inputs stay in place).

    A permutation, as the authors' code draws it: an output can stay with its own input. The
    permutation is seeded by :func:`taskvectors.seeding.derived_seed` of ``seed_parts`` (for
    instance the run's seed, the task and the example id).
    """
    rng = np.random.default_rng(derived_seed("shuffled_outputs", *seed_parts))
    order = rng.permutation(len(demos))
    return tuple((x, demos[int(j)][1]) for (x, _), j in zip(demos, order, strict=True))


def answer_first_tokens(
    tokenizer, template: PromptTemplate, prompts: Sequence[str], answers: Sequence[str]
) -> list[int]:
    """The first token each answer adds after its prompt (with the template's answer prefix);
    ``ValueError`` when an answer merges with the end of its prompt."""
    completions = [template.answer_prefix + answer for answer in answers]
    tokens = continuations(tokenizer, list(prompts), completions)
    bad = [answer for answer, ids in zip(answers, tokens, strict=True) if not ids]
    if bad:
        raise ValueError(f"answers without a first token of their own after the prompt: {bad[:5]}")
    return [ids[0] for ids in tokens]


# --- causal indirect effect ---------------------------------------------------------------------


def _answer_probabilities(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Softmax probability ``(rows,)`` float32 of ``targets`` ``(rows,)`` under ``logits``
    ``(rows, vocab)``."""
    log_p = torch.log_softmax(logits.float(), dim=-1)
    return log_p.gather(1, targets.to(log_p.device)[:, None])[:, 0].exp().cpu()


def _check_means(means: torch.Tensor, shape: HeadShape) -> None:
    expected = (shape.n_layers, shape.n_heads, shape.head_dim)
    if tuple(means.shape) != expected:
        raise ValueError(f"head means of shape {tuple(means.shape)}; this model needs {expected}")


@torch.no_grad()
def indirect_effects(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    target_ids: Sequence[int],
    means: torch.Tensor,
    *,
    batch_rows: int = 128,
) -> torch.Tensor:
    """The CIE of every head on every prompt, batched over heads against a prefix cache.

    Rows are ``(prompt, variant)`` prompt-major, variant 0 unpatched and variant ``1 + l * H + h``
    head ``(l, h)`` patched with ``means[l, h]``; they run at most ``batch_rows`` at a time, each
    chunk computing the prefixes of the prompts it touches once. Chunks hold whole prompts when a
    prompt's rows fit in ``batch_rows`` (each prefix then runs once); otherwise a prompt's rows
    are split over several chunks, each running its prefix again.

    Args:
        prompts: ``n`` corrupted prompts (at least two tokens each).
        target_ids: ``n`` token ids, the first token of each prompt's correct answer.
        means: ``(n_layers, n_heads, head_dim)`` clean mean head outputs.
        batch_rows: the most rows per single-token forward.
    Returns:
        ``(n, n_layers, n_heads)`` float32 on the CPU: ``P(answer | patched) − P(answer)``.
    """
    shape = head_shape(model)
    _check_means(means, shape)
    n_variants = 1 + shape.n_layers * shape.n_heads
    probabilities = torch.empty(len(prompts) * n_variants)
    for rows in cie_chunks(len(prompts), n_variants, batch_rows):
        probabilities[rows.start : rows.stop] = _chunk_probabilities(
            model, tokenizer, prompts, torch.as_tensor(target_ids), means, rows, shape
        )
    table = probabilities.reshape(len(prompts), n_variants)
    return (table[:, 1:] - table[:, :1]).reshape(len(prompts), shape.n_layers, shape.n_heads)


def cie_chunks(n_prompts: int, n_variants: int, batch_rows: int) -> list[range]:
    """The rows (prompt-major, ``n_variants`` per prompt) each forward of :func:`indirect_effects`
    runs: whole prompts per chunk when a prompt's rows fit in ``batch_rows``, else runs of
    ``batch_rows`` rows. Each chunk costs one prefix forward of the prompts it touches and one
    single-token forward of its rows; the GPU projection (``taskvectors bench fv --project``)
    counts them from here."""
    whole_prompts = (batch_rows // n_variants) * n_variants
    return list(patching.chunks(range(n_prompts * n_variants), whole_prompts or batch_rows))


def _chunk_probabilities(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    targets: torch.Tensor,
    means: torch.Tensor,
    rows: range,
    shape: HeadShape,
) -> torch.Tensor:
    """``P(answer)`` ``(len(rows),)`` of the rows ``rows`` of :func:`indirect_effects`."""
    row = torch.arange(rows.start, rows.stop)
    n_variants = 1 + shape.n_layers * shape.n_heads
    prompt, variant = row // n_variants, row % n_variants
    first, last = int(prompt[0]), int(prompt[-1])
    batch = patching.encode(tokenizer, prompts[first : last + 1], model.device)
    step, cache = patching.last_token_rows(model, batch, prompt - first)
    layer = torch.where(variant == 0, NO_HEAD, (variant - 1) // shape.n_heads)
    head = (variant - 1).clamp(min=0) % shape.n_heads
    values = means[layer.clamp(min=0), head]  # (rows, head_dim)
    with patch_heads(output_projections(model), shape.head_dim, layer, head, values):
        out = patching._forward(model, step.input_ids, step.attention_mask, past=cache)
    return _answer_probabilities(out.logits[:, -1, :], targets[prompt])


@torch.no_grad()
def indirect_effects_naive(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    target_ids: Sequence[int],
    means: torch.Tensor,
) -> torch.Tensor:
    """The reference :func:`indirect_effects` must equal: one full forward of the prompts per head
    (``n_layers × n_heads + 1`` forwards), no cache. Same arguments; returns ``(n, L, H)``."""
    shape = head_shape(model)
    _check_means(means, shape)
    projections = output_projections(model)
    batch = patching.encode(tokenizer, prompts, model.device)
    targets = torch.as_tensor(target_ids)
    n = len(prompts)

    def probabilities() -> torch.Tensor:
        out = patching._forward(model, batch.input_ids, batch.attention_mask)
        return _answer_probabilities(out.logits[:, -1, :], targets)

    unpatched = probabilities()
    effects = torch.empty(n, shape.n_layers, shape.n_heads)
    for layer in range(shape.n_layers):
        for head in range(shape.n_heads):
            values = means[layer, head].expand(n, shape.head_dim)
            layers, heads = torch.full((n,), layer), torch.full((n,), head)
            with patch_heads(projections, shape.head_dim, layers, heads, values):
                effects[:, layer, head] = probabilities() - unpatched
    return effects


# --- choosing heads -----------------------------------------------------------------------------


def top_heads(effect: torch.Tensor, k: int) -> list[tuple[int, int]]:
    """The ``k`` heads ``(layer, head)`` with the largest effect, largest first.

    Args:
        effect: ``(n_layers, n_heads)``, a mean CIE (over prompts, or over tasks). Ties go to the
            lower ``(layer, head)`` (a stable sort), so the choice is deterministic.
    """
    n_heads = effect.shape[1]
    order = torch.sort(effect.flatten().float(), descending=True, stable=True).indices[:k]
    return [(int(i) // n_heads, int(i) % n_heads) for i in order]


def average_over_tasks(effects: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The universal effect ``(n_layers, n_heads)``: the mean over tasks of each task's mean CIE
    (``effects[task]`` is ``(n_layers, n_heads)``; pass only the tasks that pass the filter)."""
    if not effects:
        raise ValueError("no task effects to average")
    return torch.stack([effect.float() for effect in effects.values()]).mean(0)
