"""Scoring ICL versus gradient descent: the long table the report's GD section renders.

Every number has its interval: accuracies a Wilson interval, agreements and mean KL a bootstrap
over examples, and the verdict compares TV and GD on the same examples (a paired bootstrap of
their agreement with ICL), so "closer to ICL" is a statement with its uncertainty. The random-init
control tells the reader what agreement and KL a model that learned nothing would show.

Table columns (docs/outputs.md): the analysis's ``score_columns``,
``kind, task, model_init, condition, metric, value, low, high, n, n_demos, text``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from taskvectors.analyses.gd import ANALYSIS
from taskvectors.analyses.spec import ScoreRequest
from taskvectors.results.files import read_prompt_document, read_result_table, table_provenance
from taskvectors.scoring.answers import is_correct
from taskvectors.scoring.stats import paired_bootstrap, wilson_intervals
from taskvectors.seeding import derived_seed

OVERALL = "overall"
COLUMNS = list(ANALYSIS.score_columns)  # the order ``_row`` takes its values in
SEED = 41
N_BOOT = 2000


def _row(kind: str, task: str, condition: str, metric: str, value: float, low: float,
         high: float, n: int, model_init: str = "pretrained", n_demos: int = 0,
         text: str = "") -> dict:  # fmt: skip
    values = [kind, task, model_init, condition, metric, float(value), float(low), float(high),
              int(n), int(n_demos), text]  # fmt: skip
    return dict(zip(COLUMNS, values, strict=True))


def proportion_rows(kind, task, condition, metric, hits: np.ndarray, **extra) -> dict:
    successes, n = int(np.sum(hits)), int(len(hits))
    low, high = wilson_intervals(successes, n)
    value = successes / n if n else np.nan
    return _row(kind, task, condition, metric, value, float(low), float(high), n, **extra)


def mean_row(kind, task, condition, metric, values: np.ndarray, seed: int, **extra) -> dict:
    """The mean of ``values`` with a percentile bootstrap interval over examples."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return _row(kind, task, condition, metric, np.nan, np.nan, np.nan, 0, **extra)
    draws = np.random.default_rng(seed).integers(0, values.size, (N_BOOT, values.size))
    means = values[draws].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return _row(kind, task, condition, metric, values.mean(), low, high, values.size, **extra)


def accuracy_rows(task: str, main: pd.DataFrame, evals: pd.DataFrame) -> list[dict]:
    """Accuracy of baseline, ICL, TV (from the main eval, same test examples) and GD."""
    ids = set(main["example_id"])
    same = evals[evals["example_id"].isin(ids) & evals["condition"].isin(["baseline", "icl", "tv"])]
    rows = []
    for metric, column, gd_column in (("first_token", "correct_first", "correct_first"),
                                      ("full_answer", "correct_full", "correct_full")):  # fmt: skip
        for condition, group in same.groupby("condition"):
            rows.append(proportion_rows("accuracy", task, condition, metric, group[column]))
        rows.append(proportion_rows("accuracy", task, "gd", metric, main[gd_column]))
    return rows


def agreement_rows(task: str, dist: pd.DataFrame) -> list[dict]:
    """How often each condition's first token equals ICL's, per model init."""
    rows = []
    for init, group in dist.groupby("model_init"):
        for condition in ("gd", "tv", "baseline"):
            hits = group[f"same_top1_{condition}"].astype(bool).to_numpy()
            rows.append(proportion_rows("agreement", task, condition, "agreement_with_icl",
                                        hits, model_init=init))  # fmt: skip
    return rows


def distribution_rows(task: str, dist: pd.DataFrame) -> list[dict]:
    rows = []
    for init, group in dist.groupby("model_init"):
        for condition in ("gd", "tv", "baseline"):
            seed = derived_seed(SEED, "gd", task, init, condition)
            kl = group[f"kl_icl_{condition}"].to_numpy()
            overlap = group[f"top_overlap_{condition}"].to_numpy()
            rows.append(mean_row("distribution", task, condition, "kl_mean", kl, seed,
                                 model_init=init))  # fmt: skip
            median = float(np.median(kl)) if len(kl) else np.nan
            rows.append(_row("distribution", task, condition, "kl_median", median, np.nan,
                             np.nan, len(kl), model_init=init))  # fmt: skip
            rows.append(mean_row("distribution", task, condition, "top10_overlap", overlap,
                                 seed, model_init=init))  # fmt: skip
    return rows


def order_rows(task: str, order: pd.DataFrame) -> list[dict]:
    """Per condition (ICL, GD): sensitivity = 1 − pairwise agreement of first tokens over orders,
    with a bootstrap interval over examples."""
    rows = []
    for condition, group in order.groupby("condition"):
        wide = group.pivot(index="example_id", columns="permutation", values="first_token")
        values = wide.to_numpy()
        pairs = [(i, j) for i in range(values.shape[1]) for j in range(i + 1, values.shape[1])]
        if not pairs:
            continue
        agree = np.mean([values[:, i] == values[:, j] for i, j in pairs], axis=0)
        seed = derived_seed(SEED, "gd order", task, condition)
        rows.append(mean_row("order", task, condition, "sensitivity", 1 - agree, seed))
    return rows


def demo_count_rows(task: str, counts: pd.DataFrame) -> list[dict]:
    rows = []
    for (k, condition), group in counts.groupby(["n_demos", "condition"]):
        rows.append(proportion_rows("n_demos", task, condition, "first_token",
                                    group["correct_first"], n_demos=int(k)))  # fmt: skip
    return rows


def verdict(tv: np.ndarray, gd: np.ndarray, kl: Mapping[str, float], model: str, init: str):
    """One sentence: which of TV and GD agrees more with ICL, with the paired interval."""
    if len(tv) == 0:
        return _row("verdict", OVERALL, "tv_minus_gd", "agreement_with_icl", np.nan, np.nan,
                    np.nan, 0, model_init=init, text="No examples to compare.")  # fmt: skip
    interval = paired_bootstrap(tv, gd, seed=derived_seed(SEED, "gd verdict", model, init))
    if interval.low > 0:
        closer = "the task vector is closer to ICL than gradient descent"
    elif interval.high < 0:
        closer = "gradient descent is closer to ICL than the task vector"
    else:
        closer = "the data do not separate the task vector and gradient descent"
    text = (
        f"On {model} ({init} weights), {closer}: first-token agreement with ICL "
        f"{tv.mean():.2f} for TV and {gd.mean():.2f} for GD (TV − GD {interval.estimate:+.2f}, "
        f"95% interval {interval.low:+.2f} to {interval.high:+.2f}, {interval.n} examples); "
        f"median KL(ICL ‖ TV) {kl['tv']:.2f} and KL(ICL ‖ GD) {kl['gd']:.2f} nats."
    )
    return _row("verdict", OVERALL, "tv_minus_gd", "agreement_with_icl", interval.estimate,
                interval.low, interval.high, interval.n, model_init=init, text=text)  # fmt: skip


def score_gd_tables(
    raw: Mapping[str, pd.DataFrame],
    distributions: Mapping[str, pd.DataFrame],
    evals: Mapping[str, pd.DataFrame],
    grids: Mapping[str, Sequence[Mapping]],
    model: str,
) -> pd.DataFrame:
    """The long table of the GD section (module docstring); ``raw`` holds scored predictions."""
    rows = []
    for task, predictions in raw.items():
        main = predictions[predictions["experiment"] == "main"]
        rows += accuracy_rows(task, main, evals[task])
        rows += agreement_rows(task, distributions[task])
        rows += distribution_rows(task, distributions[task])
        rows += order_rows(task, predictions[predictions["experiment"] == "order"])
        rows += demo_count_rows(task, predictions[predictions["experiment"] == "n_demos"])
        for point in grids.get(task, [])[:1]:
            for name in ("learning_rate", "epochs"):
                value = point[f"chosen_{name}"]
                rows.append(_row("hyperparameters", task, "gd", name, value, np.nan, np.nan, 0,
                                 text="chosen on dev"))  # fmt: skip
    everything = pd.concat(list(distributions.values()) or [pd.DataFrame()], ignore_index=True)
    rows += agreement_rows(OVERALL, everything) if len(everything) else []
    rows += distribution_rows(OVERALL, everything) if len(everything) else []
    for init, group in everything.groupby("model_init") if len(everything) else []:
        kl = {c: float(np.median(group[f"kl_icl_{c}"])) for c in ("tv", "gd")}
        rows.append(verdict(group["same_top1_tv"].to_numpy(float),
                            group["same_top1_gd"].to_numpy(float), kl, model, init))  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def score_gd(
    raw: Mapping[str, Path],
    distributions: Mapping[str, pd.DataFrame],
    documents: Mapping[str, Any],
    evals: Mapping[str, pd.DataFrame],
    model: str,
) -> pd.DataFrame:
    """GD beside ICL, TV and the baseline (:func:`score_gd_tables`)."""
    scored, grids = {}, {}
    for task, path in raw.items():
        rows = read_result_table(path)
        answers = {ex.example_id: ex.answers for ex in documents[task].split("test")}
        mode = documents[task].scoring
        for column, source in (("correct_first", "first_token"), ("correct_full", "answer")):
            rows[column] = [
                is_correct(p, answers[int(i)], mode)
                for p, i in zip(rows[source].fillna(""), rows["example_id"], strict=True)
            ]
        scored[task] = rows
        grids[task] = table_provenance(path).get("grid", [])
    return score_gd_tables(scored, distributions, evals, grids, model)


def score(request: ScoreRequest) -> pd.DataFrame:
    """The GD score table of one model from its raw files, prompts and evals."""
    tasks = request.tasks
    documents = {t: read_prompt_document(request.inputs["prompts"][t]) for t in tasks}
    evals = {t: read_result_table(request.inputs["evals"][t], "eval") for t in tasks}
    distributions = {t: read_result_table(request.raw["dist"][t]) for t in tasks}
    return score_gd(request.raw[""], distributions, documents, evals, request.model)
