"""Benchmark of the causal indirect effect: batched over heads against one forward per head.

The CIE needs one patched run per head and prompt (Gemma 3 270M: 72 heads; GPT-J: 448). The
authors' code runs each as a full forward. :func:`~taskvectors.engine.heads.indirect_effects` runs
each prompt's prefix once and every head's patch as a row of single-token forwards; this module
measures both on one model and one task, and how far apart their effects are:

* the task's prompts are built with the project's own code (registry, spacing rule, seeded
  examples, paper template): ``n`` clean 10-shot prompts give the mean head outputs, ``n`` others
  with their demonstration outputs shuffled are the corrupted prompts;
* ``naive``: :func:`~taskvectors.engine.heads.indirect_effects_naive`, one full forward of the ``n``
  corrupted prompts per head (``layers × heads + 1`` forwards of ``n`` rows, already kinder than
  one forward per head *and* prompt);
* ``batched``: :func:`~taskvectors.engine.heads.indirect_effects` with ``--batch-rows`` rows per
  forward.

``taskvectors bench fv`` prints the CPU's kind and the figures;
it asserts no time. Beside the measured speed-up it prints the FLOP ratio of the two
(:func:`flop_ratio`), which on a CPU shared with other work is the steadier figure. The top heads
are printed as a sanity check, not as a result.

``taskvectors bench fv --project`` loads no model: it projects the CIE's cost onto the paper's
models on a GPU (:func:`cie_cost`) from the same cost model, with the forwards counted by the
schedule :func:`~taskvectors.engine.heads.indirect_effects` runs
(:func:`~taskvectors.engine.heads.cie_chunks`) and the throughput assumed (:data:`GPU`): a
projection, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from taskvectors.engine.devices import dtype_name
from taskvectors.engine.heads import (
    answer_first_tokens,
    cie_chunks,
    head_shape,
    indirect_effects,
    indirect_effects_naive,
    mean_head_activations,
    shuffled_outputs,
    top_heads,
)
from taskvectors.engine.layers import decoder_blocks
from taskvectors.tasks.prompts import get_template
from taskvectors.tasks.registry import load_pairs, load_registry
from taskvectors.tasks.splits import choose_spacing, make_examples

REPO = Path(__file__).resolve().parents[4]
SEED = 41


def task_prompts(
    tokenizer, task: str, n: int, n_demos: int, data_dir: Path = REPO / "data"
) -> dict[str, Any]:
    """``n`` clean and ``n`` corrupted ICL prompts of ``task``, and the corrupted prompts'
    answer first tokens, built as the pipeline builds prompts (spacing rule, seeded draws)."""
    spec = load_registry(data_dir)[task]
    template = get_template("paper")
    choice = choose_spacing(
        load_pairs(spec, data_dir, template.markers()), tokenizer, template, spec.filter,
        spec.spacing,
    )  # fmt: skip
    examples = make_examples(
        choice.pairs, n_demos=n_demos, n_dev=2 * n, n_test=0, n_dummy=0, seed=SEED,
        task_name=task,
    )  # fmt: skip
    clean, corrupted = examples[:n], examples[n:]
    form = choice.template
    corrupted_prompts = [
        form.icl_prompt(shuffled_outputs(ex.demos, SEED, task, ex.example_id), ex.query)
        for ex in corrupted
    ]
    answers = [ex.answers[0] for ex in corrupted]
    return {
        "clean": [form.icl_prompt(ex.demos, ex.query) for ex in clean],
        "corrupted": corrupted_prompts,
        "targets": answer_first_tokens(tokenizer, form, corrupted_prompts, answers),
        "template": form.name,
    }


def flop_ratio(model, prompt_tokens: float, n_variants: int) -> float:
    """The naive/batched ratio of matrix-product FLOPs per prompt, a model of the speed-up that
    contention on a shared machine cannot blur: a token through the decoder costs ``c = 2 ×``
    the blocks' parameters, a row of logits ``v = 2 × vocab × d_model``; the naive CIE runs
    ``n_variants`` full prompts of ``T`` tokens with one row of logits each, the batched one runs
    the ``T - 1``-token prefix once and ``n_variants`` single-token rows with their logits.
    Attention over the context is left out (small at these lengths)."""
    c = 2 * sum(p.numel() for p in decoder_blocks(model).parameters())
    v = 2 * model.get_output_embeddings().weight.numel()
    naive = n_variants * (prompt_tokens * c + v)
    batched = (prompt_tokens - 1) * c + n_variants * (c + v)
    return naive / batched


@dataclass(frozen=True)
class Architecture:
    """What the CIE's cost depends on: ``n_layers × n_heads`` heads, the stream width, the
    parameters of the decoder blocks (``2 ×`` that many FLOPs per token) and the vocabulary
    (``2 × vocab × d_model`` FLOPs per row of logits)."""

    name: str
    n_layers: int
    n_heads: int
    d_model: int
    block_params: float
    vocab: int

    @property
    def n_variants(self) -> int:
        """Rows per prompt: every head patched, plus the unpatched row."""
        return self.n_layers * self.n_heads + 1

    @property
    def weight_bytes(self) -> float:
        """bfloat16 weights read by one forward (blocks and unembedding)."""
        return 2.0 * (self.block_params + self.vocab * self.d_model)


#: The paper's function-vector models, from their published configs: GPT-J 6B (blocks of
#: ``12 d²``: attention ``4 d²``, MLP ``8 d²``) and LLaMA 13B (attention ``4 d²``, gated MLP
#: ``3 × d × 13824``).
PAPER_MODELS = (
    Architecture("GPT-J 6B", 28, 16, 4096, 28 * 12 * 4096**2, 50400),
    Architecture("LLaMA 13B", 40, 40, 5120, 40 * (4 * 5120**2 + 3 * 5120 * 13824), 32000),
)


@dataclass(frozen=True)
class Gpu:
    """The assumed GPU: sustained bfloat16 matrix throughput (FLOP/s) and memory bandwidth
    (bytes/s); a forward takes the longer of its FLOPs and its weight reads."""

    name: str
    flops: float
    bandwidth: float


#: One A100 80 GB at ~30% of its 312 TFLOP/s bfloat16 peak and ~75% of its 2 TB/s (the
#: README's GPU assumptions).
GPU = Gpu("A100 80 GB (30% of bf16 peak, 1.5 TB/s)", 0.3 * 312e12, 1.5e12)


def _forward_seconds(arch: Architecture, flops: float, gpu: Gpu) -> float:
    return max(flops / gpu.flops, arch.weight_bytes / gpu.bandwidth)


def cie_cost(
    arch: Architecture,
    n_prompts: int,
    prompt_tokens: int,
    batch_rows: int,
    n_mean: int = 0,
    gpu: Gpu = GPU,
) -> dict[str, Any]:
    """The CIE of one task (and the head means over ``n_mean`` clean prompts) on ``arch``.

    Batched (this suite): each chunk of :func:`~taskvectors.engine.heads.cie_chunks` is one prefix
    forward of the ``T - 1``-token prefixes of the prompts it touches and one single-token
    forward of its rows with their logits. Naive (the authors' code): one full forward of
    ``T`` tokens per prompt and head. Attention over the context is left out (small at these
    lengths, as in :func:`flop_ratio`).
    """
    c, v = 2.0 * arch.block_params, 2.0 * arch.vocab * arch.d_model
    seconds, flops = 0.0, 0.0
    chunks = cie_chunks(n_prompts, arch.n_variants, batch_rows)
    for rows in chunks:
        touched = (rows.stop - 1) // arch.n_variants - rows.start // arch.n_variants + 1
        for part in (touched * (prompt_tokens - 1) * c, len(rows) * (c + v)):
            flops += part
            seconds += _forward_seconds(arch, part, gpu)
    mean_forwards = math.ceil(n_mean / 16)  # mean_head_activations' batches of 16 prompts
    mean_flops = n_mean * (prompt_tokens * c + v)
    naive_each = prompt_tokens * c + v
    naive_forwards = n_prompts * arch.n_variants
    return {
        "model": arch.name,
        "heads": arch.n_layers * arch.n_heads,
        "forwards": 2 * len(chunks),
        "flops": flops,
        "seconds": seconds,
        "mean_seconds": (
            mean_forwards * _forward_seconds(arch, mean_flops / mean_forwards, gpu)
            if mean_forwards
            else 0.0
        ),
        "naive_forwards": naive_forwards,
        "naive_flops": naive_forwards * naive_each,
        "naive_seconds": naive_forwards * _forward_seconds(arch, naive_each, gpu),
    }


def default_sizes() -> tuple[int, int]:
    """This suite's default ``(n_cie, n_mean)``, read from the analysis's config slice."""
    from taskvectors.analyses import get

    properties = get("function_vectors").schema["properties"]
    return properties["n_cie"]["default"], properties["n_mean"]["default"]


def projection_table(
    sizes: dict[str, tuple[int, int, int]], batch_rows: int, gpu: Gpu = GPU
) -> str:
    """The projection of :func:`cie_cost` for :data:`PAPER_MODELS` at each of ``sizes``
    (``label: (corrupted prompts, clean prompts, prompt tokens)``), as a markdown table."""
    lines = [
        f"GPU assumed: {gpu.name}; batch_rows {batch_rows}; per task",
        "",
        "| model | heads | sizes | batched forwards | batched CIE | head means | one forward per "
        "head and prompt |",
        "|---|---|---|---|---|---|---|",
    ]
    for arch in PAPER_MODELS:
        for label, (n_prompts, n_mean, tokens) in sizes.items():
            cost = cie_cost(arch, n_prompts, tokens, batch_rows, n_mean, gpu)
            lines.append(
                f"| {arch.name} | {cost['heads']:,} | {label} | {cost['forwards']:,} | "
                f"{cost['seconds']:.1f} s | {cost['mean_seconds']:.2f} s | "
                f"{cost['naive_forwards']:,} forwards, {cost['naive_seconds']:.0f} s |"
            )
    return "\n".join(lines)


def _timed(function) -> tuple[Any, float]:
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def run_bench(
    model, tokenizer, task: str, n_prompts: int, n_demos: int, batch_rows: int, repeats: int
) -> dict[str, Any]:
    """Every figure of the benchmark for one loaded model, as a flat JSON-ready dict."""
    prompts = task_prompts(tokenizer, task, n_prompts, n_demos)
    shape = head_shape(model)
    means, means_s = _timed(lambda: mean_head_activations(model, tokenizer, prompts["clean"]))
    args = (model, tokenizer, prompts["corrupted"], prompts["targets"], means)
    indirect_effects(*args[:2], prompts["corrupted"][:1], prompts["targets"][:1], means)  # warm-up
    batched_s, batched = float("inf"), None
    for _ in range(max(1, repeats)):
        batched, seconds = _timed(lambda: indirect_effects(*args, batch_rows=batch_rows))
        batched_s = min(batched_s, seconds)
    naive, naive_s = _timed(lambda: indirect_effects_naive(*args))
    mean_effect = batched.mean(0)
    lengths = [len(tokenizer(p)["input_ids"]) for p in prompts["corrupted"]]
    return {
        "task": task,
        "template": prompts["template"],
        "n_prompts": n_prompts,
        "n_demos": n_demos,
        "prompt_tokens_mean": sum(lengths) / len(lengths),
        "layers_x_heads": f"{shape.n_layers} x {shape.n_heads} = {shape.n_layers * shape.n_heads}",
        "head_dim": shape.head_dim,
        "dtype": dtype_name(next(model.parameters()).dtype),
        "threads": torch.get_num_threads(),
        "batch_rows": batch_rows,
        "mean_activations_seconds": means_s,
        "naive_forwards": shape.n_layers * shape.n_heads + 1,
        "naive_seconds": naive_s,
        "batched_seconds": batched_s,
        "batched_repeats": repeats,
        "speedup_naive_over_batched": naive_s / batched_s,
        "flop_ratio_naive_over_batched": flop_ratio(
            model, sum(lengths) / len(lengths), shape.n_layers * shape.n_heads + 1
        ),
        "max_abs_effect_diff": float((batched - naive).abs().max()),
        "max_abs_effect": float(naive.abs().max()),
        "top_heads": [
            [layer, head, round(float(mean_effect[layer, head]), 4)]
            for layer, head in top_heads(mean_effect, 5)
        ],
    }


def format_table(result: dict[str, Any]) -> str:
    """The figures as a two-column plain-text table."""
    rows = [
        ("model", result.get("model", "")),
        ("task (template)", f"{result['task']} ({result['template']})"),
        ("prompts × demos", f"{result['n_prompts']} × {result['n_demos']}"),
        ("mean prompt length", f"{result['prompt_tokens_mean']:.0f} tokens"),
        ("layers × heads", result["layers_x_heads"]),
        ("head_dim", result["head_dim"]),
        ("dtype, torch threads", f"{result['dtype']}, {result['threads']}"),
        ("mean head activations", f"{result['mean_activations_seconds']:.2f} s"),
        ("naive CIE (forwards)", f"{result['naive_seconds']:.2f} s ({result['naive_forwards']})"),
        (
            f"batched CIE (batch_rows {result['batch_rows']})",
            f"{result['batched_seconds']:.2f} s (best of {result['batched_repeats']})",
        ),
        ("speed-up naive / batched", f"{result['speedup_naive_over_batched']:.1f}×"),
        ("FLOP ratio naive / batched", f"{result['flop_ratio_naive_over_batched']:.1f}×"),
        ("max |CIE difference|", f"{result['max_abs_effect_diff']:.2e}"),
        ("max |CIE|", f"{result['max_abs_effect']:.2e}"),
        ("top heads (layer, head, CIE)", result["top_heads"]),
    ]
    return "\n".join(f"{label:<34} {value}" for label, value in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="gemma-3-270m", help="embedded alias or config alias")
    parser.add_argument("--config", type=Path, help="config whose models: mapping names --model")
    parser.add_argument("--dtype", help="override the model's dtype (auto, float32, bfloat16)")
    parser.add_argument("--task", default="linguistic_antonyms")
    parser.add_argument("--prompts", type=int, default=5, help="clean and corrupted prompts each")
    parser.add_argument("--demos", type=int, default=10, help="demonstrations per prompt")
    parser.add_argument("--batch-rows", type=int, default=128, help="rows per batched forward")
    parser.add_argument("--repeats", type=int, default=2, help="batched runs (the best is kept)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--project", action="store_true",
        help="load no model: project the CIE's cost onto GPT-J 6B and LLaMA 13B on a GPU "
        "(this suite's sizes and the authors')",
    )  # fmt: skip
    parser.add_argument(
        "--prompt-tokens", type=int, nargs=2, default=(40, 70), metavar=("SUITE", "AUTHORS"),
        help="with --project: prompt lengths of this suite's 5-shot and the authors' 10-shot "
        "prompts",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.project:
        suite, authors = args.prompt_tokens
        n_cie, n_mean = default_sizes()
        sizes = {
            f"this suite: {n_cie} corrupted, {n_mean} clean, ~{suite} tokens": (
                n_cie,
                n_mean,
                suite,
            ),
            f"authors: 25 corrupted, 100 clean, ~{authors} tokens": (25, 100, authors),
        }
        print(projection_table(sizes, args.batch_rows))
        return 0
    from taskvectors.cli.main import model_spec
    from taskvectors.engine.devices import cpu_kind, describe_cpu_kind
    from taskvectors.engine.models import load_model, resolve_model

    kind = cpu_kind()  # before the model loads: the probe runs on an idle process
    spec = model_spec(args.model, args.config)
    if args.dtype:
        spec = replace(spec, dtype=args.dtype)
    model, tokenizer = load_model(resolve_model(spec))
    figures = run_bench(
        model, tokenizer, args.task, args.prompts, args.demos, args.batch_rows, args.repeats
    )
    result = {"model": args.model, **kind, **figures}
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(describe_cpu_kind(kind))
        print(format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
