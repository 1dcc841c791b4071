"""Speed of the GD stage's fine-tuning on the machine at hand, to size its defaults.

``taskvectors bench gd --model-record results/main/models/gemma-3-270m.json``
trains LoRA adapters on ``next_letter`` demonstrations (no prompt file needed) and prints, best of
``--repeats``, seconds per example-epoch for each setting (optimiser, batch mode, precision,
examples per batch) and seconds per example to answer, then what the configured GD stage would
cost (:func:`stage_seconds`). ``autocast: auto`` trains in bfloat16 only where the CPU has it
(``TASKVECTORS_CPU_BF16=0`` shows the float32 path). Numbers depend on the load of the machine:
run it alone.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from taskvectors.analyses.gd import ANALYSIS
from taskvectors.analyses.gd.compute import GDSettings
from taskvectors.engine.devices import cpu_kind, describe_cpu_kind
from taskvectors.engine.finetune import FinetuneConfig, TrainingJob, finetune_and_answer
from taskvectors.engine.models import ModelRecord, load_model
from taskvectors.pipeline.config import with_defaults
from taskvectors.pipeline.rules import DEFAULT_ANALYSIS_TASKS
from taskvectors.results.storage import read_json
from taskvectors.seeding import derived_seed
from taskvectors.tasks.algorithmic import next_letter
from taskvectors.tasks.prompts import get_template

TEMPLATE = get_template("paper")


def letter_jobs(n: int, n_demos: int = 5) -> list[TrainingJob]:
    """``n`` jobs of ``n_demos`` next-letter demonstrations and a query each (seeded)."""
    pairs = [(p.input, p.answers[0]) for p in next_letter()]
    rng = np.random.default_rng(derived_seed("bench_gd"))
    jobs = []
    for i in range(n):
        picked = rng.choice(len(pairs), n_demos + 1, replace=False)
        demos = tuple(pairs[j] for j in picked[:n_demos])
        jobs.append(TrainingJob(("bench", i), demos, pairs[picked[-1]][0], 1e-3))
    return jobs


def best_of(run: Callable[[], None], repeats: int) -> float:
    """Smallest wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def seconds_per_example_epoch(model, tokenizer, config, n: int, epochs: int, repeats: int):
    """Training seconds per example and epoch (answering time subtracted), and answer seconds per
    example, for ``n`` jobs trained as one batch."""
    jobs = letter_jobs(n)

    def train(k: int) -> Callable[[], None]:
        return lambda: finetune_and_answer(
            model, tokenizer, TEMPLATE, jobs, config, epochs=[k], chunk_size=n
        )

    answer = best_of(train(0), repeats)
    trained = best_of(train(epochs), repeats)
    return max(trained - answer, 0.0) / (n * epochs), answer / n


def stage_seconds(
    settings: GDSettings,
    train_s: float,
    answer_s: float,
    *,
    n_tasks: int,
    order_examples: int,
    order_permutations: int,  # orders run, the original included
    demo_count_tasks: int,
    demo_count_examples: int,
    control_examples: int,
    demo_counts: Sequence[int] = (1, 2, 4, 8),
    n_demos: int = 5,
) -> dict[str, float]:
    """Estimated seconds of the GD stage's parts, from per-example-epoch and answer costs.

    Training cost grows with the demonstrations trained on, so an example with ``k`` demos costs
    ``k / n_demos`` of one with ``n_demos``. The chosen number of epochs is unknown beforehand:
    the largest in the grid is assumed (an upper bound).
    """
    epochs = max(settings.epochs)
    grid = settings.n_dev * len(settings.learning_rates) * epochs * train_s
    grid += settings.n_dev * len(settings.learning_rates) * len(settings.epochs) * answer_s
    test = settings.n_test * (epochs * train_s + answer_s)
    order = order_examples * order_permutations * (epochs * train_s + answer_s)
    counts = demo_count_examples * sum(
        epochs * train_s * k / n_demos + answer_s for k in demo_counts
    )
    control = control_examples * (epochs * train_s + answer_s)
    parts = {
        "grid": n_tasks * grid,
        "test": n_tasks * test,
        "order": n_tasks * order,
        "demo_counts": demo_count_tasks * counts,
        "random_control": n_tasks * control,
    }
    return {**parts, "total": sum(parts.values())}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-record", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--examples", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args(argv)
    print(describe_cpu_kind(cpu_kind()), flush=True)
    model, tokenizer = load_model(ModelRecord.from_dict(read_json(args.model_record)))
    settings_list = [
        {"optimizer": "sgd", "batch": "all", "autocast": "none"},
        {"optimizer": "adam", "batch": "all", "autocast": "none"},
        {"optimizer": "adam", "batch": "all", "autocast": "auto"},
        {"optimizer": "adam", "batch": "sequential", "autocast": "auto"},
    ]
    results = []
    for options in settings_list:
        for n in args.examples:
            train_s, answer_s = seconds_per_example_epoch(
                model, tokenizer, FinetuneConfig(**options), n, args.epochs, args.repeats
            )
            row = {**options, "examples_per_batch": n, "train_s_per_example_epoch": train_s}
            results.append({**row, "answer_s_per_example": answer_s})
            print(json.dumps(results[-1]), flush=True)
    defaults = [r for r in results if r["autocast"] == "auto" and r["batch"] == "all"]
    fastest = min(defaults, key=lambda r: r["train_s_per_example_epoch"])
    section = with_defaults(ANALYSIS.schema, {})  # the schema's defaults
    order, counts = section["order"], section["demo_counts"]
    count_tasks = DEFAULT_ANALYSIS_TASKS if counts["tasks"] == "all" else counts["tasks"]
    estimate = stage_seconds(
        GDSettings.from_config(section, seed=0),
        fastest["train_s_per_example_epoch"],
        fastest["answer_s_per_example"],
        n_tasks=len(DEFAULT_ANALYSIS_TASKS),  # GD's tasks: default
        order_examples=order["n_examples"],
        order_permutations=order["n_permutations"] + 1,  # the original order and the others
        demo_count_tasks=len(count_tasks),
        demo_count_examples=counts["n_examples"],
        control_examples=section["random_control"]["n_examples"],
        demo_counts=counts["counts"],
    )
    print(json.dumps({"threads": torch.get_num_threads(), "default_stage_estimate_s": estimate}))


if __name__ == "__main__":
    main()
