"""A small, realistic, fully synthetic results tree, in exactly the formats of docs/outputs.md.

``write_synthetic_results(tmp_path)`` writes everything the pipeline would write for 2 models × 5
tasks (d_model 16, 8 and 6 layers): model records, prompts, activations, predictions, sweeps, eval
tables, ``summary.csv``, every analysis (geometry, top tokens, conflicts, order) and Snakemake
benchmark files. No model is run: predictions are made up so that accuracies follow a known plan
(``PLAN``: baseline, ICL and a task-vector curve peaking mid-depth), with exactly
``round(p * n)`` correct examples per split, so the numbers are predictable in tests:

- ``gpt-j`` matches the paper's GPT-J 6B; ``tiny-gpt2`` matches no paper model;
- ``gpt-j`` × ``algorithmic_list_first`` fails the paper's filter (ICL − baseline < 0.20);
- conflict pairs (next_letter, to_upper) and (list_last, list_first) are written;
- knowledge answers are multi-token: the first token is a prefix (``Par`` for ``Paris``).

Use it for the report and any stage that reads results, e.g.::

    run = write_synthetic_results(tmp_path)
    build_report(**run.report_kwargs(tmp_path / "report", reference_dir))
"""

from __future__ import annotations

import hashlib
import math
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from taskvectors.provenance import provenance
from taskvectors.storage import vectors_column, write_json, write_table

MODELS = {"gpt-j": 8, "tiny-gpt2": 6}  # alias -> n_layers
SOURCES = {"gpt-j": "EleutherAI/gpt-j-6b", "tiny-gpt2": "sshleifer/tiny-gpt2"}
TASKS = (
    "algorithmic_next_letter",
    "algorithmic_to_upper",
    "algorithmic_list_first",
    "algorithmic_list_last",
    "knowledge_country_capital",
)
CONFLICT_PAIRS = (
    ("algorithmic_next_letter", "algorithmic_to_upper"),
    ("algorithmic_list_last", "algorithmic_list_first"),
)
D_MODEL = 16
FAMILY_SCORING = {
    "algorithmic": "exact",
    "linguistic": "exact",
    "translation": "any_of",
    "knowledge": "prefix",
}

# (baseline, icl, tv at the peak, peak as a fraction of depth) per task; per-model overrides below.
PLAN = {
    "algorithmic_next_letter": (0.05, 0.90, 0.85, 0.45),
    "algorithmic_to_upper": (0.10, 0.95, 0.90, 0.35),
    "algorithmic_list_first": (0.30, 0.90, 0.70, 0.50),
    "algorithmic_list_last": (0.20, 0.85, 0.60, 0.55),
    "knowledge_country_capital": (0.25, 0.80, 0.65, 0.60),
}
OVERRIDES = {("gpt-j", "algorithmic_list_first"): (0.85, 0.95, 0.92, 0.50)}  # filtered out
MODEL_SCALE = {"gpt-j": 1.0, "tiny-gpt2": 0.8}

COUNTRIES = (
    ("France", "Paris"),
    ("Japan", "Tokyo"),
    ("Germany", "Berlin"),
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Egypt", "Cairo"),
    ("Kenya", "Nairobi"),
    ("Peru", "Lima"),
    ("Canada", "Ottawa"),
    ("Chile", "Santiago"),
    ("Norway", "Oslo"),
    ("Greece", "Athens"),
    ("Cuba", "Havana"),
    ("Iran", "Tehran"),
    ("Poland", "Warsaw"),
    ("Austria", "Vienna"),
    ("Russia", "Moscow"),
    ("China", "Beijing"),
    ("India", "New Delhi"),
    ("Mexico", "Mexico City"),
)
FILLER_TOKENS = (" the", ",", " of", "\n", " a", " and", " to", " in", ":", " is", "-", ".")
BENCHMARK_HEADER = (
    "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time"
)


@dataclass(frozen=True)
class SyntheticRun:
    """Where the synthetic run was written and the settings a report needs."""

    results_dir: Path
    benchmarks_dir: Path
    models: tuple[str, ...]
    tasks: tuple[str, ...]
    conflict_pairs: tuple[tuple[str, str], ...]
    config: dict[str, Any]
    n_layers: dict[str, int] = field(default_factory=dict)

    @property
    def analyses(self) -> dict[str, bool]:
        return {name: entry["enabled"] for name, entry in self.config["analyses"].items()}

    def report_kwargs(self, reports_dir: Path, reference_dir: Path) -> dict[str, Any]:
        """Keyword arguments for ``taskvectors.report.build_report``."""
        return {
            "results_dir": self.results_dir,
            "reports_dir": Path(reports_dir),
            "models": list(self.models),
            "tasks": list(self.tasks),
            "config": self.config,
            "conflict_pairs": list(self.conflict_pairs),
            "analyses": self.analyses,
            "reference_dir": Path(reference_dir),
            "benchmarks_dir": self.benchmarks_dir,
        }


# -- tasks -----------------------------------------------------------------------------------


def family(task: str) -> str:
    prefix = task.split("_", 1)[0]
    return prefix if prefix in FAMILY_SCORING else "custom"


def answer_for(task: str, x: str) -> str | None:
    """The task's answer to input ``x`` (None when the task cannot answer it)."""
    kind = task.split("_", 1)[-1]
    if kind == "next_letter":
        return chr(ord(x) + 1) if len(x) == 1 and "a" <= x < "z" else None
    if kind == "prev_letter":
        return chr(ord(x) - 1) if len(x) == 1 and "a" < x <= "z" else None
    if kind == "to_upper":
        return x.upper() if len(x) == 1 and x.isalpha() else None
    if kind == "to_lower":
        return x.lower() if len(x) == 1 and x.isalpha() else None
    if kind in ("list_first", "list_last"):
        items = x.split(",")
        return items[0] if kind == "list_first" else items[-1]
    if kind == "country_capital":
        return dict(COUNTRIES).get(x)
    return f"y{x[1:]}" if x.startswith("x") else None


def task_inputs(task: str, rng: np.random.Generator, n: int) -> list[str]:
    kind = task.split("_", 1)[-1]
    if kind in ("next_letter", "prev_letter", "to_upper"):
        pool = list(string.ascii_lowercase[1:-1])
    elif kind == "to_lower":
        pool = list(string.ascii_uppercase)
    elif kind in ("list_first", "list_last"):
        letters = np.array(list(string.ascii_lowercase))
        pool = sorted(
            {",".join(rng.choice(letters, size=int(rng.integers(2, 5)))) for _ in range(4 * n)}
        )
    elif kind == "country_capital":
        pool = [country for country, _ in COUNTRIES]
    else:
        pool = [f"x{i}" for i in range(4 * n)]
    return [pool[i] for i in rng.choice(len(pool), size=n, replace=len(pool) < n)]


def first_token(text: str) -> str:
    """A made-up tokenizer: words of more than four characters split after three."""
    return text[:3] if len(text) > 4 else text


def wrong_answer(task: str, x: str, rng: np.random.Generator) -> str:
    right = answer_for(task, x)
    while True:
        if family(task) == "knowledge":
            guess = COUNTRIES[int(rng.integers(len(COUNTRIES)))][1]
        else:
            guess = string.ascii_letters[int(rng.integers(52))]
        if guess != right:
            return guess


def token_id(text: str) -> int:
    return sum((i + 1) * ord(c) for i, c in enumerate(text)) % 50_000


# -- plan ------------------------------------------------------------------------------------


def plan(model: str, task: str, n_layers: int) -> tuple[float, float, np.ndarray]:
    """``(baseline, icl, tv accuracy per layer)`` for a model and task."""
    base, icl, peak, where = OVERRIDES.get((model, task), PLAN.get(task, (0.1, 0.8, 0.6, 0.5)))
    peak = base + (peak - base) * MODEL_SCALE.get(model, 0.9)
    layers = np.arange(n_layers)
    centre = where * (n_layers - 1)
    bump = np.exp(-(((layers - centre) / (0.22 * n_layers)) ** 2))
    tv = np.where(layers > centre + 0.3 * n_layers, 0.02, base + (peak - base) * bump)
    return base, icl, np.clip(tv, 0, 1)


def correct_mask(p: float, n: int, rng: np.random.Generator, order: np.ndarray | None = None):
    """Exactly ``round(p * n)`` True values; the first ones of ``order`` if given (nested sets)."""
    k = int(round(p * n))
    order = rng.permutation(n) if order is None else order
    mask = np.zeros(n, dtype=bool)
    mask[order[:k]] = True
    return mask


# -- writers ---------------------------------------------------------------------------------


def _predictions(rows: list[dict], extra: dict[str, pa.DataType] | None = None) -> pa.Table:
    schema = {
        "example_id": pa.int32(),
        "split": pa.string(),
        "condition": pa.string(),
        "layer": pa.int16(),
        "token_id": pa.int32(),
        "first_token": pa.string(),
        "answer": pa.string(),
        **(extra or {}),
    }
    return pa.table(
        {name: pa.array([r[name] for r in rows], type=kind) for name, kind in schema.items()}
    )


def _prediction(example: dict, split: str, condition: str, layer: int, text: str) -> dict:
    head = first_token(text)
    return {
        "example_id": example["example_id"],
        "split": split,
        "condition": condition,
        "layer": layer,
        "token_id": token_id(head),
        "first_token": head,
        "answer": text,
    }


def _model_record(model: str, n_layers: int) -> dict[str, Any]:
    return {
        "alias": model,
        "source": "hub",
        "name_or_path": SOURCES.get(model, model),
        "revision": "0123456789abcdef0123456789abcdef01234567",
        "local_path": None,
        "dtype": "float32",
        "model_type": "gptj" if "gpt-j" in model else "gpt2",
        "n_layers": n_layers,
        "d_model": D_MODEL,
        "vocab_size": 50_000,
    }


def _examples(task: str, rng, n_dev: int, n_test: int, n_demos: int = 5) -> list[dict]:
    inputs = task_inputs(task, rng, n_dev + n_test)
    examples = []
    for i, x in enumerate(inputs):
        demo_x = [d for d in task_inputs(task, rng, n_demos + 4) if d != x][:n_demos]
        dummies = [d for d in task_inputs(task, rng, 6) if d != x][:2]
        examples.append(
            {
                "example_id": i,
                "split": "dev" if i < n_dev else "test",
                "query": x,
                "answers": [answer_for(task, x)],
                "demos": [[d, answer_for(task, d)] for d in demo_x],
                "dummies": dummies,
            }
        )
    return examples


def _prompts(root, model, task, examples, record, settings) -> None:
    entry = {
        "name": task,
        "family": family(task),
        "source": {"generator": task.split("_", 1)[-1]},
        "scoring": FAMILY_SCORING.get(family(task), "exact"),
        "filter": "single_token",
        "default": True,
        "description": f"synthetic {task}",
    }
    document = {
        "task": entry,
        "settings": settings,
        "template": {"name": "paper", "demonstration": "example:{x}->{y}", "separator": "\n"},
        "filter": {"policy": "single_token", "n_pairs": 25, "n_kept": 25},
        "examples": examples,
        "provenance": provenance(record, stage="build_prompts", **settings),
    }
    write_json(root / "prompts" / model / f"{task}.json", document)


def _vectors_table(ids, splits, layers, vectors) -> pa.Table:
    return pa.table(
        {
            "example_id": pa.array(ids, pa.int32()),
            "split": pa.array(splits),
            "layer": pa.array(layers, pa.int16()),
            "hidden": vectors_column(np.asarray(vectors)),
        }
    )


def _task_centre(task: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(task.encode()).digest()[:8], "big")
    return np.random.default_rng(seed).normal(0, 1, D_MODEL) * 3


def _vectors(task, n, n_layers, rng, label) -> pa.Table:
    ids, splits, layers, vectors = [], [], [], []
    for layer in range(n_layers):
        strength = math.sin(math.pi * (layer + 1) / (n_layers + 1))
        for i in range(n):
            ids.append(i)
            splits.append(label if isinstance(label, str) else label[i])
            layers.append(layer)
            vectors.append(_task_centre(task) * strength + rng.normal(0, 0.8, D_MODEL))
    return _vectors_table(ids, splits, layers, vectors)


def _model_task(root, model, task, n_layers, rng, settings, record, column) -> dict[str, Any]:
    """Write every per-(model, task) file; return the summary row."""
    examples = _examples(task, rng, settings["n_dev"], settings["n_test"])
    _prompts(root, model, task, examples, record, settings)
    prov = provenance(record, stage="synthetic", task=task, **settings)
    base, icl, tv = plan(model, task, n_layers)
    n_ex = len(examples)
    write_table(
        root / "activations" / model / f"{task}.parquet",
        _vectors(task, n_ex, n_layers, rng, [e["split"] for e in examples]),
        prov,
        row_group_size=n_ex,
    )

    groups = [np.flatnonzero([e["split"] == split for e in examples]) for split in ("dev", "test")]
    orders = [rng.permutation(len(group)) for group in groups]

    def texts(p, nested=False):  # exactly round(p * n) correct in each split
        mask = np.zeros(n_ex, dtype=bool)
        for group, order, jitter in zip(groups, orders, (0, rng.choice([-1, 0, 1])), strict=True):
            q = min(1.0, max(0.0, p + nested * jitter / len(group)))  # test drifts from dev a bit
            mask[group] = correct_mask(q, len(group), rng, order if nested else None)
        return [
            answer_for(task, e["query"]) if ok else wrong_answer(task, e["query"], rng)
            for e, ok in zip(examples, mask, strict=True)
        ]

    icl_rows = [
        _prediction(e, e["split"], "icl", -1, t) for e, t in zip(examples, texts(icl), strict=True)
    ]
    write_table(root / "predictions" / model / f"{task}.icl.parquet", _predictions(icl_rows), prov)
    patched = [
        _prediction(e, e["split"], "baseline", -1, t)
        for e, t in zip(examples, texts(base), strict=True)
    ]
    for layer in range(n_layers):
        patched += [
            _prediction(e, e["split"], "tv", layer, t)
            for e, t in zip(examples, texts(tv[layer], nested=True), strict=True)
        ]
    write_table(
        root / "predictions" / model / f"{task}.patched.parquet", _predictions(patched), prov
    )
    return _evaluate(root, model, task, examples, icl_rows + patched, n_layers, prov, column)


def _is_correct(task: str, prediction: str, answers: list[str]) -> bool:
    predicted = prediction.split("\n", 1)[0].strip()
    if family(task) == "knowledge":
        return bool(predicted) and any(
            a.startswith(predicted) or predicted.startswith(a) for a in answers
        )
    return predicted == answers[0]


def _evaluate(root, model, task, examples, rows, n_layers, prov, column) -> dict[str, Any]:
    frame = pd.DataFrame(rows)
    by_id = {e["example_id"]: e for e in examples}
    frame["correct"] = [
        _is_correct(task, p, by_id[i]["answers"])
        for p, i in zip(frame[column], frame["example_id"], strict=True)
    ]
    tv = frame[frame["condition"] == "tv"]
    sweep = tv.groupby(["split", "layer"])["correct"].agg(["mean", "size"]).reset_index()
    dev = sweep[sweep["split"] == "dev"]
    best = int(dev.loc[dev["mean"] == dev["mean"].max(), "layer"].min())
    write_table(
        root / "sweeps" / model / f"{task}.parquet",
        pa.table(
            {
                "split": pa.array(sweep["split"]),
                "layer": pa.array(sweep["layer"], pa.int16()),
                "accuracy": pa.array(sweep["mean"], pa.float64()),
                "n": pa.array(sweep["size"], pa.int32()),
                "is_best": pa.array(sweep["layer"] == best),
            }
        ),
        prov,
    )
    test = frame[
        (frame["split"] == "test") & ((frame["condition"] != "tv") | (frame["layer"] == best))
    ]
    write_table(
        root / "eval" / model / f"{task}.parquet",
        pa.table(
            {
                "example_id": pa.array(test["example_id"], pa.int32()),
                "query": pa.array([by_id[i]["query"] for i in test["example_id"]]),
                "answers": pa.array(
                    [by_id[i]["answers"] for i in test["example_id"]], pa.list_(pa.string())
                ),
                "condition": pa.array(test["condition"]),
                "layer": pa.array(test["layer"], pa.int16()),
                "prediction": pa.array(test[column]),
                "correct": pa.array(test["correct"]),
            }
        ),
        prov,
    )
    accuracy = test.groupby("condition")["correct"].mean()
    return {
        "model": model,
        "task": task,
        "category": family(task),
        "n_test": int((test["condition"] == "icl").sum()),
        "baseline": accuracy["baseline"],
        "icl": accuracy["icl"],
        "tv": accuracy["tv"],
        "best_layer": best,
        "n_layers": n_layers,
    }


def _geometry(root, model, task, n_layers, n_vectors, rng, record) -> None:
    prov = provenance(record, stage="geometry_vectors", task=task, n_vectors=n_vectors)
    write_table(
        root / "analyses" / "geometry" / model / f"{task}.parquet",
        _vectors(task, n_vectors, n_layers, rng, "geometry"),
        prov,
        row_group_size=n_vectors,
    )


def _top_tokens(root, model, task, n_layers, best, k, record) -> None:
    outputs = sorted({answer_for(task, x) for x in task_inputs(task, np.random.default_rng(0), 40)})
    rows = []
    for layer in range(n_layers):
        near = abs(layer - best) <= 1
        tokens = ([" " + first_token(o) for o in outputs] if near else []) + list(FILLER_TOKENS)
        for rank, token in enumerate(dict.fromkeys(tokens)):
            if rank == k:
                break
            rows.append(
                {
                    "layer": layer,
                    "rank": rank,
                    "token_id": token_id(token),
                    "token": token,
                    "logit": 12.0 - 0.7 * rank - 0.1 * layer,
                }
            )
    frame = pd.DataFrame(rows)
    table = pa.table(
        {
            "layer": pa.array(frame["layer"], pa.int16()),
            "rank": pa.array(frame["rank"], pa.int16()),
            "token_id": pa.array(frame["token_id"], pa.int32()),
            "token": pa.array(frame["token"]),
            "logit": pa.array(frame["logit"], pa.float32()),
        }
    )
    write_table(
        root / "analyses" / "top_tokens" / model / f"{task}.parquet",
        table,
        provenance(record, stage="top_tokens", task=task, k=k),
    )


def _conflicts(root, model, task_a, task_b, n_layers, best_b, n, rng, record) -> None:
    queries = [x for x in task_inputs(task_a, rng, 4 * n) if answer_for(task_b, x)][:n]
    examples = [{"example_id": i, "query": x} for i, x in enumerate(queries)]
    _, _, tv_b = plan(model, task_b, n_layers)
    rows = []

    def emit(condition, layer, p_a, p_b):
        outcome = rng.permutation(np.repeat([0, 1, 2], [round(p_a * n), round(p_b * n), n])[:n])
        for e, o in zip(examples, outcome, strict=True):
            x = e["query"]
            text = (answer_for(task_a, x), answer_for(task_b, x), wrong_answer(task_a, x, rng))[o]
            rows.append(_prediction(e, "test", condition, layer, text))

    emit("icl", -1, 0.9, 0.0)
    for layer in range(n_layers):
        p_b = 0.95 * tv_b[layer] / max(tv_b.max(), 1e-9) * (1.0 if layer == best_b else 0.85)
        emit("tv", layer, 0.5 * (1 - p_b), p_b)
    table = _predictions(rows)
    answers_a = [[answer_for(task_a, queries[r["example_id"]])] for r in rows]
    answers_b = [[answer_for(task_b, queries[r["example_id"]])] for r in rows]
    table = table.append_column("answers_a", pa.array(answers_a, pa.list_(pa.string())))
    table = table.append_column("answers_b", pa.array(answers_b, pa.list_(pa.string())))
    write_table(
        root / "analyses" / "conflicts" / model / f"{task_a}__{task_b}.parquet",
        table,
        provenance(record, stage="conflicts", task_a=task_a, task_b=task_b),
    )


def _order(root, model, task, n_layers, n_examples, n_perm, rng, record) -> None:
    examples = [e for e in read_examples(root, model, task) if e["split"] == "test"][:n_examples]
    n = len(examples)
    _, icl, tv = plan(model, task, n_layers)
    fixed = rng.permutation(n)
    wrong = {e["example_id"]: wrong_answer(task, e["query"], rng) for e in examples}
    rows = []
    for perm in range(n_perm):
        icl_mask = correct_mask(min(1.0, max(0.0, icl + rng.uniform(-0.2, 0.1))), n, rng)
        for e, ok in zip(examples, icl_mask, strict=True):
            text = answer_for(task, e["query"]) if ok else wrong_answer(task, e["query"], rng)
            rows.append(_prediction(e, "test", "icl", -1, text) | {"permutation": perm})
        for layer in range(n_layers):
            mask = correct_mask(
                min(1.0, tv[layer] + rng.choice([0, 0, 1 / max(n, 1)])), n, rng, fixed
            )
            for e, ok in zip(examples, mask, strict=True):
                text = answer_for(task, e["query"]) if ok else wrong[e["example_id"]]
                rows.append(_prediction(e, "test", "tv", layer, text) | {"permutation": perm})
    table = _predictions(rows, {"permutation": pa.int16()})
    write_table(
        root / "analyses" / "order" / model / f"{task}.parquet",
        table,
        provenance(record, stage="order", task=task, n_permutations=n_perm),
    )


def read_examples(root: Path, model: str, task: str) -> list[dict]:
    import json

    return json.loads((root / "prompts" / model / f"{task}.json").read_text())["examples"]


def _benchmarks(bench: Path, models, tasks, pairs, rng) -> None:
    def write(path: Path, seconds: float, rss: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        hms = f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
        path.write_text(
            f"{BENCHMARK_HEADER}\n{seconds:.4f}\t{hms}\t{rss:.2f}\t{rss * 1.6:.2f}\t"
            f"{rss * 0.9:.2f}\t{rss * 0.95:.2f}\t1.20\t0.30\t95.1\t{seconds:.2f}\n"
        )

    write(bench / "summarize" / "all.tsv", 1.2, 180.0)
    for model in models:
        write(bench / "prepare_model" / f"{model}.tsv", float(rng.uniform(5, 20)), 900.0)
        for task in tasks:
            for rule, scale in (
                ("build_prompts", 1),
                ("extract", 30),
                ("patch", 60),
                ("evaluate", 2),
                ("geometry_vectors", 20),
                ("top_tokens", 3),
                ("order", 25),
            ):
                write(
                    bench / rule / model / f"{task}.tsv",
                    float(rng.uniform(0.5, 1.5) * scale),
                    float(rng.uniform(300, 2500)),
                )
        for a, b in pairs:
            write(
                bench / "conflicts" / model / f"{a}__{b}.tsv",
                float(rng.uniform(10, 30)),
                float(rng.uniform(800, 2000)),
            )


def synthetic_config(results_dir: Path, models, tasks, pairs, answer: str) -> dict[str, Any]:
    """A run config shaped like workflow/schemas/config.schema.yaml."""
    return {
        "results_dir": str(results_dir),
        "reports_dir": "reports/synthetic",
        "data_dir": "data",
        "models": {
            m: {"source": "hub", "name": SOURCES.get(m, m), "dtype": "float32"} for m in models
        },
        "tasks": list(tasks),
        "prompts": {
            "template": "paper",
            "n_demos": 5,
            "n_dev": 12,
            "n_test": 12,
            "n_dummy": 2,
            "seed": 41,
        },
        "evaluation": {"answer": answer, "max_answer_tokens": 8, "batch_size": 16},
        "analyses": {
            "geometry": {"enabled": True, "n_vectors": 10},
            "top_tokens": {"enabled": True, "k": 10},
            "conflicts": {
                "enabled": True,
                "n_examples": 12,
                "n_demos": 4,
                "pairs": [list(p) for p in pairs],
            },
            "order": {"enabled": True, "n_examples": 8, "n_permutations": 4},
        },
    }


def write_synthetic_results(
    root: Path,
    *,
    models: dict[str, int] | None = None,
    tasks: tuple[str, ...] = TASKS,
    conflict_pairs: tuple[tuple[str, str], ...] = CONFLICT_PAIRS,
    answer: str = "first_token",
    seed: int = 0,
) -> SyntheticRun:
    """Write a complete results tree under ``root/results`` (benchmarks in ``results/benchmarks``).

    Args:
        models: ``{alias: n_layers}``; default ``MODELS`` (gpt-j: 8, tiny-gpt2: 6).
        tasks: task names; the five ``TASKS`` by default (any ``family_name`` works, unknown kinds
            get ``x{i} -> y{i}`` pairs).
        conflict_pairs: ``(A, B)`` pairs written under ``analyses/conflicts``.
        answer: ``config["evaluation"]["answer"]`` (``first_token`` or ``greedy``).
    """
    models = dict(models or MODELS)
    rng = np.random.default_rng(seed)
    results = Path(root) / "results"
    config = synthetic_config(results, models, tasks, conflict_pairs, answer)
    settings = {k: config["prompts"][k] for k in ("n_demos", "n_dev", "n_test", "n_dummy", "seed")}
    analyses = config["analyses"]
    column = "first_token" if answer == "first_token" else "answer"
    summary = []
    for model, n_layers in models.items():
        record = _model_record(model, n_layers)
        write_json(
            results / "models" / f"{model}.json",
            {**record, "provenance": provenance(record, stage="prepare_model")},
        )
        best = {}
        for task in tasks:
            row = _model_task(results, model, task, n_layers, rng, settings, record, column)
            summary.append(row)
            best[task] = row["best_layer"]
            _geometry(
                results, model, task, n_layers, analyses["geometry"]["n_vectors"], rng, record
            )
            _top_tokens(
                results, model, task, n_layers, best[task], analyses["top_tokens"]["k"], record
            )
            _order(
                results,
                model,
                task,
                n_layers,
                analyses["order"]["n_examples"],
                analyses["order"]["n_permutations"],
                rng,
                record,
            )
        for task_a, task_b in conflict_pairs:
            _conflicts(
                results,
                model,
                task_a,
                task_b,
                n_layers,
                best[task_b],
                analyses["conflicts"]["n_examples"],
                rng,
                record,
            )
    pd.DataFrame(summary).to_csv(results / "summary.csv", index=False)
    write_json(results / "summary.provenance.json", {"provenance": provenance(stage="summarize")})
    _benchmarks(results / "benchmarks", models, tasks, conflict_pairs, rng)
    return SyntheticRun(
        results,
        results / "benchmarks",
        tuple(models),
        tuple(tasks),
        tuple(conflict_pairs),
        config,
        models,
    )
