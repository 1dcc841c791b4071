"""Fine-tuning on each example's demonstrations S, many examples at once: GD beside ICL.

The hypothesis under test (Shen et al. 2023; Deutch et al. 2024) is that ICL behaves like gradient
descent on S. For each example, a fresh copy of the trainable parameters is trained on S — each
demonstration ``template.demo(x, y)`` a language-model training example, loss on the answer tokens
only — and the trained model answers the zero-shot query ``template.zero_shot_prompt(x)``.

Which parameters train (:data:`PARAMETER_SETS`):

* ``lora`` (the default, cheapest on a CPU): low-rank adapters on every attention projection,
  ``h + scale * (x @ A_e) @ B_e``. Adapters carry a leading *slot* dimension, one slot per training
  job, and forward hooks apply to each batch row the adapter of the slot it belongs to, so many
  examples (and learning rates) train in one batch. The base model is frozen and never written.
* ``attention`` / ``all``: the model's own attention (or all) parameters, one job at a time,
  restored from a saved copy after each job.

Nothing leaks between jobs: each job's adapter starts from its own seed, ``sha256(seed : key)`` with
the job's key (task, example id), and both optimisers (:data:`OPTIMIZERS`, written here so that
their state is one tensor per slot) update each element from that element's own history. A job's
loss is the mean over its own answer tokens, so its gradient is that of training it alone: results
do not depend on which jobs share a batch, nor on their order (tested).

Batches (:data:`BATCH_MODES`): ``all`` takes one step per epoch on all demonstrations;
``sequential`` takes one step per demonstration, in the job's order (the order analysis). A step
runs as forward and backward passes of at most :data:`TOKENS_PER_PASS` tokens whose gradients add
up, so its memory does not grow with the chunk; only answer positions reach the unembedding.

Early stopping (``patience``): a chunk whose jobs carry a held-out ``answer`` (a dev example's
own answer to its query) is evaluated before training and at each checkpoint epoch by its jobs'
mean loss on those answers, and stops training once that loss has not improved for ``patience``
evaluations in a row; the checkpoints after the stop are not answered. It is what lets the GD
stage's grid skip the epochs of a learning rate that has stopped helping.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from copy import deepcopy
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from taskvectors.engine import patching, vocab_head
from taskvectors.engine.layers import decoder_blocks
from taskvectors.engine.precision import native_bf16
from taskvectors.seeding import derived_seed
from taskvectors.tasks.prompts import PromptTemplate

PARAMETER_SETS = ("lora", "attention", "all")
OPTIMIZERS = ("sgd", "adam")
BATCH_MODES = ("all", "sequential")
#: Mixed precision of the training passes (answers are always computed in the model's dtype);
#: ``auto`` is bfloat16 where the model's device computes it natively (:func:`training_dtype`).
AUTOCAST_DTYPES = {"none": None, "bfloat16": torch.bfloat16}
AUTOCAST_CHOICES = ("auto", *AUTOCAST_DTYPES)
ATTENTION_MODULE_NAMES = ("self_attn", "attn", "attention", "self_attention")
#: Padded tokens (rows x width) per forward and backward pass of a training step: a step's
#: gradient adds up its passes, so only one pass's activations and answer-position logits are
#: alive at a time. Small passes waste time: each projects its few answer positions onto the
#: vocabulary (262k tokens for Gemma 3) forward and backward as a thin matrix product, and pays a
#: fixed cost. Measured on the default GD grid of fr_en (30 jobs x 4 epochs, Gemma 3 270M, 2
#: threads, Zen 4): float32 (the path of CPUs without bfloat16) 37.3 s at 96 tokens, 28.1 s at
#: 192, 22.7 s at 384, 20.6 s at 768, with peak memory 2.07, 2.26, 2.52 and 2.99 GB; bfloat16
#: 18.0 s at 96 and 14.4 s at 384, 2.09 GB both.
TOKENS_PER_PASS = 384


@dataclass(frozen=True)
class FinetuneConfig:
    """How to fine-tune (the learning rate belongs to each :class:`TrainingJob`).

    ``lora_alpha / lora_rank`` scales the adapters' output, as in LoRA. Adam uses
    ``adam_betas`` and ``adam_eps`` with bias correction and no weight decay (``torch.optim.Adam``'s
    defaults). ``autocast: bfloat16`` runs the training passes (never the answers) in bfloat16:
    for ``lora`` on a bfloat16 copy of the frozen model, made once per model and kept (casting
    the weights at every step, as ``torch.autocast`` does for frozen weights, costs more than the
    step; :func:`training_copy`); otherwise under ``torch.autocast``. Adapters and optimiser
    state stay float32. On CPUs with native bfloat16 this is 5-10x faster than float32
    (``taskvectors bench gd``); on CPUs without it, 100x slower, so ``auto`` (the
    stage's default) trains in bfloat16 only where :func:`taskvectors.engine.precision.native_bf16`
    says.
    """

    params: str = "lora"
    optimizer: str = "sgd"
    batch: str = "all"
    lora_rank: int = 4
    lora_alpha: float = 8.0
    seed: int = 0
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    autocast: str = "none"

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("params", self.params, PARAMETER_SETS),
            ("optimizer", self.optimizer, OPTIMIZERS),
            ("batch", self.batch, BATCH_MODES),
            ("autocast", self.autocast, AUTOCAST_CHOICES),
        ):
            if value not in allowed:
                raise ValueError(f"fine-tuning {name} must be one of {allowed}, got {value!r}")
        if self.lora_rank < 1:
            raise ValueError(f"lora_rank must be at least 1, got {self.lora_rank}")

    @property
    def lora_scale(self) -> float:
        return self.lora_alpha / self.lora_rank


@dataclass(frozen=True)
class TrainingJob:
    """One fine-tuning run: train on ``demos`` (in this order), then answer ``query`` zero-shot.

    ``key`` names the example (e.g. ``(task, example_id)``); with the config's seed it seeds the
    adapter's initialisation, so jobs of the same key start from the same adapter.
    """

    key: tuple[str | int, ...]
    demos: tuple[tuple[str, str], ...]
    query: str
    learning_rate: float
    answer: str | None = None  # the query's held-out answer: early stopping's loss


@dataclass(frozen=True)
class FinetuneResult:
    """Answers after each checkpoint epoch and the training losses.

    ``decoded[e]`` holds one row per job (in the jobs' order) after ``e`` epochs (``0``: untrained);
    its ``first_logits`` ``(n_jobs, vocab)`` are kept only when asked for (else empty). With
    early stopping it holds only the checkpoints every chunk reached.
    ``losses`` ``(n_jobs, n_steps)`` is each job's mean answer-token loss before each step (NaN
    after its chunk stopped).
    """

    decoded: dict[int, patching.Decoded]
    losses: torch.Tensor


# --- training data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingBatch:
    """Right-padded demonstrations ``(rows, pos)`` and which slot (job) each row trains.

    ``predicts_answer[r, p]`` is true when position ``p`` predicts an answer token at ``p + 1``.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    predicts_answer: torch.Tensor
    row_slot: torch.Tensor


def demo_tokens(tokenizer, template: PromptTemplate, x: str, y: str) -> tuple[list[int], int]:
    """Token ids of the demonstration ``template.demo(x, y)`` and how many end it as the answer.

    The answer is what the demonstration adds to the query's tokens; a token that merges the
    query's end with the answer's start counts as answer (the model has to produce it).
    """
    full = list(tokenizer(template.demo(x, y))["input_ids"])
    query = list(tokenizer(template.query(x))["input_ids"])
    shared = 0
    while shared < min(len(full), len(query)) and full[shared] == query[shared]:
        shared += 1
    if shared >= len(full):
        raise ValueError(f"demonstration {template.demo(x, y)!r} has no answer tokens")
    return full, len(full) - shared


def training_batch(
    rows: Sequence[tuple[list[int], int]], row_slot: Sequence[int], pad_id: int, device
) -> TrainingBatch:
    """Right-pad tokenized demonstrations (``(ids, n_answer)`` each) into a training batch."""
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    predicts = torch.zeros((len(rows), width), dtype=torch.bool)
    for r, (ids, n_answer) in enumerate(rows):
        input_ids[r, : len(ids)] = torch.tensor(ids)
        mask[r, : len(ids)] = 1
        predicts[r, len(ids) - n_answer - 1 : len(ids) - 1] = True
    slots = torch.tensor(list(row_slot), dtype=torch.long)
    return TrainingBatch(
        input_ids.to(device), mask.to(device), predicts.to(device), slots.to(device)
    )


# --- adapters -----------------------------------------------------------------------------------


def attention_modules(model: nn.Module) -> list[nn.Module]:
    """Each decoder block's attention module (``self_attn``, ``attn``, ``attention``...)."""
    found = []
    for layer, block in enumerate(decoder_blocks(model)):
        module = next(
            (getattr(block, n) for n in ATTENTION_MODULE_NAMES if hasattr(block, n)), None
        )
        if not isinstance(module, nn.Module):
            raise ValueError(f"{type(model).__name__}: no attention module in block {layer}")
        found.append(module)
    return found


def _in_out_features(module: nn.Module) -> tuple[int, int] | None:
    """``(d_in, d_out)`` of a linear map: ``nn.Linear``, or GPT-2's ``Conv1D`` (weight in x out)."""
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    if type(module).__name__ == "Conv1D" and hasattr(module, "nf"):
        return module.weight.shape[0], module.weight.shape[1]
    return None


def attention_projections(model: nn.Module) -> list[nn.Module]:
    """The linear maps inside every attention module (q/k/v/o or fused), in model order."""
    return [
        child
        for attention in attention_modules(model)
        for child in attention.modules()
        if _in_out_features(child) is not None
    ]


class SlotAdapters:
    """LoRA adapters with a slot dimension: ``A`` ``(slots, d_in, r)``, ``B`` ``(slots, r, d_out)``.

    ``B`` starts at zero (the adapted model starts as the base model); ``A`` is uniform in
    ``±1/sqrt(d_in)``, drawn per slot from ``sha256(seed : key)``. Inside :meth:`applied`, the
    output of projection ``k`` for batch row ``i`` gets ``scale * (x_i @ A[s]) @ B[s]`` with
    ``s = row_slot[i]``.
    """

    def __init__(self, shapes, keys, config: FinetuneConfig, device) -> None:
        self.scale = config.lora_scale
        generators = [
            torch.Generator().manual_seed(derived_seed(config.seed, *k) % 2**63) for k in keys
        ]
        self.down = [
            torch.stack(
                [
                    (torch.rand(d_in, config.lora_rank, generator=g) * 2 - 1) / math.sqrt(d_in)
                    for g in generators
                ]
            ).to(device)
            for d_in, _ in shapes
        ]
        self.up = [
            torch.zeros(len(keys), config.lora_rank, d_out, device=device) for _, d_out in shapes
        ]
        for tensor in self.tensors():
            tensor.requires_grad_(True)
        self.row_slot: torch.Tensor | None = None

    def tensors(self) -> list[torch.Tensor]:
        return [*self.down, *self.up]

    def _hook(self, k: int):
        def hook(module, args, output):
            x = args[0]
            rows = self.row_slot.to(x.device)
            # index_select, not indexing: its backward sums the rows of a slot in row order
            # (index_add); indexing's scatter-add into shared slots depends on thread timing.
            down, up = self.down[k].index_select(0, rows), self.up[k].index_select(0, rows)
            delta = torch.bmm(torch.bmm(x.float(), down), up)
            return output + (self.scale * delta).to(output.dtype)

        return hook

    @contextmanager
    def applied(self, projections, row_slot: torch.Tensor) -> Iterator[None]:
        """Hooks on ``projections`` (:func:`attention_projections` of the model or of its training
        copy) adapting row ``i`` with slot ``row_slot[i]``; removed on exit."""
        self.row_slot = row_slot
        with ExitStack() as stack:
            for k, projection in enumerate(projections):
                stack.callback(projection.register_forward_hook(self._hook(k)).remove)
            yield
        self.row_slot = None


# --- optimisers -------------------------------------------------------------------------------


class SlotOptimizer:
    """SGD or Adam over tensors whose leading dimension is the slot, each slot with its own rate.

    With ``slotted=False`` the tensors have no slot dimension and one rate applies (one job).
    Every update is elementwise, so a slot's trajectory is the one it would have alone.
    """

    def __init__(self, tensors, rates: Sequence[float], config: FinetuneConfig, slotted: bool):
        self.tensors = list(tensors)
        self.config = config
        rate = torch.tensor(list(rates), dtype=torch.float32)
        self.rates = [
            rate.to(t.device).view(-1, *[1] * (t.dim() - 1)) if slotted else float(rate[0])
            for t in self.tensors
        ]
        self.step_count = 0
        self.first = [torch.zeros_like(t) for t in self.tensors]
        self.second = [torch.zeros_like(t) for t in self.tensors]

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor]) -> None:
        self.step_count += 1
        for tensor, grad, rate, m, v in zip(
            self.tensors, grads, self.rates, self.first, self.second, strict=True
        ):
            if self.config.optimizer == "sgd":
                tensor.sub_(rate * grad)
                continue
            beta1, beta2 = self.config.adam_betas
            m.mul_(beta1).add_(grad, alpha=1 - beta1)
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            m_hat = m / (1 - beta1**self.step_count)
            v_hat = v / (1 - beta2**self.step_count)
            tensor.sub_(rate * m_hat / (v_hat.sqrt() + self.config.adam_eps))


# --- training -----------------------------------------------------------------------------------


def vocab_logits(model: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    """Logits ``(n, vocab)`` of final hidden states ``(n, d_model)`` (already through the final
    norm, as ``model.base_model`` returns them), with the model's logit soft-capping."""
    logits = model.get_output_embeddings()(hidden).float()
    cap = getattr(model.config.get_text_config(), "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits


def answer_states(
    model: nn.Module, batch: TrainingBatch
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The final hidden states that predict answer tokens ``(n, d_model)`` (through the final
    norm, as ``model.base_model`` returns them), the tokens they predict ``(n,)`` and their slots
    ``(n,)``.

    Only these ``n`` positions ever go through the (large) unembedding.
    """
    hidden = model.base_model(
        input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False
    ).last_hidden_state
    rows, positions = batch.predicts_answer.nonzero(as_tuple=True)
    return hidden[rows, positions], batch.input_ids[rows, positions + 1], batch.row_slot[rows]


def token_losses(model: nn.Module, states: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy ``(n,)`` of the tokens ``targets`` ``(n,)`` after states ``(n, d_model)``."""
    return F.cross_entropy(vocab_logits(model, states), targets, reduction="none")


def answer_counts(batch: TrainingBatch, n_slots: int) -> torch.Tensor:
    """How many answer tokens each slot's rows hold, ``(n_slots,)`` float."""
    per_row = batch.predicts_answer.sum(1).float()
    return per_row.new_zeros(n_slots).index_add(0, batch.row_slot, per_row)


def slot_loss_shares(model: nn.Module, batch: TrainingBatch, counts: torch.Tensor) -> torch.Tensor:
    """Each slot's summed answer-token losses in ``batch`` over ``counts`` ``(n_slots,)``, its
    answer tokens in the whole step: the shares of a step's passes add up to each slot's mean
    loss ``(n_slots,)``, and their gradients to the gradient of those means."""
    states, targets, slots = answer_states(model, batch)
    losses = token_losses(model, states, targets) / counts[slots]
    return losses.new_zeros(len(counts)).index_add(0, slots, losses)


def slot_losses(model: nn.Module, batch: TrainingBatch, n_slots: int) -> torch.Tensor:
    """Each slot's mean cross-entropy over the answer tokens of its rows, ``(n_slots,)``."""
    return slot_loss_shares(model, batch, answer_counts(batch, n_slots))


def _step_rows(jobs: Sequence[TrainingJob], batch_mode: str) -> list[list[tuple[int, int]]]:
    """For each step of one epoch, the (slot, demo index) rows it trains on."""
    if batch_mode == "all":
        return [[(s, d) for s, job in enumerate(jobs) for d in range(len(job.demos))]]
    lengths = {len(job.demos) for job in jobs}
    if len(lengths) != 1:
        raise ValueError(f"sequential batches need the same number of demos per job, got {lengths}")
    return [[(s, d) for s in range(len(jobs))] for d in range(lengths.pop())]


def _check_epochs(epochs: Sequence[int]) -> list[int]:
    checkpoints = sorted(set(int(e) for e in epochs))
    if not checkpoints or checkpoints[0] < 0:
        raise ValueError(f"checkpoint epochs must be non-negative and not empty, got {epochs}")
    return checkpoints


_TRAINING_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def training_copy(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """A frozen copy of ``model`` in ``dtype`` for LoRA training passes (:func:`cast_copy`, sharing
    the casts that exist already: :func:`known_casts`), kept while ``model`` lives and rebuilt
    when any of its weights changed since (their version counters)."""
    key = (dtype, tuple(p._version for p in model.parameters()))
    if _TRAINING_COPIES.get(model, (None,))[0] != key:
        _TRAINING_COPIES.pop(model, None)  # a stale copy is freed before its successor is built
        copy = cast_copy(model, dtype, known_casts(model, dtype)).eval()
        copy.requires_grad_(False)
        _TRAINING_COPIES[model] = (key, copy)
    return _TRAINING_COPIES[model][1]


def cast_copy(
    model: nn.Module, dtype: torch.dtype, known: Mapping[int, torch.Tensor] | None = None
) -> nn.Module:
    """``deepcopy(model).to(dtype)`` without its full-precision intermediate copy: the deep copy
    takes each floating-point parameter already cast (one cast per tensor: tied weights stay tied),
    so the copy costs its own size only; floating-point buffers are cast after copying. ``known``
    maps ``id(parameter)`` to an existing cast of it, which the copy shares instead of casting."""
    known = known or {}
    memo = {
        id(p): nn.Parameter(
            known[id(p)] if id(p) in known else p.detach().to(dtype, copy=True),
            requires_grad=p.requires_grad,
        )
        for p in model.parameters()
        if p.is_floating_point()
    }
    return deepcopy(model, memo).to(dtype)


def known_casts(model: nn.Module, dtype: torch.dtype) -> dict[int, torch.Tensor]:
    """Casts of ``model``'s parameters to ``dtype`` that exist already, by ``id`` of the parameter:
    the bfloat16 screen of the model's :class:`~taskvectors.engine.vocab_head.VocabHead` is a cast
    of its unembedding (the embedding too, when tied): 320 of a Gemma 3 270M copy's 511 MiB."""
    head = vocab_head.attached(model)
    weight = getattr(model.get_output_embeddings(), "weight", None)
    if head is None or weight is None or head.weight.data_ptr() != weight.data_ptr():
        return {}
    cast = head.cast(dtype)
    return {} if cast is None else {id(weight): cast}


def training_dtype(autocast: str, device_type: str) -> torch.dtype | None:
    """The dtype of the training passes for ``autocast`` on ``device_type`` (None: the model's)."""
    if autocast == "auto":
        return torch.bfloat16 if native_bf16(device_type) else None
    return AUTOCAST_DTYPES[autocast]


class _Trainable:
    """What one chunk trains: slot adapters (``lora``) or the model's own parameters (one job).

    ``train_model`` runs the training passes: the model itself, or its bfloat16 copy (``lora``
    with ``autocast: bfloat16``); ``autocast`` tells whether those passes need ``torch.autocast``.
    """

    def __init__(self, model, jobs, config: FinetuneConfig):
        self.model = model
        self.train_model = model
        self.adapters = None
        dtype = training_dtype(config.autocast, model.device.type)
        self.autocast = dtype if config.params != "lora" else None
        if config.params == "lora":
            if dtype is not None and dtype != next(model.parameters()).dtype:
                self.train_model = training_copy(model, dtype)
            projections = attention_projections(model)
            self.projections = {
                id(model): projections,
                id(self.train_model): attention_projections(self.train_model),
            }
            shapes = [_in_out_features(p) for p in projections]
            self.adapters = SlotAdapters(shapes, [job.key for job in jobs], config, model.device)
            self.tensors = self.adapters.tensors()
        else:
            if len(jobs) != 1:
                raise ValueError(f"params={config.params!r} trains one job at a time")
            source = model if config.params == "all" else nn.ModuleList(attention_modules(model))
            self.tensors = list({id(p): p for p in source.parameters()}.values())
            for tensor in self.tensors:
                tensor.requires_grad_(True)
        self.optimizer = SlotOptimizer(
            self.tensors, [job.learning_rate for job in jobs], config, self.adapters is not None
        )

    @contextmanager
    def applied(self, model: nn.Module, row_slot: torch.Tensor) -> Iterator[None]:
        """The adapters on ``model`` (the model or its training copy), if training adapters."""
        if self.adapters is None:
            yield
        else:
            with self.adapters.applied(self.projections[id(model)], row_slot):
                yield


def _train_step(
    trainable: _Trainable, passes: Sequence[TrainingBatch], n_slots: int
) -> torch.Tensor:
    """One optimiser step on the rows of ``passes``, a forward and backward pass each (the step's
    gradient is their sum); returns each slot's loss before the step ``(n_slots,)``."""
    model = trainable.train_model
    dtype = trainable.autocast
    counts = sum(answer_counts(batch, n_slots) for batch in passes)
    losses = torch.zeros(n_slots, device=model.device)
    grads = [torch.zeros_like(tensor) for tensor in trainable.tensors]
    for batch in passes:
        mixed = torch.autocast(model.device.type, dtype=dtype, enabled=dtype is not None)
        with torch.enable_grad(), trainable.applied(model, batch.row_slot), mixed:
            shares = slot_loss_shares(model, batch, counts)
            pass_grads = torch.autograd.grad(shares.sum(), trainable.tensors)
        losses += shares.detach()
        for grad, pass_grad in zip(grads, pass_grads, strict=True):
            grad += pass_grad
    trainable.optimizer.step(grads)
    return losses.cpu()


def _step_passes(
    rows: Sequence[tuple[int, tuple[str, str]]], tokens, pad_id: int, device
) -> list[TrainingBatch]:
    """The passes of one step on its ``(slot, (x, y))`` rows: the rows sorted by length (stable, so
    the same rows always give the same passes), then consecutive rows, as many as fit in
    :data:`TOKENS_PER_PASS` padded tokens (at least one); ``tokens``: :func:`demo_tokens` of each
    pair.

    Sorting changes nothing but the padding (a step's gradient is the sum of its rows'): rows of
    like length share a pass, so less of it is padding. Measured on 16 test examples' 80
    demonstrations (Gemma 3 tokenizer): fr_en 682 -> 549 padded tokens, country_capital 960 ->
    768; next_letter and gerund, whose demonstrations are all as long, 480 both.
    """
    parts: list[list[tuple[int, tuple[str, str]]]] = [[]]
    width = 0
    for slot, pair in sorted(rows, key=lambda row: len(tokens[row[1]][0])):
        length = len(tokens[pair][0])
        if parts[-1] and (len(parts[-1]) + 1) * max(width, length) > TOKENS_PER_PASS:
            parts.append([])
            width = 0
        parts[-1].append((slot, pair))
        width = max(width, length)
    return [
        training_batch([tokens[pair] for _, pair in part], [s for s, _ in part], pad_id, device)
        for part in parts
    ]


@dataclass
class Plateau:
    """Early stopping's rule: :meth:`stalled` once the loss has not improved on its best (strictly
    lower) for ``patience`` evaluations in a row."""

    patience: int
    best: float = math.inf
    waited: int = 0

    def stalled(self, loss: float) -> bool:
        if loss < self.best:
            self.best, self.waited = loss, 0
        else:
            self.waited += 1
        return self.waited >= self.patience


@torch.no_grad()
def held_out_loss(
    model: nn.Module, trainable: _Trainable, passes: Sequence[TrainingBatch]
) -> float:
    """The jobs' mean loss on their held-out answers (one row per slot), in the model's dtype as
    the answers are computed."""
    n_slots = sum(len(batch.row_slot) for batch in passes)
    counts = sum(answer_counts(batch, n_slots) for batch in passes)
    total = torch.zeros(n_slots, device=model.device)
    for batch in passes:
        with trainable.applied(model, batch.row_slot):
            total += slot_loss_shares(model, batch, counts)
    return float(total.mean())


def _answer(model, tokenizer, template, trainable, jobs, max_new_tokens, keep_logits):
    prompts = [template.zero_shot_prompt(job.query) for job in jobs]
    slots = torch.arange(len(jobs), device=model.device)
    with trainable.applied(model, slots):
        decoded = patching.decode(
            model,
            tokenizer,
            patching.encode(tokenizer, prompts, model.device),
            max_new_tokens=max_new_tokens,
            drop_stopped_rows=False,  # the adapters address rows by batch position
        )
    if keep_logits:
        return decoded
    return patching.Decoded(decoded.tokens, torch.empty(0), decoded.first_tokens, decoded.answers)


def _train_chunk(model, tokenizer, template, jobs, config, checkpoints, tokens, options):
    """Train one chunk of jobs together; answers at each checkpoint epoch, losses per step; with
    ``patience``, stop once the held-out loss stalls (:class:`Plateau`)."""
    max_new_tokens, keep_logits, patience = options
    trainable = _Trainable(model, jobs, config)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    steps = [
        _step_passes([(s, jobs[s].demos[d]) for s, d in rows], tokens, pad_id, model.device)
        for rows in _step_rows(jobs, config.batch)
    ]
    plateau, held_out = None, []
    if patience is not None:
        plateau = Plateau(patience)
        pairs = [(s, (job.query, job.answer)) for s, job in enumerate(jobs)]
        held_out = _step_passes(pairs, tokens, pad_id, model.device)
    decoded, losses = {}, []
    for epoch in range(checkpoints[-1] + 1):
        if epoch > 0:
            losses += [_train_step(trainable, passes, len(jobs)) for passes in steps]
        if epoch in checkpoints:
            decoded[epoch] = _answer(
                model, tokenizer, template, trainable, jobs, max_new_tokens, keep_logits
            )
        evaluated = epoch == 0 or epoch in checkpoints
        if plateau and evaluated and plateau.stalled(held_out_loss(model, trainable, held_out)):
            break
    loss_table = torch.stack(losses, dim=1) if losses else torch.empty(len(jobs), 0)
    return decoded, loss_table


@contextmanager
def _restored(model: nn.Module, config: FinetuneConfig) -> Iterator[None]:
    """Guarantee the base weights after fine-tuning: untouched (``lora``, checked through the
    tensors' version counters) or restored from a saved copy (``attention``/``all``)."""
    params = list({id(p): p for p in model.parameters()}.values())
    if config.params == "lora":
        versions = [p._version for p in params]
        yield
        if [p._version for p in params] != versions:
            raise RuntimeError("LoRA fine-tuning modified the base model's weights")
        return
    saved = [p.detach().clone() for p in params]
    try:
        yield
    finally:
        with torch.no_grad():
            for p, copy in zip(params, saved, strict=True):
                p.copy_(copy)
                p.requires_grad_(False)
    if not all(torch.equal(p, copy) for p, copy in zip(params, saved, strict=True)):
        raise RuntimeError("base weights were not restored after fine-tuning")


def _merge(parts: Sequence[patching.Decoded]) -> patching.Decoded:
    width = max(p.tokens.shape[1] for p in parts)
    tokens = torch.cat([F.pad(p.tokens, (0, width - p.tokens.shape[1]), value=-1) for p in parts])
    logits = [p.first_logits for p in parts if p.first_logits.numel()]
    return patching.Decoded(
        tokens,
        torch.cat(logits) if logits else torch.empty(0),
        [t for p in parts for t in p.first_tokens],
        [a for p in parts for a in p.answers],
    )


def finetune_and_answer(
    model: nn.Module,
    tokenizer,
    template: PromptTemplate,
    jobs: Sequence[TrainingJob],
    config: FinetuneConfig,
    *,
    epochs: Sequence[int],
    max_new_tokens: int = 1,
    chunk_size: int = 16,
    keep_logits: bool = False,
    patience: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> FinetuneResult:
    """Fine-tune a fresh copy of the trainable parameters per job; answer after each epoch in
    ``epochs``.

    ``lora`` jobs train ``chunk_size`` at a time as slots of one batch (``attention``/``all``:
    one at a time). Rows of every result follow ``jobs``. ``on_chunk(n_done)`` reports progress.
    With ``patience``, every job needs its held-out ``answer``, and each chunk stops on its own
    (the module's "Early stopping"): put the jobs that should stop together in one chunk.
    """
    checkpoints = _check_epochs(epochs)
    size = chunk_size if config.params == "lora" else 1
    if patience is not None and any(job.answer is None for job in jobs):
        raise ValueError("early stopping needs every job's held-out answer")
    pairs = [demo for job in jobs for demo in job.demos]
    pairs += [(job.query, job.answer) for job in jobs] if patience is not None else []
    tokens = {pair: demo_tokens(tokenizer, template, *pair) for pair in pairs}
    model_was_training = model.training
    model.eval()
    decoded_parts: dict[int, list[patching.Decoded]] = {e: [] for e in checkpoints}
    loss_parts = []
    for chunk in patching.chunks(jobs, size):
        with _restored(model, config):  # every chunk (one job unless lora) from the base weights
            decoded, losses = _train_chunk(
                model,
                tokenizer,
                template,
                [jobs[i] for i in chunk],
                config,
                checkpoints,
                tokens,
                (max_new_tokens, keep_logits, patience),
            )
        for epoch in decoded:
            decoded_parts[epoch].append(decoded[epoch])
        loss_parts.append(losses)
        if on_chunk is not None:
            on_chunk(chunk.stop)
    model.train(model_was_training)
    n_chunks = len(loss_parts)
    return FinetuneResult(
        {e: _merge(parts) for e, parts in decoded_parts.items() if len(parts) == n_chunks},
        _nan_padded(loss_parts),
    )


def _nan_padded(parts: Sequence[torch.Tensor]) -> torch.Tensor:
    """The chunks' ``(jobs, steps)`` loss tables one under another, NaN after a chunk stopped."""
    width = max(part.shape[1] for part in parts)
    return torch.cat([F.pad(part, (0, width - part.shape[1]), value=math.nan) for part in parts])
