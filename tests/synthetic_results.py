"""A small, fully synthetic run in exactly the formats of docs/outputs.md, for the report's tests.

``write_synthetic_results(tmp_path)`` writes every file the ``report`` rule declares for 2 models ×
6 tasks: model records, sweeps (Parquet with provenance), ``summary.csv``, ``summary_models.csv``,
``summary.provenance.json``, the score table of every analysis and Snakemake benchmark files. No
model runs; the numbers follow a plan (``PLAN``) so that tests can predict what the page says:

- ``gpt-j`` matches the paper's GPT-J 6B; ``tiny-gpt2`` matches no paper model;
- ``gpt-j`` × ``algorithmic_list_first`` fails the paper's filter and its copy baseline reaches
  the lower end of ICL's interval (``explained_by == "copy"``);
- ``tiny-gpt2`` × ``knowledge_country_capital`` scores 0 at every layer on dev: no best layer;
- so the ``shared`` task set holds the four tasks both models keep.

Intervals are Wilson intervals of the planned counts (``taskvectors.stats``), so they are
consistent with the accuracies; the score tables of the analyses are made up with the same care.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from taskvectors.analyses import registry
from taskvectors.report import ReportInputs, build_report
from taskvectors.results import write_score_table
from taskvectors.storage import write_json, write_table

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "data" / "reference"
MODELS = {"gpt-j": 8, "tiny-gpt2": 6}  # alias -> n_layers
SOURCES = {"gpt-j": "EleutherAI/gpt-j-6b", "tiny-gpt2": "sshleifer/tiny-gpt2"}
TASKS = (
    "algorithmic_next_letter",
    "algorithmic_to_upper",
    "algorithmic_list_first",
    "algorithmic_list_last",
    "translation_fr_en",
    "knowledge_country_capital",
)
CONFLICT_PAIRS = (
    ("algorithmic_next_letter", "algorithmic_to_upper"),
    ("algorithmic_list_last", "algorithmic_list_first"),
)
ANALYSES = tuple(registry())  # each has a ``<name>_scores`` maker below
SPACING_TASKS = ("translation_fr_en", "knowledge_country_capital")
GD_TASKS = ("algorithmic_to_upper", "translation_fr_en")
N_TEST, N_DEV = 50, 50
NO_BEST = ("tiny-gpt2", "knowledge_country_capital")
FILTERED = ("gpt-j", "algorithmic_list_first")
SHARED = tuple(t for t in TASKS if t not in ("algorithmic_list_first", "knowledge_country_capital"))

# (baseline, icl, tv at the peak, peak as a fraction of depth) per task.
PLAN = {
    "algorithmic_next_letter": (0.04, 0.90, 0.84, 0.45),
    "algorithmic_to_upper": (0.10, 0.96, 0.90, 0.35),
    "algorithmic_list_first": (0.30, 0.90, 0.70, 0.50),
    "algorithmic_list_last": (0.20, 0.86, 0.60, 0.55),
    "translation_fr_en": (0.16, 0.72, 0.64, 0.45),
    "knowledge_country_capital": (0.24, 0.80, 0.66, 0.60),
}
OVERRIDES = {FILTERED: (0.84, 0.94, 0.90, 0.50)}
MODEL_SCALE = {"gpt-j": 1.0, "tiny-gpt2": 0.8}
PROVENANCE = {"settings": {"seed": 41}, "git_commit": "0123456789abcdef-dirty", "python": "3.11"}


def wilson(successes: int, n: int) -> tuple[float, float]:
    """The 95% Wilson interval of ``successes`` out of ``n`` (written here, not imported, so the
    synthetic data do not depend on the code under test)."""
    if n == 0:
        return math.nan, math.nan
    z, p = 1.959963984540054, successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion(p: float, n: int = N_TEST) -> tuple[float, float, float]:
    """``(accuracy, low, high)`` of ``round(p * n)`` successes."""
    k = int(round(p * n))
    return (k / n, *wilson(k, n))


@dataclass(frozen=True)
class SyntheticRun:
    """Where the synthetic run lives, and the arguments of ``build_report`` for it."""

    root: Path
    inputs: ReportInputs
    models: tuple[str, ...]
    tasks: tuple[str, ...]
    conflict_pairs: tuple[tuple[str, str], ...]
    config: dict[str, Any]

    def without(self, *analyses: str) -> SyntheticRun:
        """The same run with ``analyses`` switched off (their score tables not declared)."""
        scores = {k: v for k, v in self.inputs.scores.items() if k[0] not in analyses}
        return replace(self, inputs=replace(self.inputs, scores=scores))

    def build(self, reports: Path, inputs: ReportInputs | None = None) -> Path:
        """Render the report into ``reports`` (``index.html``, ``figures/``, ``data/``)."""
        reports = Path(reports)
        return build_report(
            inputs or self.inputs,
            page=reports / "index.html",
            figures_dir=reports / "figures",
            data_dir=reports / "data",
            models=list(self.models),
            tasks=list(self.tasks),
            config=self.config,
        )


# -- the main tables ------------------------------------------------------------------------------


def plan(model: str, task: str) -> tuple[float, float, float, float]:
    base, icl, peak, where = OVERRIDES.get((model, task), PLAN[task])
    return base, icl, base + (peak - base) * MODEL_SCALE[model], where


def sweep(model: str, task: str) -> pd.DataFrame:
    """Dev and test accuracy at every layer: a bump peaking at the planned depth."""
    n_layers = MODELS[model]
    base, _, peak, where = plan(model, task)
    layers = np.arange(n_layers)
    curve = base + (peak - base) * np.exp(-((((layers / (n_layers - 1)) - where) / 0.18) ** 2))
    rows = []
    for split, shift in (("dev", 0.02), ("test", 0.0)):
        for layer, p in zip(layers, curve, strict=True):
            p = 0.0 if (model, task) == NO_BEST and split == "dev" else min(1.0, p + shift)
            k = int(round(p * N_DEV))
            rows.append(
                {
                    "split": split,
                    "layer": layer,
                    "n": N_DEV,
                    "successes": k,
                    "accuracy": k / N_DEV,
                    "low": wilson(k, N_DEV)[0],
                    "high": wilson(k, N_DEV)[1],
                    "is_best": False,
                }
            )
    frame = pd.DataFrame(rows).astype({"layer": "int16", "n": "int32", "successes": "int32"})
    dev = frame[frame["split"] == "dev"]
    if dev["accuracy"].max() > 0:
        frame.loc[dev["accuracy"].idxmax(), "is_best"] = True
    return frame


def summary_row(model: str, task: str, best: int | None) -> dict[str, Any]:
    base, icl, peak, _ = plan(model, task)
    tv = math.nan if best is None else peak
    row: dict[str, Any] = {
        "model": model,
        "task": task,
        "category": task.split("_")[0],
        "spacing": "leading" if task.startswith("translation") else "none",
        "n_pairs": 887 if task.startswith("translation") else 193,
        "n_test": N_TEST,
        "n_queries": 13 if "letter" in task else N_TEST,
        "best_layer": best,
        "n_layers": MODELS[model],
    }
    majority = 0.06 if task != "knowledge_country_capital" else 0.02
    copy = 0.84 if (model, task) == FILTERED else 0.0
    for condition, p in (
        ("baseline", base),
        ("icl", icl),
        ("tv", tv),
        ("majority", majority),
        ("copy", copy),
    ):
        if math.isnan(p):
            row |= {
                condition: math.nan,
                f"{condition}_low": math.nan,
                f"{condition}_high": math.nan,
            }
            continue
        value, low, high = proportion(p)
        row |= {condition: value, f"{condition}_low": low, f"{condition}_high": high}
    for condition in ("baseline", "icl", "tv"):
        row[f"{condition}_full"] = (
            row[condition] - 0.04 if row[condition] > 0.04 else row[condition]
        )
        row[f"{condition}_strict"] = (
            row[condition] - 0.02 if task.startswith("knowledge") else row[condition]
        )
    row["tv_minus_icl"] = row["tv"] - row["icl"]
    row["tv_minus_icl_low"] = row["tv_minus_icl"] - 0.1
    row["tv_minus_icl_high"] = row["tv_minus_icl"] + 0.08
    row["explained_by"] = "copy" if copy >= row["icl_low"] else ""
    return row


def summary_models(summary: pd.DataFrame) -> pd.DataFrame:
    """The three task sets of every model, with made-up but ordered intervals."""
    records = []
    for model in MODELS:
        rows = summary[summary["model"] == model]
        kept = rows[rows["icl"] - rows["baseline"] >= 0.2]
        for task_set, part in (
            ("all", rows),
            ("paper_filter", kept),
            ("shared", rows[rows["task"].isin(SHARED)]),
        ):
            record = {
                "model": model,
                "task_set": task_set,
                "n_tasks": len(part),
                "tasks": ";".join(part["task"]),
            }
            for condition in ("baseline", "icl", "tv"):
                value = float(part[condition].mean())
                record |= {
                    condition: value,
                    f"{condition}_low": value - 0.07,
                    f"{condition}_high": value + 0.06,
                }
            ratio = record["tv"] / record["icl"]
            record |= {"ratio": ratio, "ratio_low": ratio - 0.08, "ratio_high": ratio + 0.05}
            difference = record["tv"] - record["icl"]
            record |= {
                "tv_minus_icl": difference,
                "tv_minus_icl_low": difference - 0.06,
                "tv_minus_icl_high": difference + 0.04,
            }
            records.append(record)
    return pd.DataFrame(records)


# -- the analyses' score tables -------------------------------------------------------------------


def geometry_scores(model: str, rng: np.random.Generator) -> pd.DataFrame:
    layer = MODELS[model] // 2
    rows = []
    for i, task in enumerate(TASKS):
        centre = np.array([math.cos(i), math.sin(i)]) * 8
        for x, y in centre + rng.normal(size=(12, 2)):
            rows.append({"kind": "tsne", "task": task, "x": x, "y": y})
    for within, mean in ((True, 0.35), (False, 0.9)):
        for value in rng.normal(mean, 0.1, size=120):
            rows.append({"kind": "distance", "task": "", "within": within, "distance": value})
    for scope in ("all", "shared_inputs"):
        for statistic, value, null in (
            ("nn_accuracy", 0.93, 0.17),
            ("silhouette", 0.41, -0.02),
            ("within_mean", 0.35, math.nan),
            ("across_mean", 0.9, math.nan),
        ):
            stat = {
                "kind": "stat",
                "task": "",
                "scope": scope,
                "statistic": statistic,
                "value": value - (0.1 if scope != "all" else 0),
                "null_mean": null,
                "null_p95": null + 0.08,
                "p_value": 0.005 if not math.isnan(null) else math.nan,
            }
            rows.append(stat)
    frame = pd.DataFrame(rows).assign(layer=layer)
    for column in ("x", "y", "distance", "value", "null_mean", "null_p95", "p_value"):
        frame[column] = frame[column].astype(float)
    frame["within"] = frame["within"].astype("boolean")
    frame["scope"] = frame["scope"].fillna("")
    frame["statistic"] = frame["statistic"].fillna("")
    return frame


def top_tokens_scores(model: str, best: dict[str, int | None]) -> pd.DataFrame:
    rows = []
    for task in TASKS:
        if best[task] is None:
            continue
        for rank in range(20):
            rows.append(
                {
                    "task": task,
                    "layer": best[task],
                    "rank": rank,
                    "token": f" {task.split('_')[-1][:3]}{rank}" if rank % 3 else "\n",
                    "logit": 12.0 - rank * 0.4,
                }
            )
    return pd.DataFrame(rows)


def conflict_scores(model: str, best: dict[str, int | None]) -> pd.DataFrame:
    rows = []
    for task_a, task_b in CONFLICT_PAIRS:
        for condition, layer, to_a, to_b in [("icl", -1, 0.9, 0.02)] + [
            ("tv", layer, 0.2, 0.7 * math.exp(-abs(layer - (best[task_b] or 0))))
            for layer in range(MODELS[model])
        ]:
            a, b = proportion(to_a), proportion(to_b)
            rows.append(
                {
                    "task_a": task_a,
                    "task_b": task_b,
                    "condition": condition,
                    "layer": layer,
                    "is_best": condition == "tv" and layer == best[task_b],
                    "n": N_TEST,
                    "to_a": a[0],
                    "to_a_low": a[1],
                    "to_a_high": a[2],
                    "to_b": b[0],
                    "to_b_low": b[1],
                    "to_b_high": b[2],
                }
            )
    return pd.DataFrame(rows)


def order_scores(model: str) -> pd.DataFrame:
    rows = []
    for i, task in enumerate([*TASKS, "overall"]):
        sensitivity = {"icl": 0.30 + 0.02 * i, "tv": 0.12 + 0.01 * i}
        for condition in ("icl", "tv"):
            s = sensitivity[condition]
            for metric, value in (
                ("agreement", 1 - s * 1.2),
                ("pairwise_agreement", 1 - s),
                ("accuracy_mean", 0.8),
                ("accuracy_range", s / 2),
                ("sensitivity", s),
            ):
                rows.append(
                    {
                        "task": task,
                        "condition": condition,
                        "metric": metric,
                        "value": value,
                        "low": value - 0.05,
                        "high": value + 0.05,
                        "verdict": "",
                    }
                )
        difference = sensitivity["tv"] - sensitivity["icl"]
        verdict = "yes" if task != "algorithmic_to_upper" else "undetermined (interval crosses 0)"
        rows.append(
            {
                "task": task,
                "condition": "tv_minus_icl",
                "metric": "sensitivity",
                "value": difference,
                "low": difference - 0.07,
                "high": difference + 0.06,
                "verdict": verdict,
            }
        )
    frame = pd.DataFrame(rows)
    frame["n"] = np.where(frame["task"] == "overall", N_TEST * len(TASKS), N_TEST)
    frame["n_permutations"] = 11
    return frame


def prompt_format_scores(model: str, best: dict[str, int | None]) -> pd.DataFrame:
    rows = []
    for task in SPACING_TASKS:
        default = "leading" if task.startswith("translation") else "none"
        for spacing, shift in (("none", -0.2), ("leading", 0.0)):
            for condition in ("baseline", "icl", "tv"):
                base, icl, peak, _ = plan(model, task)
                p = {"baseline": base, "icl": icl, "tv": peak}[condition]
                value, low, high = proportion(max(0.0, p + shift))
                rows.append(
                    {
                        "task": task,
                        "spacing": spacing,
                        "is_default": spacing == default,
                        "condition": condition,
                        "layer": (best[task] or 0) if condition == "tv" else -1,
                        "n": N_TEST,
                        "accuracy": value,
                        "low": low,
                        "high": high,
                    }
                )
    return pd.DataFrame(rows)


def gd_scores(model: str) -> pd.DataFrame:
    rows = []

    def add(kind, task, condition, metric, value, model_init="pretrained", n_demos=None, text=""):
        rows.append(
            {
                "kind": kind,
                "task": task,
                "model_init": model_init,
                "condition": condition,
                "metric": metric,
                "value": value,
                "low": value - 0.08,
                "high": value + 0.07,
                "n": N_TEST,
                "n_demos": n_demos,
                "text": text,
            }
        )

    for task in (*GD_TASKS, "overall"):
        for condition, value in (("baseline", 0.1), ("icl", 0.85), ("tv", 0.7), ("gd", 0.4)):
            add("accuracy", task, condition, "first_token", value)
            add("accuracy", task, condition, "full_answer", value - 0.05)
        for model_init, scale in (("pretrained", 1.0), ("random", 0.2)):
            add("agreement", task, "tv", "agreement_with_icl", 0.75 * scale, model_init)
            add("agreement", task, "gd", "agreement_with_icl", 0.45 * scale, model_init)
            for condition, kl in (("baseline", 3.1), ("tv", 0.9), ("gd", 2.2)):
                add("distribution", task, condition, "kl_median", kl / scale, model_init)
                add("distribution", task, condition, "top10_overlap", 1 / (1 + kl), model_init)
        for condition, value in (("icl", 0.3), ("gd", 0.15)):
            add("order", task, condition, "sensitivity", value)
        add(
            "verdict",
            task,
            "",
            "",
            math.nan,
            text=f"On {task}, the task vector is closer to ICL than GD (agreement 0.75 vs 0.45).",
        )
    for n_demos in (1, 2, 4, 8):
        for condition, value in (("icl", 0.4), ("tv", 0.3), ("gd", 0.2)):
            add(
                "n_demos",
                GD_TASKS[0],
                condition,
                "accuracy",
                min(1.0, value + 0.1 * math.log2(n_demos)),
                n_demos=n_demos,
            )
    for task in GD_TASKS:
        add("hyperparameters", task, "gd", "learning_rate", 0.001, text="adam, lora rank 4")
        add("hyperparameters", task, "gd", "steps", 8.0, text="chosen on dev")
    frame = pd.DataFrame(rows)
    frame["n_demos"] = frame["n_demos"].astype("float64")
    return frame


FV_TASKS = ("algorithmic_to_upper", "translation_fr_en", "knowledge_country_capital")


def function_vectors_raw(
    tasks=FV_TASKS, n_layers: int = 4, n_heads: int = 3, n: int = 20, ks=(1, 2)
) -> tuple[dict, dict, dict, dict]:
    """Hand-made raw tables of the function-vector job, already scored, and the main evals:
    ``(predictions, cie, geometry, evals)`` per task. The FV answers example ``i`` right when
    ``i % 4 != 0`` (75%), the TV when ``i % 2 == 0`` (50%), ICL always; head (1, 2) has the
    largest CIE in every task."""
    predictions, cie, geometry, evals = {}, {}, {}, {}
    for t, task in enumerate(tasks):
        rows = []
        for k in ks:
            for layer in range(n_layers):
                for i in range(n):
                    hit = layer == 1 and (k == ks[-1] or i % 2 == 0)
                    rows.append(("dev", i, k, layer, hit, hit, False))
            for i in range(n, 2 * n):
                hit = i % 4 != 0 if k == ks[-1] else i % 2 == 0
                rows.append(("test", i, k, 1, hit, hit, k == ks[-1]))
        frame = pd.DataFrame(rows, columns=["split", "example_id", "k", "layer", "correct_first",
                                            "correct_full", "chosen"])  # fmt: skip
        frame["condition"] = "fv"
        predictions[task] = frame
        heads = [(layer, head) for layer in range(n_layers) for head in range(n_heads)]
        effect = [
            0.5 if (layer, head) == (1, 2) else 0.01 * (layer + head + t) for layer, head in heads
        ]
        ranks = np.argsort(np.argsort(-np.asarray(effect), kind="stable"), kind="stable")
        cie[task] = pd.DataFrame({
            "layer": [h[0] for h in heads], "head": [h[1] for h in heads], "cie": effect,
            "cie_universal": effect, "rank_task": ranks, "rank_universal": ranks,
            "passes_filter": t != 2, "n_prompts": 5,
        })  # fmt: skip
        geometry[task] = pd.DataFrame(
            [("cosine", layer, -1, "", 0.1 * layer) for layer in range(n_layers)]
            + [("token", 1, r, tok, 5.0 - r) for r, tok in enumerate([" A", " B", " C"])],
            columns=["kind", "layer", "rank", "token", "value"],
        )
        eval_rows = []
        for condition, rule in (
            ("icl", lambda i: True),
            ("tv", lambda i: i % 2 == 0),
            ("baseline", lambda i: i % 5 == 0),
            ("majority", lambda i: False),
            ("copy", lambda i: i % 10 == 0),
        ):
            for i in range(n, 2 * n):
                hit = bool(rule(i))
                layer = 1 if condition == "tv" else -1
                eval_rows.append((i, condition, layer, hit, hit, hit))
        columns = ["example_id", "condition", "layer", "correct", "correct_first", "correct_full"]
        evals[task] = pd.DataFrame(eval_rows, columns=columns)
    return predictions, cie, geometry, evals


def function_vectors_scores(model: str) -> pd.DataFrame:
    """The score table of :func:`function_vectors_raw` through the analysis's own scoring."""
    from taskvectors.analyses.function_vectors.score import score_tables

    return score_tables(*function_vectors_raw(), model=model)


# -- writing ------------------------------------------------------------------------------------


RL_CONDITIONS = ["gold", "shuffled", "random", "abstract"]
RL_NOVEL_CONDITIONS = ["gold", "show_query"]
RL_TASKS = {
    "algorithmic_next_letter": "algorithmic",
    "translation_fr_en": "translation",
    "novel_letter_shift": "novel",
}


def recognition_learning_scores(model: str) -> pd.DataFrame:
    """ICL recognises (shuffled and random above the baseline) and learns the abstract labels;
    the task vector recognises but learns nothing (abstract and novel at chance)."""
    rows = []
    base = {"task": "", "family": "", "condition": "", "method": "", "target": "condition",
            "metric": "accuracy", "layer": -1, "n": N_TEST, "chance": 1 / 26,
            "verdict": ""}  # fmt: skip

    def add(**fields):
        rows.append({**base, **fields})

    for task, family in RL_TASKS.items():
        conditions = RL_NOVEL_CONDITIONS if family == "novel" else RL_CONDITIONS
        for condition in conditions:
            keys = {"task": task, "family": family, "condition": condition}
            icl = 0.9 if condition == "gold" else 0.6
            tv = 0.05 if family == "novel" or condition == "abstract" else 0.5
            fv = tv / 2  # the function vector, half the task vector's accuracy
            for method, p in (("icl", icl), ("tv", tv), ("fv", fv), ("baseline", 0.1)):
                layer = {"tv": 3, "fv": 2}.get(method, -1)
                for target in ("condition", "gold"):
                    value, low, high = proportion(p)
                    add(**keys, method=method, target=target, layer=layer, value=value,
                        low=low, high=high)  # fmt: skip
            add(**keys, method="tv", metric="best_layer", layer=3, value=3.0, low=np.nan,
                high=np.nan)  # fmt: skip
            for layer in range(MODELS[model]):
                value, low, high = proportion(tv * (1 - abs(layer - 3) / 8))
                add(**keys, method="tv", metric="sweep", layer=layer, value=value, low=low,
                    high=high)  # fmt: skip
            for method, p in (("icl", icl), ("tv", tv), ("fv", fv)):
                if condition != "gold":
                    add(**keys, method=method, metric="diff_vs_gold", value=p - 0.9,
                        low=p - 1.0, high=p - 0.8, verdict="not above gold")  # fmt: skip
                verdict = "learning" if method == "icl" else "no learning shown"
                add(**keys, method=method, metric="above_chance", value=p - 0.04,
                    low=p - 0.15, high=p + 0.05, verdict=verdict)  # fmt: skip
    for pool, conditions in (("familiar", RL_CONDITIONS), ("novel", RL_NOVEL_CONDITIONS)):
        for condition in conditions:
            for method in ("icl", "tv", "fv"):
                keys = {"task": "overall", "family": pool, "condition": condition,
                        "method": method, "n": 2 * N_TEST}  # fmt: skip
                add(**keys, target="gold", metric="above_baseline", value=0.4, low=0.3,
                    high=0.5, verdict="recognition")  # fmt: skip
                verdict = "learning" if method == "icl" else "no learning shown"
                add(**keys, metric="above_chance", value=0.2, low=0.1, high=0.3, verdict=verdict)
    return pd.DataFrame(rows)


def _benchmark(path: Path, seconds: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\tmax_vms\n{seconds:.2f}\t0:00:01\t{seconds * 9:.1f}\t1\n")
    return path


def write_synthetic_results(root: Path) -> SyntheticRun:
    """Write the synthetic run below ``root`` and return it."""
    root = Path(root)
    rng = np.random.default_rng(41)
    sweeps, records, rows, scores, benchmarks = {}, {}, [], {}, []
    bench = root / "benchmarks"
    for model, n_layers in MODELS.items():
        records[model] = root / "models" / f"{model}.json"
        write_json(
            records[model],
            {
                "alias": model,
                "source": "hub",
                "name_or_path": SOURCES[model],
                "revision": "main",
                "local_path": "",
                "dtype": "float32",
                "device": "cpu",
                "model_type": "gptj",
                "n_layers": n_layers,
                "d_model": 16,
                "vocab_size": 50400,
                "provenance": PROVENANCE,
            },
        )
        benchmarks.append(_benchmark(bench / "prepare_model" / f"{model}.tsv", 2.5))
        best = {}
        for task in TASKS:
            frame = sweep(model, task)
            sweeps[model, task] = root / "sweeps" / model / f"{task}.parquet"
            write_table(sweeps[model, task], frame, PROVENANCE)
            marked = frame[(frame["split"] == "dev") & frame["is_best"]]
            best[task] = int(marked["layer"].iloc[0]) if len(marked) else None
            rows.append(summary_row(model, task, best[task]))
            for rule, seconds in (("run_task", 12.0), ("evaluate", 1.5)):
                benchmarks.append(_benchmark(bench / rule / model / f"{task}.tsv", seconds))
        tables = {
            "geometry": geometry_scores(model, rng),
            "top_tokens": top_tokens_scores(model, best),
            "conflicts": conflict_scores(model, best),
            "order": order_scores(model),
            "prompt_format": prompt_format_scores(model, best),
            "gd": gd_scores(model),
            "function_vectors": function_vectors_scores(model),
            "recognition_learning": recognition_learning_scores(model),
        }
        for name, table in tables.items():
            scores[name, model] = root / "scores" / name / f"{model}.parquet"
            columns = registry()[name].score_columns
            write_score_table(scores[name, model], table, columns, PROVENANCE)
            benchmarks.append(_benchmark(bench / name / f"{model}.tsv", 20.0))
            benchmarks.append(_benchmark(bench / "score_analysis" / name / f"{model}.tsv", 1.0))
    summary = pd.DataFrame(rows)
    summary["best_layer"] = summary["best_layer"].astype("Int64")
    summary.to_csv(root / "summary.csv", index=False, float_format="%.4f")
    summary_models(summary).to_csv(root / "summary_models.csv", index=False, float_format="%.4f")
    write_json(root / "summary.provenance.json", {"provenance": PROVENANCE, "models": {}})
    benchmarks.append(_benchmark(bench / "summarize" / "all.tsv", 3.0))
    inputs = ReportInputs(
        summary=root / "summary.csv",
        summary_models=root / "summary_models.csv",
        summary_provenance=root / "summary.provenance.json",
        sweeps=sweeps,
        models=records,
        scores=scores,
        reference={
            "main_results": REFERENCE / "hendel2023_main_results.csv",
            "dev_accuracy_by_layer": REFERENCE / "hendel2023_dev_accuracy_by_layer.csv",
        },
        benchmarks=benchmarks,
    )
    config = {
        "results_dir": str(root),
        "evaluation": {"answer": "first_token"},
        "analyses": {name: {"enabled": True} for name in ANALYSES},
    }
    config["analyses"]["conflicts"]["pairs"] = [list(pair) for pair in CONFLICT_PAIRS]
    return SyntheticRun(root, inputs, tuple(MODELS), TASKS, CONFLICT_PAIRS, config)
