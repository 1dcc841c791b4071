"""Benchmark of a model load from its local folder: where do the seconds of a job's start-up go?

Every model job starts a fresh Python process, imports torch and transformers, and loads the model
and its tokenizer, so import costs only show in a fresh process. :func:`bench_load` therefore runs
each repetition as a child process (``python -m taskvectors.cli.bench_load --child ...``) that
times, in order:

* ``import_torch``, ``import_transformers``: the top-level imports;
* ``import_model_code``: the architecture's modeling module (transformers imports it lazily on the
  first ``from_pretrained``; it pulls in ``torch.distributed.tensor``, sympy, ``torch._dynamo``);
* ``weights``: ``from_pretrained`` proper (memory-mapped safetensors) and the move to the device;
* ``tokenizer``: the tokenizer as :func:`taskvectors.engine.models.load_tokenizer` builds it;
* ``first_forward``: one short forward pass, which pays for touching the memory-mapped weights.

``--reference`` times the plain transformers path instead (``AutoModelForCausalLM`` and
``AutoTokenizer.from_pretrained``), which is what the suite did before, for the before/after.

    taskvectors bench load gemma-3-270m --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

STAGES = (
    "import_torch",
    "import_transformers",
    "import_model_code",
    "weights",
    "tokenizer",
    "first_forward",
)


def bench_load(alias: str = "gemma-3-270m", repeats: int = 3, reference: bool = False) -> dict:
    """Median seconds per stage over ``repeats`` fresh processes, plus ``load`` (weights +
    tokenizer) and ``total`` (every stage), as wall-clock (``wall``) and CPU time of the process
    (``cpu``, steadier on a shared machine); the embedded model ``alias`` is prepared first."""
    from taskvectors.engine.models import ModelSpec, resolve_model

    record = resolve_model(ModelSpec.from_config(alias, {"source": "embedded"}))
    command = [
        sys.executable,
        "-m",
        "taskvectors.cli.bench_load",
        "--child",
        json.dumps(record.to_dict()),
    ]
    runs = [
        _child_timings(command + (["--reference"] if reference else [])) for _ in range(repeats)
    ]
    result: dict = {"model": alias, "loader": "reference" if reference else "taskvectors"}
    for clock in ("wall", "cpu"):
        medians = {stage: statistics.median(run[clock][stage] for run in runs) for stage in STAGES}
        medians["load"] = medians["weights"] + medians["tokenizer"]
        medians["total"] = sum(medians[stage] for stage in STAGES)
        result[clock] = medians
    return result


def _child_timings(command: Sequence[str]) -> dict[str, dict[str, float]]:
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _time_child(record_json: str, reference: bool) -> dict[str, dict[str, float]]:
    """Run and time every stage in this (fresh) process."""
    clock = _Clock()
    import torch

    clock.lap("import_torch")
    import transformers

    clock.lap("import_transformers")
    from taskvectors.engine.models import ModelRecord, load_tokenizer

    record = ModelRecord.from_dict(json.loads(record_json))
    config = transformers.AutoConfig.from_pretrained(record.local_path)
    transformers.AutoModelForCausalLM._model_mapping[type(config)]  # noqa: B018 - imports it
    clock.lap("import_model_code")
    if reference:
        model = transformers.AutoModelForCausalLM.from_pretrained(
            record.local_path, dtype=torch.float32, use_safetensors=True
        ).eval()
        clock.lap("weights")
        tokenizer = transformers.AutoTokenizer.from_pretrained(record.local_path)
    else:
        from taskvectors.engine.models import _checked_folder, _load_weights

        folder = _checked_folder(record)
        model = _load_weights(record, folder, torch.device("cpu"), torch.float32).eval()
        clock.lap("weights")
        tokenizer = load_tokenizer(record)
    clock.lap("tokenizer")
    with torch.no_grad():
        model(**tokenizer(["example:France->Paris\nexample:Japan->"], return_tensors="pt"))
    clock.lap("first_forward")
    return {"wall": clock.wall, "cpu": clock.cpu}


class _Clock:
    """Wall-clock and process CPU seconds between successive :meth:`lap` calls, by name."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._last = (time.perf_counter(), time.process_time())

    def lap(self, name: str) -> None:
        now = (time.perf_counter(), time.process_time())
        self.wall[name] = now[0] - self._last[0]
        self.cpu[name] = now[1] - self._last[1]
        self._last = now


def format_load_bench(result: dict) -> str:
    """The benchmark as a small table, one stage per line."""
    wall, cpu = result["wall"], result["cpu"]
    lines = [f"load of {result['model']} ({result['loader']} loader), median seconds:"]
    lines.append(f"  {'stage':20} {'wall':>6} {'cpu':>6}")
    for stage in (*STAGES, "load", "total"):
        label = "load (weights+tok)" if stage == "load" else stage
        lines.append(f"  {label:20} {wall[stage]:6.2f} {cpu[stage]:6.2f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="taskvectors bench load", description=__doc__)
    parser.add_argument("model", nargs="?", default="gemma-3-270m", help="embedded model alias")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reference", action="store_true", help="time plain transformers")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_time_child(args.child, args.reference)))
        return 0
    result = bench_load(args.model, args.repeats, args.reference)
    print(json.dumps(result) if args.json else format_load_bench(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
