"""Sensitivity to the order of the demonstrations, with intervals and an ICL-versus-TV verdict.

ICL is known to depend on demo order. A task vector is one hidden state computed from the demos,
so the question is whether θ(S) washes the order out. Each example is run under several
permutations of its demos (permutation 0 is the original order); we measure how often the
prediction stays the same (agreement) and how much accuracy moves between permutations (spread),
each with a bootstrap interval over examples, and compare the two conditions on the same examples.

Invariance is about the prediction, not its correctness: a condition that always answers the
same wrong token is perfectly order-invariant, so read agreement beside accuracy.

Inputs are scored long tables with columns ``task, example_id, permutation, condition,
prediction, correct`` and one row per (task, condition, example, permutation); the task-vector
rows at one layer only (the task's best layer).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

import numpy as np
import pandas as pd

from taskvectors.scoring.stats import CONFIDENCE, N_BOOT, Interval, percentile_interval
from taskvectors.seeding import derived_seed

OVERALL = "overall"
METRICS = (
    "agreement_first",
    "agreement_all",
    "pairwise_agreement",
    "accuracy_mean",
    "accuracy_range",
    "accuracy_std",
)
SENSITIVITY_METRICS = {"pairwise": "pairwise_agreement", "first": "agreement_first"}
UNDETERMINED = "undetermined (interval crosses 0)"


def order_matrices(
    rows: pd.DataFrame, *, prediction: str = "prediction", correct: str = "correct"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One condition of one task as example × permutation matrices.

    Args:
        rows: ``example_id, permutation`` and the ``prediction`` (strings: fill a missing
            prediction with ``""`` first) and ``correct`` columns.

    Returns:
        ``(example_ids, predictions, correct)``: ``(n,)`` sorted example ids, ``(n, p)`` object
        array of predictions and ``(n, p)`` bool array, columns in permutation order (the lowest
        permutation, 0 = the original order, first).

    Raises:
        ValueError: when an (example, permutation) has no row or more than one.
    """
    if rows.duplicated(["example_id", "permutation"]).any():
        raise ValueError("more than one row per (example_id, permutation); filter to one layer")
    predicted = rows.pivot(index="example_id", columns="permutation", values=prediction)
    scored = rows.pivot(index="example_id", columns="permutation", values=correct)
    if predicted.isna().to_numpy().any() or scored.isna().to_numpy().any():
        raise ValueError("every example needs a prediction under every permutation")
    predicted = predicted.sort_index().sort_index(axis=1)
    scored = scored.loc[predicted.index, predicted.columns]
    return (
        predicted.index.to_numpy(),
        predicted.to_numpy(dtype=object),
        scored.to_numpy(dtype=bool),
    )


def example_agreement(predictions: np.ndarray) -> dict[str, np.ndarray]:
    """Per-example agreement of an ``(n, p)`` prediction matrix.

    Returns:
        ``(n,)`` float arrays: ``agreement_first`` (fraction of the other ``p − 1`` orders whose
        prediction equals the first order's), ``agreement_all`` (1 if every order agrees, else 0)
        and ``pairwise_agreement`` (fraction of the ``p(p − 1)/2`` pairs of orders that agree).
        With one permutation ``agreement_first`` and ``pairwise_agreement`` are NaN.
    """
    n, p = predictions.shape
    pairs = list(combinations(range(p), 2))
    equal = _columns_equal(predictions, pairs)
    first = _columns_equal(predictions, [(0, j) for j in range(1, p)])
    return {
        "agreement_first": first.mean(axis=1) if p > 1 else np.full(n, np.nan),
        "agreement_all": np.array([len(set(row)) == 1 for row in predictions], dtype=float),
        "pairwise_agreement": equal.mean(axis=1) if p > 1 else np.full(n, np.nan),
    }


def _columns_equal(predictions: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """``(n, len(pairs))`` bool: whether columns ``j`` and ``k`` of each pair hold equal values."""
    columns = [np.asarray(predictions[:, j] == predictions[:, k], dtype=bool) for j, k in pairs]
    return np.stack(columns, axis=1) if columns else np.zeros((len(predictions), 0), dtype=bool)


def _metrics(
    agreement: dict[str, np.ndarray], correct: np.ndarray, indices: np.ndarray
) -> dict[str, np.ndarray]:
    """Every metric for each row of example ``indices``: ``(b, n)`` → ``(b,)`` per metric."""
    per_permutation = correct[indices].mean(axis=1)  # (b, p)
    values = {name: agreement[name][indices].mean(axis=1) for name in METRICS[:3]}
    values["accuracy_mean"] = per_permutation.mean(axis=1)
    values["accuracy_range"] = per_permutation.max(axis=1) - per_permutation.min(axis=1)
    values["accuracy_std"] = per_permutation.std(axis=1)
    return values


def _resample_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n)`` example indices drawn with replacement."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _task_seed(seed: int, task: str) -> int:
    """The task's resampling seed; the same for every condition, so that conditions with the same
    examples are resampled identically (paired)."""
    return derived_seed(seed, "order", task)


# -- tables ------------------------------------------------------------------------------------


def order_table(
    frame: pd.DataFrame,
    *,
    n_boot: int = N_BOOT,
    seed: int,
    confidence: float = CONFIDENCE,
    prediction: str = "prediction",
    correct: str = "correct",
) -> pd.DataFrame:
    """Order sensitivity per task and condition, and over tasks, with bootstrap intervals.

    Metrics (each over examples, then with a percentile interval from ``n_boot`` resamples of
    the task's examples):

    * ``agreement_first``: mean fraction of non-original orders giving the original order's
      prediction;
    * ``agreement_all``: fraction of examples whose prediction is the same in every order;
    * ``pairwise_agreement``: mean fraction of agreeing pairs of orders;
    * ``accuracy_mean``: accuracy over all (example, order) rows;
    * ``accuracy_range`` and ``accuracy_std``: max − min and population std of the
      per-permutation accuracies (resampling examples re-computes every permutation's accuracy).

    The ``overall`` row of a condition is the mean over its tasks of each metric (tasks weigh
    the same); its interval resamples examples within every task (the tasks are fixed).

    Returns:
        One row per (task, condition), then one per condition with ``task == "overall"``:
        ``task, condition, n_examples, n_permutations`` and, for each metric ``m`` above,
        ``m, m_low, m_high``. ``n_permutations`` is the number of orders including the original
        (the overall row: the smallest over tasks).
    """
    records, replicates = [], {}
    for (task, condition), rows in frame.groupby(["task", "condition"], sort=True):
        _, predicted, scored = order_matrices(rows, prediction=prediction, correct=correct)
        agreement = example_agreement(predicted)
        everything = np.arange(len(predicted))[None, :]
        estimates = {m: float(v[0]) for m, v in _metrics(agreement, scored, everything).items()}
        indices = _resample_indices(len(predicted), n_boot, _task_seed(seed, task))
        boot = _metrics(agreement, scored, indices)
        replicates[task, condition] = (estimates, boot)
        records.append(_record(task, condition, predicted.shape, estimates, boot, confidence))
    records += _overall_records(records, replicates, confidence)
    columns = ["task", "condition", "n_examples", "n_permutations"]
    columns += [f"{m}{suffix}" for m in METRICS for suffix in ("", "_low", "_high")]
    return pd.DataFrame(records, columns=columns)


def _overall_records(
    records: list[dict[str, object]],
    replicates: dict[tuple[str, str], tuple[dict[str, float], dict[str, np.ndarray]]],
    confidence: float,
) -> list[dict[str, object]]:
    """Per condition, the mean over tasks of each metric and of its bootstrap replicates."""
    overall = []
    for condition in sorted({condition for _, condition in replicates}):
        parts = [value for (_, c), value in replicates.items() if c == condition]
        estimates = {m: float(np.mean([e[m] for e, _ in parts])) for m in METRICS}
        boot = {m: np.mean([b[m] for _, b in parts], axis=0) for m in METRICS}
        rows = [r for r in records if r["condition"] == condition]
        shape = (
            sum(int(r["n_examples"]) for r in rows),
            min(int(r["n_permutations"]) for r in rows),
        )
        overall.append(_record(OVERALL, condition, shape, estimates, boot, confidence))
    return overall


def _record(
    task: str,
    condition: str,
    shape: tuple[int, int],
    estimates: dict[str, float],
    boot: dict[str, np.ndarray],
    confidence: float,
) -> dict[str, object]:
    record: dict[str, object] = {
        "task": task,
        "condition": condition,
        "n_examples": int(shape[0]),
        "n_permutations": int(shape[1]),
    }
    for metric in METRICS:
        interval = percentile_interval(estimates[metric], boot[metric], shape[0], confidence)
        record |= {
            metric: interval.estimate,
            f"{metric}_low": interval.low,
            f"{metric}_high": interval.high,
        }
    return record


def _sensitivity(rows: pd.DataFrame, metric: str, prediction: str, correct: str) -> pd.Series:
    """Per-example order sensitivity (1 − agreement), indexed by example id."""
    ids, predicted, _ = order_matrices(rows, prediction=prediction, correct=correct)
    return pd.Series(1.0 - example_agreement(predicted)[metric], index=ids)


def order_comparison(
    frame: pd.DataFrame,
    *,
    a: str = "tv",
    b: str = "icl",
    metric: str = "pairwise",
    n_boot: int = N_BOOT,
    seed: int,
    confidence: float = CONFIDENCE,
    prediction: str = "prediction",
    correct: str = "correct",
) -> pd.DataFrame:
    """Paired comparison of the order sensitivity of two conditions, per task and overall.

    Order sensitivity of an example is ``1 − pairwise agreement`` (``metric="pairwise"``: the
    fraction of pairs of orders that disagree) or ``1 − agreement with the original order``
    (``metric="first"``). The difference ``a − b`` (TV − ICL by default) is taken on the
    examples both conditions have, resampled jointly (``n_boot`` paired resamples); negative
    means ``a`` is less sensitive. The ``overall`` row is the mean over tasks of the per-task
    differences, its interval from resampling examples within every task.

    Returns:
        One row per task, then ``task == "overall"``: ``task, n_examples, metric,
        sensitivity_{a}, sensitivity_{b}, {a}_minus_{b}, {a}_minus_{b}_low, {a}_minus_{b}_high,
        verdict`` (``yes``, ``no`` or ``undetermined (interval crosses 0)``, see
        ``order_verdict``) and ``verdict_text`` (the sentence for the report).
    """
    if metric not in SENSITIVITY_METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose {sorted(SENSITIVITY_METRICS)}")
    column = SENSITIVITY_METRICS[metric]
    name = f"{a}_minus_{b}"
    records, parts = [], []
    for task, rows in frame[frame["condition"].isin([a, b])].groupby("task", sort=True):
        by_condition = {c: g for c, g in rows.groupby("condition")}
        if set(by_condition) != {a, b}:
            continue
        first = _sensitivity(by_condition[a], column, prediction, correct)
        second = _sensitivity(by_condition[b], column, prediction, correct)
        shared = first.index.intersection(second.index)
        first, second = first.loc[shared].to_numpy(), second.loc[shared].to_numpy()
        indices = _resample_indices(len(shared), n_boot, _task_seed(seed, task))
        boot = (first[indices] - second[indices]).mean(axis=1)
        parts.append((first.mean(), second.mean(), boot))
        interval = percentile_interval(
            float(first.mean() - second.mean()), boot, len(shared), confidence
        )
        records.append(
            _comparison_record(task, metric, a, b, first.mean(), second.mean(), interval)
        )
    if parts:
        mean_a = float(np.mean([p[0] for p in parts]))
        mean_b = float(np.mean([p[1] for p in parts]))
        boot = np.mean([p[2] for p in parts], axis=0)
        n = sum(int(r["n_examples"]) for r in records)
        interval = percentile_interval(mean_a - mean_b, boot, n, confidence)
        records.append(_comparison_record(OVERALL, metric, a, b, mean_a, mean_b, interval))
    columns = [
        "task",
        "n_examples",
        "metric",
        f"sensitivity_{a}",
        f"sensitivity_{b}",
        name,
        f"{name}_low",
        f"{name}_high",
        "verdict",
        "verdict_text",
    ]
    return pd.DataFrame(records, columns=columns)


def _comparison_record(
    task: str, metric: str, a: str, b: str, mean_a: float, mean_b: float, interval: Interval
) -> dict[str, object]:
    name = f"{a}_minus_{b}"
    return {
        "task": task,
        "n_examples": interval.n,
        "metric": metric,
        f"sensitivity_{a}": float(mean_a),
        f"sensitivity_{b}": float(mean_b),
        name: interval.estimate,
        f"{name}_low": interval.low,
        f"{name}_high": interval.high,
        "verdict": order_verdict(interval),
        "verdict_text": verdict_sentence(interval, a, b),
    }


def order_verdict(difference: Interval) -> str:
    """Whether ``a`` is more order-invariant than ``b``, from the interval of ``a − b``
    sensitivity: ``yes`` when the whole interval is below 0, ``no`` when it is above 0,
    ``undetermined (interval crosses 0)`` when it contains 0 (including an interval of exactly
    [0, 0]: no measured difference), ``undetermined (no data)`` when it is NaN."""
    if np.isnan(difference.low) or np.isnan(difference.high):
        return "undetermined (no data)"
    if difference.high < 0:
        return "yes"
    if difference.low > 0:
        return "no"
    return UNDETERMINED


def verdict_sentence(
    difference: Interval, a: str = "tv", b: str = "icl", label: Callable[[str], str] = str.upper
) -> str:
    """``TV more order-invariant than ICL: yes (sensitivity TV − ICL −0.12, 95% interval −0.20 to
    −0.05, 50 examples)``."""
    first, second = label(a), label(b)
    head = f"{first} more order-invariant than {second}: {order_verdict(difference)}"
    if np.isnan(difference.estimate):
        return head
    return (
        f"{head} (sensitivity {first} − {second} {difference.estimate:+.2f}, interval "
        f"{difference.low:+.2f} to {difference.high:+.2f}, {difference.n} examples)"
    )
