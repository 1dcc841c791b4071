"""Benchmark of the float32 greedy argmax over the vocabulary: one product against tiles.

On a CPU without native bfloat16 every greedy token of a model with a large vocabulary pays the
float32 projection onto the whole vocabulary (262k tokens for Gemma 3), and one ``(rows, vocab)``
product runs far below the throughput of the decoder blocks' products.
:func:`taskvectors.engine.vocab_head.tiled_first_argmax` takes the argmax tile by tile instead.
This benchmark times both on the model's own unembedding, for the row counts the pipeline projects
(one row per example of a decode step, up to ``SCREEN_ROWS`` rows of a layer sweep), checks that
they give the same tokens, and prints the CPU's kind first. Hidden states are random (the time of a
product does not depend on its values).

    taskvectors bench vocab gemma-3-270m --rows 16 50 128 256 --threads 2
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections.abc import Sequence

import torch

from taskvectors.engine import vocab_head

ROW_COUNTS = (1, 16, 50, 128, 256)


def median_seconds(work, repeats: int) -> float:
    """Median wall time of ``repeats`` calls after one warm-up call."""
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


@torch.no_grad()
def bench_vocab(
    weight: torch.Tensor, row_counts: Sequence[int], tile: int, repeats: int, seed: int = 0
) -> list[dict]:
    """Per row count: milliseconds of one product and of tiles of ``tile`` tokens, their GFLOP/s,
    the speed-up, and whether both gave the same tokens; ``weight`` is ``(vocab, d_model)``."""
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for count in row_counts:
        hidden = torch.randn(count, weight.shape[1], generator=generator).to(weight.dtype)
        same = torch.equal(
            vocab_head.one_product_argmax(hidden, weight),
            vocab_head.tiled_first_argmax(hidden, weight, tile),
        )
        one = median_seconds(
            functools.partial(vocab_head.one_product_argmax, hidden, weight), repeats
        )
        tiled = median_seconds(
            functools.partial(vocab_head.tiled_first_argmax, hidden, weight, tile), repeats
        )
        gflop = 2 * count * weight.shape[0] * weight.shape[1] / 1e9
        rows.append({
            "rows": count, "one_product_ms": one * 1e3, "tiled_ms": tiled * 1e3,
            "one_product_gflops": gflop / one, "tiled_gflops": gflop / tiled,
            "speedup": one / tiled, "same_tokens": same,
        })  # fmt: skip
    return rows


def format_vocab_bench(result: dict) -> str:
    lines = [
        f"greedy argmax over {result['vocab']} tokens (d_model {result['d_model']}, "
        f"{result['dtype']}, {result['threads']} threads, tiles of {result['tile']}), median ms:",
        f"  {'rows':>5} {'one product':>12} {'tiled':>8} {'GFLOP/s':>15} {'speed-up':>9} same",
    ]
    for row in result["rows"]:
        gflops = f"{row['one_product_gflops']:.0f} -> {row['tiled_gflops']:.0f}"
        lines.append(
            f"  {row['rows']:5d} {row['one_product_ms']:12.1f} {row['tiled_ms']:8.1f} "
            f"{gflops:>15} {row['speedup']:8.2f}x {'yes' if row['same_tokens'] else 'NO'}"
        )
    return "\n".join(lines)


def model_weight(alias: str) -> torch.Tensor:
    """The float32 unembedding of the embedded model ``alias`` (prepared if needed)."""
    from taskvectors.engine.models import ModelSpec, load_model, resolve_model

    spec = ModelSpec.from_config(alias, {"source": "embedded", "dtype": "float32"})
    model, _ = load_model(resolve_model(spec))
    return model.get_output_embeddings().weight.detach()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="taskvectors bench vocab", description=__doc__)
    parser.add_argument("model", nargs="?", default="gemma-3-270m", help="embedded model alias")
    parser.add_argument("--rows", type=int, nargs="+", default=list(ROW_COUNTS))
    parser.add_argument("--tile", type=int, default=vocab_head.ARGMAX_TILE)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    from taskvectors.engine.devices import cpu_kind, describe_cpu_kind

    torch.set_num_threads(args.threads)
    kind = cpu_kind()
    weight = model_weight(args.model)
    result = {
        "model": args.model, **kind, "vocab": weight.shape[0], "d_model": weight.shape[1],
        "dtype": str(weight.dtype).removeprefix("torch."), "threads": args.threads,
        "tile": args.tile, "rows": bench_vocab(weight, args.rows, args.tile, args.repeats),
    }  # fmt: skip
    if args.json:
        print(json.dumps(result))
    else:
        print(describe_cpu_kind(kind))
        print(format_vocab_bench(result))
    return 0 if all(row["same_tokens"] for row in result["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
