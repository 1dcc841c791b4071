"""Benchmark of the layer sweep: is the cached sweep worth it, and how much room is left?

Choosing the layer is the costliest part of the method: every dev example is patched at every
layer. :func:`taskvectors.engine.patching.sweep_layers` runs each zero-shot prompt's prefix once and
all ``n_layers`` variants as single-token forwards against its key/value cache, instead of
``n_layers`` full forwards (:func:`~taskvectors.engine.patching.sweep_layers_naive`). This module
measures, on one model and in one run:

* the bare forward throughput of the zero-shot prompts (tokens/s), for scale;
* the naive and the optimised sweep over all layers, their ratio, and whether they agree;
* the floor: the same number of single-token forwards against an already computed prefix cache,
  with no patching and no decoding. The optimised sweep can only approach it, so the
  optimised/floor ratio is the overhead left to remove;
* the sweep as the pipeline runs it: greedy tokens only, no first-step logits, so a model with an
  attached vocabulary head (:mod:`taskvectors.engine.vocab_head`) skips the float32 projection. It
  must give the naive sweep's tokens; it can beat the floor, which projects every row.

The sweep set is built in code (country → capital, the paper's template), so the benchmark needs
no data files and no pipeline run.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import nn

from taskvectors.engine import patching
from taskvectors.engine.devices import dtype_name
from taskvectors.engine.layers import decoder_blocks

T = TypeVar("T")

CAPITALS = (
    ("France", "Paris"), ("Japan", "Tokyo"), ("Italy", "Rome"), ("Germany", "Berlin"),
    ("Spain", "Madrid"), ("Russia", "Moscow"), ("Egypt", "Cairo"), ("Greece", "Athens"),
    ("Poland", "Warsaw"), ("Austria", "Vienna"), ("Ireland", "Dublin"), ("Sweden", "Stockholm"),
    ("Thailand", "Bangkok"), ("Belgium", "Brussels"), ("Peru", "Lima"), ("Cuba", "Havana"),
    ("Netherlands", "Amsterdam"), ("China", "Beijing"), ("Kenya", "Nairobi"), ("Iran", "Tehran"),
    ("Hungary", "Budapest"), ("Norway", "Oslo"), ("Portugal", "Lisbon"), ("Finland", "Helsinki"),
    ("Denmark", "Copenhagen"), ("Chile", "Santiago"), ("Turkey", "Ankara"), ("Canada", "Ottawa"),
    ("Mexico", "Mexico City"), ("Argentina", "Buenos Aires"), ("India", "New Delhi"),
)  # fmt: skip
N_DEMOS = 5
N_DUMMIES = 2
#: Largest first-step logit difference between the naive and the cached sweep that counts as
#: agreement: float32 sums in another order, or 16-bit rounding (bfloat16 keeps 8 bits of mantissa,
#: a step of 0.125 at Gemma's logits of 16-32, and the two sweeps round at different places).
LOGIT_ATOL = {torch.float32: 1e-3, torch.bfloat16: 0.5, torch.float16: 0.1}


@dataclass(frozen=True)
class SweepSet:
    """Zero-shot prompts, each with the dummy prompts ``[S, x']`` its task vector comes from."""

    prompts: list[str]
    dummy_prompts: list[list[str]]


def _prompt(demos: Sequence[tuple[str, str]], query: str) -> str:
    return "\n".join([*(f"example:{x}->{y}" for x, y in demos), f"example:{query}->"])


def sweep_set(n_examples: int) -> SweepSet:
    """``n_examples`` capital queries (cycling if more than the list holds) with 5 fixed demos."""
    demos, pool = CAPITALS[:N_DEMOS], CAPITALS[N_DEMOS:]
    queries = [pool[i % len(pool)][0] for i in range(n_examples)]
    dummies = [
        [pool[(i + k) % len(pool)][0] for k in range(1, N_DUMMIES + 1)] for i in range(n_examples)
    ]
    return SweepSet(
        prompts=[_prompt([], query) for query in queries],
        dummy_prompts=[[_prompt(demos, dummy) for dummy in group] for group in dummies],
    )


def best_time(function: Callable[[], T], repeats: int) -> tuple[T, float]:
    """The last result of ``function`` and its fastest wall time over ``repeats`` calls."""
    best, result = float("inf"), None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return result, best


@torch.no_grad()
def forward_throughput(
    model: nn.Module, tokenizer, prompts: Sequence[str], repeats: int
) -> dict[str, float]:
    """Full forward passes of ``prompts`` as one batch (logits at the last position only)."""
    batch = patching.encode(tokenizer, prompts, model.device)
    _, seconds = best_time(
        lambda: patching._forward(model, batch.input_ids, batch.attention_mask), repeats
    )
    tokens = int(batch.attention_mask.sum())
    return {
        "forward_tokens": tokens,
        "forward_seconds": seconds,
        "forward_tokens_per_s": tokens / seconds,
    }


@torch.no_grad()
def floor_seconds(
    model: nn.Module, tokenizer, prompts: Sequence[str], n_variants: int, repeats: int
) -> float:
    """Time of ``len(prompts) * n_variants`` single-token forwards against a ready prefix cache."""
    batch = patching.encode(tokenizer, prompts, model.device)
    best = float("inf")
    for _ in range(max(1, repeats)):
        prefix = patching._forward(
            model, batch.input_ids[:, :-1], batch.attention_mask[:, :-1], use_cache=True
        )
        cache = prefix.past_key_values
        cache.batch_repeat_interleave(n_variants)
        last = batch.input_ids[:, -1:].repeat_interleave(n_variants, dim=0)
        mask = batch.attention_mask.repeat_interleave(n_variants, dim=0)
        start = time.perf_counter()
        patching._forward(model, last, mask, past=cache)
        best = min(best, time.perf_counter() - start)
    return best


def sweeps_agree(
    naive: patching.Decoded, fast: patching.Decoded, dtype: torch.dtype = torch.float32
) -> dict[str, Any]:
    """Identical tokens and first-step logits equal within :data:`LOGIT_ATOL` of ``dtype``."""
    diff = float((naive.first_logits - fast.first_logits).abs().max())
    tokens_equal = bool(torch.equal(naive.tokens, fast.tokens))
    return {
        "agree": tokens_equal and diff <= LOGIT_ATOL[dtype],
        "tokens_equal": tokens_equal,
        "max_abs_logit_diff": diff,
    }


def run_bench(
    model: nn.Module, tokenizer, n_examples: int = 16, repeats: int = 3
) -> dict[str, Any]:
    """Every figure of the benchmark for one loaded model, as a flat JSON-ready dict."""
    sweep = sweep_set(n_examples)
    n_layers = len(decoder_blocks(model))
    layers = list(range(n_layers))
    vectors = patching.task_vectors(model, tokenizer, sweep.dummy_prompts)  # also warms up

    def run(sweep_function) -> patching.Decoded:
        return sweep_function(
            model, tokenizer, sweep.prompts, vectors, layers, include_unpatched=False
        )

    naive, naive_s = best_time(lambda: run(patching.sweep_layers_naive), repeats)
    fast, fast_s = best_time(lambda: run(patching.sweep_layers), repeats)
    greedy, greedy_s = best_time(
        lambda: run(functools.partial(patching.sweep_layers, keep_first_logits=False)), repeats
    )
    floor_s = floor_seconds(model, tokenizer, sweep.prompts, n_layers, repeats)
    dtype = next(model.parameters()).dtype
    return {
        "n_layers": n_layers,
        "n_examples": n_examples,
        "n_rows": n_examples * n_layers,
        "threads": torch.get_num_threads(),
        "dtype": dtype_name(dtype),
        "repeats": repeats,
        **forward_throughput(model, tokenizer, sweep.prompts, repeats),
        "naive_sweep_seconds": naive_s,
        "optimised_sweep_seconds": fast_s,
        "floor_seconds": floor_s,
        "speedup_naive_over_optimised": naive_s / fast_s,
        "optimised_over_floor": fast_s / floor_s,
        "greedy_sweep_seconds": greedy_s,
        "speedup_naive_over_greedy": naive_s / greedy_s,
        "greedy_tokens_equal": bool(torch.equal(naive.tokens, greedy.tokens)),
        **sweeps_agree(naive, fast, dtype),
    }


TABLE_ROWS = (
    ("model", "model", "{}"),
    ("layers × examples = rows", None, None),
    ("torch threads", "threads", "{}"),
    ("dtype", "dtype", "{}"),
    ("bare forward (zero-shot prompts)", "forward_tokens_per_s", "{:,.0f} tokens/s"),
    ("naive sweep (one forward per layer)", "naive_sweep_seconds", "{:.3f} s"),
    ("optimised sweep (cached prefix)", "optimised_sweep_seconds", "{:.3f} s"),
    ("floor (single-token forwards only)", "floor_seconds", "{:.3f} s"),
    ("speed-up naive / optimised", "speedup_naive_over_optimised", "{:.2f}×"),
    ("overhead optimised / floor", "optimised_over_floor", "{:.2f}×"),
    ("pipeline sweep (greedy tokens only)", "greedy_sweep_seconds", "{:.3f} s"),
    ("speed-up naive / pipeline sweep", "speedup_naive_over_greedy", "{:.2f}×"),
    ("pipeline sweep tokens = naive tokens", "greedy_tokens_equal", "{}"),
    ("sweeps agree", "agree", "{}"),
    ("max |logit diff|", "max_abs_logit_diff", "{:.2e}"),
)


def format_table(result: dict[str, Any]) -> str:
    """The benchmark as a two-column plain-text table."""
    lines = []
    for label, key, fmt in TABLE_ROWS:
        if key is None:
            value = f"{result['n_layers']} × {result['n_examples']} = {result['n_rows']}"
        elif key in result:
            value = fmt.format(result[key])
        else:
            continue
        lines.append(f"{label:<38} {value}")
    return "\n".join(lines)
