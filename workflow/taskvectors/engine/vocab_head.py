"""The unembedding as a matrix: logits and exact greedy tokens from final-normed hidden states.

Greedy decoding only needs the argmax of each row's logits, yet on a CPU the float32 vocabulary
projection dominates a small model's step: Gemma 3 270M's 262k × 640 unembedding costs more than
its 18 decoder blocks per token. CPUs with native bfloat16 multiply about 5x faster in bfloat16,
so :meth:`VocabHead.greedy` screens the vocabulary in bfloat16 and rescores in float32 only the
tokens that a proven error bound cannot rule out:

* the screened score ``s_v`` of token ``v`` differs from its float32 logit ``l_v`` by at most
  ``B = (4u + d·2⁻²⁴)·Σ_i |h_i|·|w_vi|`` (``u = 2⁻⁸``: rounding of ``h``, ``w`` and of the bf16
  result; float32 accumulation over ``d``), and ``Σ_i |h_i||w_vi| ≤ ‖h‖₂ · max_v ‖w_v‖₂``;
* the float32 argmax ``v*`` therefore has ``s_v* ≥ l_v* − B ≥ l_argmax(s) − B ≥ max(s) − 2B``.

Every token with ``s_v ≥ max(s) − 2B`` is rescored exactly (typically 5-20 of 262k) and the first
of the largest wins, as ``argmax`` breaks ties. The answer is the float32 argmax, up to the order of
float32 summation (which already differs between batch sizes).

CPUs without native bfloat16 (:func:`taskvectors.engine.precision.native_bf16`) get no screen: there
a bfloat16 product is ~130x slower than the float32 projection it would replace. Exact float32
screens with fewer FLOPs were measured and not kept for them:

* projecting onto the top-r right singular vectors of Gemma 3's unembedding and bounding the rest
  by ``‖w_v⊥‖·‖h⊥‖`` rules out no token at any rank up to r = 320 of 640 (real final-normed hidden
  states keep 89-95% of their norm outside that subspace, ``‖h‖ ≈ 94`` against a top-1/top-2
  logit margin of ~0.9);
* the principal directions of the call's own hidden states do rule tokens out (on the 209-247-row
  batches of to_upper's and fr_en's layer sweeps, a mean of 2-23 candidates per row at rank 96,
  4-194 at rank 64, a median of thousands at 32), but projecting the weight onto them costs as much
  as 64-96 rows: 10-30% faster than the tiles below on those batches only, and a basis kept from
  earlier calls rules out nothing on fr_en.

What the float32 path does instead is feed the product better. One ``(rows, 262k)`` product of
18-247 rows ran at 47-118 GFLOP/s in ``run_task`` on 2 threads of a Zen 4 (the decoder blocks'
products at 160-190): the 671 MB weight streams from memory and the score matrix fits in no cache.
Tiles of :data:`ARGMAX_TILE` vocabulary rows keep each tile's scores in cache and fold a running
maximum (:func:`tiled_first_argmax`); measured (``taskvectors bench vocab``), 1.2-1.5x faster for
2-256 rows on 2 threads and 1.1-1.7x on 1 thread, and 0.9x for a single row, which keeps one
product. Tiles are for float32 CPU weights only: bfloat16 weights gained nothing from them on a CPU
with native bfloat16, and a GPU keeps one product (not measured there).

A head is attached to a model when :func:`taskvectors.engine.models.load_model` loads it, and only
when it reproduces the model's own logits on a probe input: a causal LM whose forward scales or
post-processes its logits in a way not captured here, a head with a bias or offloaded weights, and
any model not loaded that way (tiny test models, training copies) keep the model's own forward in
:mod:`taskvectors.engine.patching`. The head reads the model's weight tensor, not a copy; its
bfloat16 screen is rebuilt when that weight is changed in place (fine-tuning all parameters).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
from torch import nn

from taskvectors.engine.precision import native_bf16

#: Vocabularies at least this large are screened in bfloat16 (below it float32 is cheap).
SCREEN_MIN_VOCAB = 32768
#: Rows screened at a time (bounds the ``(rows, vocab)`` bfloat16 scores).
SCREEN_ROWS = 256
#: Vocabulary rows per tile of the float32 CPU argmax (:func:`tiled_first_argmax`): 2048 × 640
#: float32 is 5 MB of weight and 2 MB of scores for 256 rows (measured best of 1k-64k tokens).
ARGMAX_TILE = 2048
_UNIT_ROUNDOFF = 2.0**-8
_HEADS: weakref.WeakKeyDictionary[nn.Module, VocabHead | None] = weakref.WeakKeyDictionary()


@dataclass
class VocabHead:
    """``logits = softcap(hidden @ weight.T)``, with an optional bfloat16 copy for screening.

    ``weight`` is ``(vocab, d_model)``; ``max_row_norm`` the largest L2 norm of its rows;
    ``version`` the weight's in-place version counter when ``screen`` and ``max_row_norm`` were
    made.
    """

    weight: torch.Tensor
    softcap: float | None
    screen: torch.Tensor | None = None
    max_row_norm: float = 0.0
    version: int = -1

    def __post_init__(self) -> None:
        self._refresh()

    def _refresh(self) -> None:
        """(Re)make the screen and norms if the weight changed since they were made."""
        if self.version != self.weight._version:
            self.screen = _screen_copy(self.weight)
            self.max_row_norm = 0.0 if self.screen is None else _max_row_norm(self.weight)
            self.version = self.weight._version

    def logits(self, normed: torch.Tensor) -> torch.Tensor:
        """Float32 logits ``(k, vocab)`` of final-normed hidden states ``(k, d_model)``."""
        hidden = normed.to(self.weight.device, self.weight.dtype)
        logits = nn.functional.linear(hidden, self.weight).float()
        return torch.tanh(logits / self.softcap) * self.softcap if self.softcap else logits

    def greedy(self, normed: torch.Tensor) -> torch.Tensor:
        """Greedy token ids ``(k,)`` of final-normed hidden states ``(k, d_model)``.

        The softcap ``c·tanh(z/c)`` is increasing, so the argmax is taken on the raw products ``z``
        (in the weight's dtype: a bfloat16 model's own logits are bfloat16 too).
        """
        self._refresh()
        if len(normed) == 0:
            return torch.zeros(0, dtype=torch.long, device=self.weight.device)
        hidden = normed.to(self.weight.device, self.weight.dtype)
        # Rows in chunks: the scores are (rows, vocab), 0.5 GB for 1000 rows of Gemma 3.
        argmax = self._raw_argmax if self.screen is None else self._screened_argmax
        return torch.cat([argmax(part) for part in hidden.split(SCREEN_ROWS)])

    def cast(self, dtype: torch.dtype) -> torch.Tensor | None:
        """The weight in ``dtype`` if the head holds that cast of its current weight (the bfloat16
        screen), else None: a caller that needs the cast reuses it instead of making another."""
        self._refresh()
        return self.screen if self.screen is not None and self.screen.dtype == dtype else None

    def _raw_argmax(self, hidden: torch.Tensor) -> torch.Tensor:
        cpu_float32 = self.weight.dtype == torch.float32 and self.weight.device.type == "cpu"
        if cpu_float32 and len(hidden) > 1:  # one row: a matrix-vector product, faster whole
            return tiled_first_argmax(hidden, self.weight, ARGMAX_TILE)
        return one_product_argmax(hidden, self.weight)

    def _screened_argmax(self, hidden: torch.Tensor) -> torch.Tensor:
        screened = hidden.to(torch.bfloat16) @ self.screen.T  # (k, vocab)
        threshold = screened.max(-1).values.float() - 2 * self._error_bound(hidden)
        threshold -= threshold.abs() * _UNIT_ROUNDOFF  # the bfloat16 cast below may round up
        rows, tokens = (screened >= threshold.to(torch.bfloat16)[:, None]).nonzero(as_tuple=True)
        exact = (hidden[rows] * self.weight[tokens]).sum(-1).float()
        if self.softcap:
            exact = torch.tanh(exact / self.softcap) * self.softcap
        best = hidden.new_full((len(hidden),), -torch.inf, dtype=torch.float32)
        best = best.scatter_reduce(0, rows, exact, "amax")
        is_best = exact == best[rows]
        first = rows.new_full((len(hidden),), self.weight.shape[0])
        return first.scatter_reduce(0, rows[is_best], tokens[is_best], "amin")

    def _error_bound(self, hidden: torch.Tensor) -> torch.Tensor:
        """``B`` ``(k,)``: the largest ``|s_v - l_v|`` over the vocabulary for each row, with
        ``Σ_i |h_i||w_vi| ≤ ‖h‖₂ · max_v ‖w_v‖₂`` (Cauchy-Schwarz)."""
        magnitude = hidden.norm(dim=-1).float() * self.max_row_norm
        return (4 * _UNIT_ROUNDOFF + hidden.shape[-1] * 2.0**-24) * magnitude


def first_argmax(scores: torch.Tensor) -> torch.Tensor:
    """``scores.argmax(-1)``, the first index of each row's maximum, through ``max(-1)``: on a CPU
    ``argmax`` over 262k-wide rows is about 5x slower (measured: 114 against 21 ms for 256 bfloat16
    rows of Gemma 3's vocabulary) and ``max`` returns the same first index on ties."""
    return scores.max(-1).indices


def one_product_argmax(hidden: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``first_argmax(hidden @ weight.T)`` ``(k,)`` through one ``(k, vocab)`` product."""
    return first_argmax(nn.functional.linear(hidden, weight))


def tiled_first_argmax(hidden: torch.Tensor, weight: torch.Tensor, tile: int) -> torch.Tensor:
    """``first_argmax(hidden @ weight.T)`` ``(k,)`` for ``hidden`` ``(k, d)`` and ``weight``
    ``(vocab, d)``, computed ``tile`` vocabulary rows at a time.

    Each score is the same dot product as in one big product; a later tile takes over a row only
    with a strictly larger score (or the row's first NaN, which ``max`` also ranks first), so ties
    keep the lowest token id, as ``argmax`` does.
    """
    best = hidden.new_full((len(hidden),), -torch.inf, dtype=weight.dtype)
    index = torch.zeros(len(hidden), dtype=torch.long, device=hidden.device)
    for start in range(0, weight.shape[0], tile):
        values, indices = nn.functional.linear(hidden, weight[start : start + tile]).max(-1)
        better = (values > best) | (values.isnan() & ~best.isnan())
        best = torch.where(better, values, best)
        index = torch.where(better, indices + start, index)
    return index


def attach(model: nn.Module) -> VocabHead | None:
    """Build the model's :class:`VocabHead` and keep it for :func:`attached` if it reproduces the
    model's logits (one two-token probe forward); None otherwise."""
    head = _build(model)
    _HEADS[model] = head
    return head


def attached(model: nn.Module) -> VocabHead | None:
    """The head :func:`attach` kept for this model, or None."""
    return _HEADS.get(model)


def _build(model: nn.Module) -> VocabHead | None:
    output = model.get_output_embeddings()
    weight = getattr(output, "weight", None)
    if not isinstance(output, nn.Linear) or output.bias is not None or weight is None:
        return None
    if weight.device.type == "meta":
        return None
    cap = getattr(model.config.get_text_config(), "final_logit_softcapping", None)
    head = VocabHead(weight.detach(), cap)
    return head if _reproduces_model(model, head) else None


def _screen_copy(weight: torch.Tensor) -> torch.Tensor | None:
    """A bfloat16 copy of a large float32 CPU weight when the CPU multiplies bfloat16 natively."""
    if weight.dtype != torch.float32 or weight.device.type != "cpu":
        return None
    if weight.shape[0] < SCREEN_MIN_VOCAB or not native_bf16("cpu"):
        return None
    return weight.to(torch.bfloat16)


def _max_row_norm(weight: torch.Tensor) -> float:
    """The largest L2 norm of the rows of ``weight`` ``(vocab, d_model)``."""
    return float(torch.linalg.vector_norm(weight, dim=-1).max())


@torch.no_grad()
def _reproduces_model(model: nn.Module, head: VocabHead) -> bool:
    """Whether ``head.logits`` of the base model's last hidden state equals the model's logits on a
    two-token probe, and ``head.greedy`` its argmax."""
    device = head.weight.device
    ids = torch.tensor([[0, min(1, head.weight.shape[0] - 1)]], device=device)
    mask = torch.ones_like(ids)
    own = model(input_ids=ids, attention_mask=mask).logits[:, -1].float()
    hidden = model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state[:, -1]
    ours = head.logits(hidden)
    scale = float(own.abs().max()) + 1.0
    same = torch.allclose(ours, own, rtol=1e-3, atol=1e-3 * scale)
    return same and bool((head.greedy(hidden) == own.argmax(-1)).all())
