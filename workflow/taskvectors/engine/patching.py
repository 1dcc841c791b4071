"""The patching engine: read the residual stream, decode answers, patch task vectors, sweep layers.

Everything the method needs from a model goes through four operations on a batch of prompts:

* :func:`read_out` — the output of every decoder block at the last position ``(n_layers, batch,
  d_model)`` and the next-token logits at that position only ``(batch, vocab)``
  (``logits_to_keep``: the vocabulary projection is never computed at every position);
  :func:`read_out_shared_prefix` does the same for prompts sharing their demonstrations, computing
  them once, and decodes the query's answer on from the same cache.
* :func:`decode` — greedy answers, first token and up to ``max_new_tokens`` tokens stopped at a
  newline, optionally with a patch applied to the prompt's last position.
* :func:`task_vectors` — θ_L for every layer in one pass: the block outputs at the last token of
  ``[S, x']``, averaged over the dummy queries x'.
* :func:`sweep_layers` — the patched prediction for every layer. The zero-shot query's prefix (all
  but its last token) is the same for every layer's variant, so its key/value cache is computed
  once, repeated once per variant, and all variants run as one batch of single-token forwards.
  :func:`sweep_layers_naive` is the plain per-layer loop it must equal (tested).

Prompts are left-padded so that position ``-1`` is every row's last token; position ids are computed
from the attention mask so that a padded batch gives the same numbers as one prompt at a time.

Greedy tokens come from the model's attached :class:`~taskvectors.engine.vocab_head.VocabHead` when
it has one (models loaded by :func:`taskvectors.engine.models.load_model`): the decoder runs without
its vocabulary projection and the head finds the exact float32 argmax through a bfloat16 screen,
which on a CPU is several times cheaper than the float32 projection of Gemma's 262k-token
vocabulary. ``first_logits`` are computed only when asked for (``keep_first_logits``).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import torch
from torch import nn

from taskvectors.engine import vocab_head
from taskvectors.engine.layers import decoder_blocks, patch_last_position, record_last_position

NO_PATCH = -1


@dataclass(frozen=True)
class Batch:
    """Token ids and attention mask, both ``(batch, pos)``, left-padded, on the model's device."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor


@dataclass(frozen=True)
class Patch:
    """Overwrite block ``layer_of_row[i]`` at the last position of row ``i`` with ``vectors[i]``
    (or, with ``add``, add ``vectors[i]`` to it: function vectors).

    ``layer_of_row`` is ``(batch,)`` (``-1`` = leave the row alone); ``vectors`` is
    ``(batch, d_model)``.
    """

    layer_of_row: torch.Tensor
    vectors: torch.Tensor
    add: bool = False


@dataclass(frozen=True)
class Decoded:
    """Greedy decoding of a batch: ``tokens`` ``(batch, steps)`` (``-1`` after a row stopped),
    the first step's logits ``(batch, vocab)``, and the answers as text (first line, stripped)."""

    tokens: torch.Tensor
    first_logits: torch.Tensor
    first_tokens: list[str]
    answers: list[str]


def encode(tokenizer, prompts: Sequence[str], device: torch.device | str = "cpu") -> Batch:
    """Tokenize ``prompts`` with left padding (the tokenizer's default special tokens)."""
    tokenizer.padding_side = "left"
    encoded = tokenizer(list(prompts), return_tensors="pt", padding=True)
    return Batch(encoded["input_ids"].to(device), encoded["attention_mask"].to(device))


def _forward(model: nn.Module, input_ids, attention_mask, past=None, use_cache=False, logits=True):
    """One forward pass with mask-aware position ids; logits at the last position only.

    ``attention_mask`` covers the cached positions plus ``input_ids``. With ``logits=False`` only
    the decoder runs (``model.base_model``: hidden states and cache, no vocabulary projection).
    """
    positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -input_ids.shape[1] :]
    inputs = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "position_ids": positions,
        "past_key_values": past,
        "use_cache": use_cache,
    }
    if not logits:
        return model.base_model(**inputs)
    # The last position as a 1-D index rather than ``logits_to_keep=1``: indexing copies the kept
    # hidden states into a contiguous (batch, 1, d) tensor, so the unembedding is one matrix
    # product; the strided slice that ``1`` gives runs as a batched product, ~4x slower on CPU.
    if not _keeps_logits(type(model)):  # e.g. remote code without the argument: all positions
        return model(**inputs)
    last = torch.tensor([input_ids.shape[1] - 1], device=input_ids.device)
    return model(**inputs, logits_to_keep=last)


@cache
def _keeps_logits(model_class: type) -> bool:
    """Whether the model's forward takes ``logits_to_keep`` (transformers 5 causal LMs do)."""
    return "logits_to_keep" in inspect.signature(model_class.forward).parameters


@torch.no_grad()
def read_out(model: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Block outputs at the last position ``(n_layers, batch, d)`` and logits ``(batch, vocab)``."""
    with record_last_position(decoder_blocks(model)) as recorded:
        out = _forward(model, batch.input_ids, batch.attention_mask)
    return torch.stack(recorded), out.logits[:, -1, :]


def _common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix all rows share, leaving each row one token of its own."""
    limit = min(len(row) for row in rows) - 1
    length = 0
    while length < limit and all(row[length] == rows[0][length] for row in rows):
        length += 1
    return length


def _left_pad(rows: Sequence[Sequence[int]], pad_id: int, device) -> Batch:
    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            ids[i, width - len(row) :] = torch.tensor(row)
            mask[i, width - len(row) :] = 1
    return Batch(ids.to(device), mask.to(device))


@torch.no_grad()
def read_out_shared_prefix(
    model: nn.Module,
    tokenizer,
    contexts: Sequence[str],
    suffixes: Sequence[Sequence[str]],
    *,
    answer_of: int = 0,
    max_new_tokens: int = 1,
) -> tuple[torch.Tensor, Decoded]:
    """:func:`read_out` of the prompts ``context + suffix``, computing each context only once, and
    the greedy answer of one suffix per context continued from the same cache.

    Prompts that share their demonstrations S (the ICL prompt ``[S, x]`` and the dummy prompts
    ``[S, x']``) differ only in their last few tokens. Each context's shared token prefix is run
    once, its key/value cache repeated for its suffixes, and the suffixes run against it. The
    prompt ``[S, x]`` then goes on decoding from that cache: ICL's answer costs no second pass
    over S, and the dummy prompts' vocabulary projection is never computed.

    Args:
        contexts: ``n`` shared prefixes (strings).
        suffixes: for each context, the same number ``k`` of suffix strings.
        answer_of: the suffix ``j`` of each context to answer (the query).
        max_new_tokens: the answer's token budget (greedy, stopped at a newline).
    Returns:
        block outputs ``(n * k, n_layers, d_model)`` float32 on the CPU, row ``i * k + j`` for
        ``contexts[i] + suffixes[i][j]``, and the :class:`Decoded` answers ``(n rows)`` of
        ``contexts[i] + suffixes[i][answer_of]`` (no first logits kept).
    """
    k = len(suffixes[0])
    if any(len(group) != k for group in suffixes):
        raise ValueError("read_out_shared_prefix needs the same number of suffixes per context")
    ids, mask, past = _shared_prefix_inputs(model, tokenizer, contexts, suffixes)
    rows = torch.arange(answer_of, len(contexts) * k, k, device=ids.device)
    with record_last_position(decoder_blocks(model)) as recorded:
        step = _greedy_step(
            model, ids, mask, past, use_cache=max_new_tokens > 1, keep_logits=False, rows=rows
        )
    hidden = torch.stack(recorded).float().cpu().transpose(0, 1)
    if step.past is not None:
        step.past.batch_select_indices(rows)
    return hidden, _continue_greedy(model, tokenizer, step, mask[rows], max_new_tokens, True)


def _shared_prefix_inputs(
    model: nn.Module, tokenizer, contexts: Sequence[str], suffixes: Sequence[Sequence[str]]
) -> tuple[torch.Tensor, torch.Tensor, object]:
    """Token ids of every ``context + suffix`` after its context's shared prefix ``(n * k, s)``,
    the attention mask over prefix and suffix ``(n * k, p + s)``, and the prefix's key/value
    cache repeated ``k`` times (or the whole prompts, no cache, when a sliding window is shorter
    than prefix plus suffix)."""
    k = len(suffixes[0])
    tokenized = [
        tokenizer([context + suffix for suffix in group])["input_ids"]
        for context, group in zip(contexts, suffixes, strict=True)
    ]
    shared = [_common_prefix_length(rows) for rows in tokenized]
    pad_id = tokenizer.pad_token_id
    prefix = _left_pad(
        [rows[0][:n] for rows, n in zip(tokenized, shared, strict=True)], pad_id, model.device
    )
    rest = _left_pad(
        [row[n:] for rows, n in zip(tokenized, shared, strict=True) for row in rows],
        pad_id,
        model.device,
    )
    window = getattr(model.config.get_text_config(), "sliding_window", None)
    if window and prefix.input_ids.shape[1] + rest.input_ids.shape[1] > window:
        # Padding between prefix and suffix would take sliding-window slots: run prompts whole.
        whole = _left_pad([row for rows in tokenized for row in rows], pad_id, model.device)
        return whole.input_ids, whole.attention_mask, None
    cache = _forward(
        model, prefix.input_ids, prefix.attention_mask, use_cache=True, logits=False
    ).past_key_values
    cache.batch_repeat_interleave(k)
    mask = torch.cat([prefix.attention_mask.repeat_interleave(k, dim=0), rest.attention_mask], 1)
    return rest.input_ids, mask, cache


@lru_cache(maxsize=1)
def _stop_checker(tokenizer) -> Callable[[int], bool]:
    @lru_cache(maxsize=65536)
    def stops(token_id: int) -> bool:
        return token_id == tokenizer.eos_token_id or "\n" in tokenizer.decode([token_id])

    return stops


def answer_texts(tokenizer, tokens: torch.Tensor) -> tuple[list[str], list[str]]:
    """The decoded first token and the answer (first line, stripped) of each row of ``tokens``
    ``(batch, steps)``, ``-1`` marking steps after a row stopped."""
    first = [tokenizer.decode([int(t)]) for t in tokens[:, 0]]
    texts = [tokenizer.decode([int(t) for t in row if t >= 0]) for row in tokens]
    return first, [text.split("\n")[0].strip() for text in texts]


@dataclass(frozen=True)
class _Step:
    """A forward pass's greedy next token per row ``(rows,)``, the logits ``(rows, vocab)`` when
    kept (else None), and the key/value cache (None without ``use_cache``)."""

    tokens: torch.Tensor
    logits: torch.Tensor | None
    past: object


def _greedy_step(
    model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    past=None,
    *,
    use_cache: bool,
    keep_logits: bool,
    rows: torch.Tensor | None = None,
) -> _Step:
    """One forward pass and the greedy next token of ``rows`` (default: every row).

    The vocabulary projection goes through the model's attached
    :class:`~taskvectors.engine.vocab_head.VocabHead` (exact argmax, screened in bfloat16 where that
    pays); a model without one runs its own forward, logits included.
    """
    head = vocab_head.attached(model)
    if head is None:
        out = _forward(model, input_ids, attention_mask, past, use_cache)
        logits = out.logits[:, -1, :] if rows is None else out.logits[rows, -1, :]
        kept = logits.float() if keep_logits else None
        return _Step(vocab_head.first_argmax(logits), kept, out.past_key_values)
    out = _forward(model, input_ids, attention_mask, past, use_cache, logits=False)
    last = out.last_hidden_state[:, -1, :]
    last = last if rows is None else last[rows]
    if keep_logits:
        logits = head.logits(last)
        return _Step(vocab_head.first_argmax(logits), logits, out.past_key_values)
    return _Step(head.greedy(last), None, out.past_key_values)


@torch.no_grad()
def decode(
    model: nn.Module,
    tokenizer,
    batch: Batch,
    *,
    max_new_tokens: int = 1,
    patch: Patch | None = None,
    past=None,
    drop_stopped_rows: bool = True,
    keep_first_logits: bool = True,
) -> Decoded:
    """Greedy-decode up to ``max_new_tokens`` tokens per row, stopping a row at a newline or EOS.

    ``patch`` applies to the first forward pass only (the prompt's last position); later tokens see
    the patched state through the key/value cache. With ``past``, ``batch.input_ids`` holds only the
    new tokens and ``batch.attention_mask`` covers the cached positions too. Stopped rows leave the
    batch unless ``drop_stopped_rows`` is False (hooks that address rows by batch position, such as
    per-example adapters, need the batch to keep its rows). Without ``keep_first_logits`` the first
    step's logits are not materialised (``first_logits`` is empty) and greedy tokens come from the
    screened vocabulary projection.
    """
    patching = (
        contextlib.nullcontext()
        if patch is None
        else patch_last_position(
            decoder_blocks(model), patch.layer_of_row, patch.vectors, add=patch.add
        )
    )
    with patching:
        step = _greedy_step(
            model,
            batch.input_ids,
            batch.attention_mask,
            past,
            use_cache=max_new_tokens > 1,
            keep_logits=keep_first_logits,
        )
    return _continue_greedy(
        model, tokenizer, step, batch.attention_mask, max_new_tokens, drop_stopped_rows
    )


def first_token_accepted(
    tokens: Sequence[int] | torch.Tensor, accepted: Sequence[Collection[int]]
) -> list[bool]:
    """Whether each row's first answer token (``tokens[i]``) is one of the token ids accepted as
    a correct answer's first token for that row (``accepted[i]``): the token-level score the
    model jobs choose layers and filter prompts with, without importing the scoring code."""
    if len(tokens) != len(accepted):
        raise ValueError(f"{len(tokens)} tokens but {len(accepted)} sets of accepted tokens")
    return [int(token) in set(ok) for token, ok in zip(tokens, accepted, strict=True)]


def _continue_greedy(
    model: nn.Module,
    tokenizer,
    first: _Step,
    attention_mask: torch.Tensor,
    max_new_tokens: int,
    drop_stopped_rows: bool,
) -> Decoded:
    """Decode on from ``first`` (its tokens, and its cache over ``attention_mask``'s positions)."""
    stops = _stop_checker(tokenizer)
    token = first.tokens
    steps = [token]
    done = torch.tensor([stops(int(t)) for t in token], device=token.device)
    # Rows that stopped leave the batch (and their cache rows with them): with a 262k-token
    # vocabulary each row's unembedding costs more than its decoder pass.
    active = torch.arange(len(token), device=token.device)
    feed, mask, past = token, attention_mask, first.past
    for _ in range(max_new_tokens - 1):
        keep = (~done[active]).nonzero().squeeze(1)
        if len(keep) == 0:
            break
        if not drop_stopped_rows:
            keep = torch.arange(len(active), device=keep.device)
        if len(keep) < len(active):
            past.batch_select_indices(keep)
            active, feed, mask = active[keep], feed[keep], mask[keep]
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
        step = _greedy_step(model, feed[:, None], mask, past, use_cache=True, keep_logits=False)
        past, feed = step.past, step.tokens.to(token.device)
        token = torch.full_like(steps[0], -1)
        token[active] = feed
        token[done] = -1  # rows kept in the batch after they stopped (drop_stopped_rows=False)
        steps.append(token)
        done[active] |= torch.tensor([stops(int(t)) for t in feed], device=token.device)
    tokens = torch.stack(steps, dim=1)
    first_tokens, answers = answer_texts(tokenizer, tokens)
    logits = torch.empty(0) if first.logits is None else first.logits.float().cpu()
    return Decoded(tokens.cpu(), logits, first_tokens, answers)


@torch.no_grad()
def task_vectors(
    model: nn.Module, tokenizer, dummy_prompts: Sequence[Sequence[str]]
) -> torch.Tensor:
    """θ for each prompt set: block outputs at the last token, averaged over its dummy prompts.

    Args:
        dummy_prompts: for each example, the prompts ``[S, x']`` for each of its dummy queries x'.
    Returns:
        ``(n_examples, n_layers, d_model)`` float32 on the CPU.
    """
    flat = [prompt for prompts in dummy_prompts for prompt in prompts]
    counts = [len(prompts) for prompts in dummy_prompts]
    hidden, _ = read_out(model, encode(tokenizer, flat, model.device))
    per_prompt = hidden.float().cpu().transpose(0, 1)  # (n_prompts, n_layers, d_model)
    return torch.stack([chunk.mean(0) for chunk in per_prompt.split(counts)])


def _variant_layers(layers: Sequence[int], include_unpatched: bool) -> list[int]:
    return ([NO_PATCH] if include_unpatched else []) + list(layers)


def _gather_vectors(vectors: torch.Tensor, variant_layers: Sequence[int]) -> torch.Tensor:
    """``(n, n_layers, d)`` -> ``(n * n_variants, d)``, zeros for unpatched variants."""
    index = torch.tensor([max(layer, 0) for layer in variant_layers])
    picked = vectors[:, index, :].clone()
    picked[:, [layer == NO_PATCH for layer in variant_layers], :] = 0
    return picked.reshape(-1, vectors.shape[-1])


@torch.no_grad()
def last_token_rows(
    model: nn.Module, batch: Batch, prompt_of_row: torch.Tensor
) -> tuple[Batch, object]:
    """Each prompt's prefix (all but its last token) run once, and its cache spread over rows.

    A patch at the last position leaves every earlier position unchanged, so the variants of a
    prompt (one per layer, one per head...) need only a single-token forward each against the
    prompt's prefix cache: this is what makes the layer sweep and the head patching cheap.

    Args:
        batch: ``n`` left-padded prompts ``(n, pos)``, at least two tokens wide.
        prompt_of_row: ``(rows,)`` long; the prompt each row continues (repeats allowed).
    Returns:
        the rows' last tokens ``(rows, 1)`` with their attention mask over prefix and last token
        ``(rows, pos)``, and the prefix key/value cache with ``rows`` rows (used up by one
        forward: it grows in place).
    """
    if batch.input_ids.shape[1] < 2:
        raise ValueError("the prompts need at least two tokens (a prefix to cache)")
    prefix = _forward(
        model, batch.input_ids[:, :-1], batch.attention_mask[:, :-1], use_cache=True, logits=False
    )
    cache = prefix.past_key_values
    index = prompt_of_row.to(torch.long).to(batch.input_ids.device)
    cache.batch_select_indices(index)
    return Batch(batch.input_ids[index, -1:], batch.attention_mask[index]), cache


@torch.no_grad()
def sweep_layers(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    vectors: torch.Tensor,
    layers: Sequence[int],
    *,
    include_unpatched: bool = True,
    max_new_tokens: int = 1,
    keep_first_logits: bool = True,
    add: bool = False,
) -> Decoded:
    """Patched predictions of every (prompt, layer) with one shared prefix cache per prompt.

    Args:
        prompts: ``n`` zero-shot prompts (each at least two tokens long).
        vectors: ``(n, n_layers, d_model)``; row ``i`` is patched with ``vectors[i, layer]``.
        layers: the layers to sweep.
        include_unpatched: also return the unpatched prediction (first variant, layer ``-1``).
        keep_first_logits: return the first step's logits (else greedy tokens only, faster).
        add: add the vectors to the block outputs instead of replacing them.
    Returns:
        :class:`Decoded` with ``n * n_variants`` rows, prompt-major: row ``i * n_variants + j`` is
        prompt ``i`` with variant ``j`` (variants: ``[-1] + layers`` or ``layers``).
    """
    variant_layers = _variant_layers(layers, include_unpatched)
    repeats = len(variant_layers)
    batch = encode(tokenizer, prompts, model.device)
    prompt_of_row = torch.arange(len(prompts)).repeat_interleave(repeats)
    step, cache = last_token_rows(model, batch, prompt_of_row)
    patch = Patch(
        torch.tensor(variant_layers).repeat(len(prompts)),
        _gather_vectors(vectors, variant_layers).to(model.device),
        add=add,
    )
    return decode(
        model,
        tokenizer,
        step,
        max_new_tokens=max_new_tokens,
        patch=patch,
        past=cache,
        keep_first_logits=keep_first_logits,
    )


@torch.no_grad()
def sweep_layers_naive(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    vectors: torch.Tensor,
    layers: Sequence[int],
    *,
    include_unpatched: bool = True,
    max_new_tokens: int = 1,
    keep_first_logits: bool = True,
    add: bool = False,
) -> Decoded:
    """The reference loop :func:`sweep_layers` must equal: one full forward per layer, no cache."""
    variant_layers = _variant_layers(layers, include_unpatched)
    batch = encode(tokenizer, prompts, model.device)
    results = []
    for layer in variant_layers:
        patch = None
        if layer != NO_PATCH:
            layer_of_row = torch.full((len(prompts),), layer)
            patch = Patch(layer_of_row, vectors[:, layer, :].to(model.device), add=add)
        results.append(
            decode(
                model,
                tokenizer,
                batch,
                max_new_tokens=max_new_tokens,
                patch=patch,
                keep_first_logits=keep_first_logits,
            )
        )
    return _interleave(results)


def _interleave(results: Sequence[Decoded]) -> Decoded:
    """Variant-major results -> prompt-major rows (prompt ``i``, variant ``j`` at ``i * V + j``)."""
    tokens = _padded_tokens(results)
    n = results[0].tokens.shape[0]
    order = [(j, i) for i in range(n) for j in range(len(results))]
    logits = torch.stack([r.first_logits for r in results], dim=1)
    return Decoded(
        torch.stack(tokens, dim=1).reshape(n * len(results), -1),
        logits.reshape(n * len(results), -1) if logits.numel() else torch.empty(0),
        [results[j].first_tokens[i] for j, i in order],
        [results[j].answers[i] for j, i in order],
    )


def concatenate(parts: Sequence[Decoded]) -> Decoded:
    """The rows of ``parts`` one after another (tokens padded with ``-1`` to the longest)."""
    logits = [part.first_logits for part in parts]
    return Decoded(
        torch.cat(_padded_tokens(parts)),
        torch.cat(logits) if all(x.numel() for x in logits) else torch.empty(0),
        [token for part in parts for token in part.first_tokens],
        [answer for part in parts for answer in part.answers],
    )


def _padded_tokens(parts: Sequence[Decoded]) -> list[torch.Tensor]:
    width = max(part.tokens.shape[1] for part in parts)
    return [
        torch.nn.functional.pad(part.tokens, (0, width - part.tokens.shape[1]), value=-1)
        for part in parts
    ]


def final_norm(model: nn.Module) -> nn.Module:
    """The norm applied to the last block's output before the unembedding."""
    base = model.base_model
    for name in ("norm", "ln_f", "final_layer_norm", "final_layernorm"):
        module = getattr(base, name, None)
        if module is None and hasattr(base, "decoder"):
            module = getattr(base.decoder, name, None)
        if isinstance(module, nn.Module):
            return module
    raise ValueError(f"{type(model).__name__}: no final norm found")


def unembed(model: nn.Module, normed: torch.Tensor) -> torch.Tensor:
    """Logits ``(k, vocab)`` of ``(k, d_model)`` final-normed hidden states (softcap included)."""
    logits = model.get_output_embeddings()(normed[:, None, :])[:, 0, :].float()
    cap = getattr(model.config.get_text_config(), "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits


@torch.no_grad()
def project_to_vocab(model: nn.Module, vectors: torch.Tensor) -> torch.Tensor:
    """Logits ``(k, vocab)`` of ``(k, d_model)`` residual vectors: final norm, then unembedding."""
    hidden = vectors.to(model.device, next(model.parameters()).dtype)
    return unembed(model, final_norm(model)(hidden))


def chunks(items: Sequence, size: int) -> Iterator[range]:
    """Index ranges of at most ``size`` items."""
    for start in range(0, len(items), max(1, size)):
        yield range(start, min(start + size, len(items)))
