"""A small, fully synthetic run in exactly the formats of docs/outputs.md, for the report's tests.

``write_synthetic_results(tmp_path)`` writes every file the ``report`` rule declares for 2 models ×
6 tasks: model records, sweeps (Parquet with provenance), ``summary.csv``, ``summary_models.csv``,
``summary.provenance.json``, the score table of every analysis (each made by its folder's
``synthetic`` function, ``Analysis.synthetic``) and Snakemake benchmark files. No
model runs; the numbers follow a plan (``PLAN``) so that tests can predict what the page says:

- ``gpt-j`` matches the paper's GPT-J 6B; ``tiny-gpt2`` matches no paper model;
- ``gpt-j`` × ``algorithmic_list_first`` fails the paper's filter and its copy baseline reaches
  the lower end of ICL's interval (``explained_by == "copy"``);
- ``tiny-gpt2`` × ``knowledge_country_capital`` scores 0 at every layer on dev: no best layer;
- so the ``shared`` task set holds the four tasks both models keep.

Intervals are Wilson intervals of the planned counts (``taskvectors.scoring.stats``), so they are
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
from taskvectors.analyses.spec import load_function
from taskvectors.analyses.synthetic import SyntheticModel
from taskvectors.report import ReportInputs, build_report
from taskvectors.results.files import write_score_table
from taskvectors.results.storage import write_json, write_table

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
#: The analyses in the synthetic run: those that declare a ``synthetic`` score table (each
#: analysis's folder makes its own, so a new analysis edits nothing here).
ANALYSES = tuple(name for name, analysis in registry().items() if analysis.synthetic)
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
    #: each analysis's report heading, in registry order, and the analyses' figure files (below
    #: ``figures/``), as their ``synthetic`` functions say the report must show them
    analysis_headings: dict[str, str]
    analysis_figures: frozenset[str]

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


def synthetic_model(model: str, best: dict[str, int | None], rng) -> SyntheticModel:
    """What every analysis's ``synthetic`` function gets for ``model``: the planned run."""
    return SyntheticModel(
        model=model,
        n_layers=MODELS[model],
        tasks=TASKS,
        best_layers=best,
        accuracies={task: plan(model, task)[:3] for task in TASKS},
        pairs=CONFLICT_PAIRS,
        n_test=N_TEST,
        proportion=proportion,
        rng=rng,
    )


def _benchmark(path: Path, seconds: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\tmax_vms\n{seconds:.2f}\t0:00:01\t{seconds * 9:.1f}\t1\n")
    return path


def write_synthetic_results(root: Path) -> SyntheticRun:
    """Write the synthetic run below ``root`` and return it."""
    root = Path(root)
    rng = np.random.default_rng(41)
    sweeps, records, rows, scores, benchmarks = {}, {}, [], {}, []
    headings: dict[str, str] = {}
    figures: set[str] = set()
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
        synthetic = synthetic_model(model, best, rng)
        for name in ANALYSES:
            made = load_function(registry()[name].synthetic)(synthetic)
            headings.setdefault(name, made.heading)
            figures.update(made.figures)
            scores[name, model] = root / "scores" / name / f"{model}.parquet"
            columns = registry()[name].score_columns
            write_score_table(scores[name, model], made.table, columns, PROVENANCE)
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
    return SyntheticRun(
        root, inputs, tuple(MODELS), TASKS, CONFLICT_PAIRS, config, headings, frozenset(figures)
    )
