"""Uncertainty for every number the suite prints: Wilson intervals and paired bootstraps.

A test set of 50 prompts gives an accuracy that moves by ±0.14 from sampling alone, so a table
of bare accuracies cannot say whether the task vector really trails ICL on a task, nor whether a
trivial baseline would have done as well. This module turns correctness columns into estimates
with 95% intervals:

* ``wilson_interval`` / ``wilson_intervals`` / ``proportion_table``: one accuracy (a binomial
  proportion) with its Wilson score interval, which stays inside [0, 1] and behaves at 0 and n;
* ``paired_bootstrap``: TV − ICL (or TV / ICL) on one task, resampling examples jointly so each
  example keeps both of its answers;
* ``task_mean_bootstrap``: the same comparison for the mean over tasks (the paper's headline),
  resampling tasks and then examples within each drawn task;
* ``baseline_explains`` / ``baseline_flags``: whether a model-free baseline reaches a condition's
  interval, i.e. whether the condition's accuracy could be had without the model.

Pure functions over numpy arrays and DataFrames; randomness comes only from the ``seed``
argument (derive it with ``derived_seed``, never Python's ``hash``), so a table is identical in
every process.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from taskvectors.seeding import derived_seed

CONFIDENCE = 0.95
N_BOOT = 2000
Statistic = Literal["diff", "ratio"]


class Interval(NamedTuple):
    """A point estimate with its interval; ``n`` is the number of units resampled (examples or
    tasks). ``low`` and ``high`` are NaN when the estimate is undefined (``n == 0``)."""

    estimate: float
    low: float
    high: float
    n: int


# -- proportions ---------------------------------------------------------------------------------


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_intervals(
    successes: ArrayLike, n: ArrayLike, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score intervals of many proportions at once (arrays or DataFrame columns).

    For ``k`` successes out of ``n`` and ``z`` the normal quantile of the confidence, the bounds
    are ``(p + z²/2n ± z·sqrt(p(1−p)/n + z²/4n²)) / (1 + z²/n)`` with ``p = k/n``. Entries with
    ``n == 0`` get ``(nan, nan)``.

    Returns:
        ``(low, high)``, float arrays of the broadcast shape of ``successes`` and ``n``.
    """
    k = np.asarray(successes, dtype=np.float64)
    total = np.asarray(n, dtype=np.float64)
    if np.any(total < 0) or np.any(k < 0) or np.any(k > total):
        raise ValueError("need 0 <= successes <= n")
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / total
        denominator = 1 + z**2 / total
        centre = (p + z**2 / (2 * total)) / denominator
        half = z * np.sqrt(p * (1 - p) / total + z**2 / (4 * total**2)) / denominator
        # At k = 0 (k = n) the bound is exactly 0 (1); rounding would leave it 1e-17 off.
        low = np.where(k == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
        high = np.where(k == total, 1.0, np.clip(centre + half, 0.0, 1.0))
        low = np.where(total > 0, low, np.nan)
        high = np.where(total > 0, high, np.nan)
    return low, high


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of ``successes`` out of ``n``; ``(nan, nan)`` when ``n == 0``."""
    low, high = wilson_intervals(successes, n, confidence)
    return float(low), float(high)


def proportion_table(
    frame: pd.DataFrame,
    by: Sequence[str],
    correct: str = "correct",
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Accuracy with its Wilson interval for each group of a long table of scored rows.

    Args:
        frame: one row per scored prediction, with the ``by`` columns and a boolean ``correct``.
        by: the grouping columns (e.g. ``["task", "condition"]``).

    Returns:
        One row per group, in sorted group order: the ``by`` columns, then ``accuracy`` (float),
        ``n`` and ``successes`` (int), ``ci_low`` and ``ci_high`` (float).
    """
    by = list(by)
    if frame[correct].isna().any():
        raise ValueError(f"column {correct!r} has missing values; score every row first")
    scored = frame[[*by, correct]].assign(_hit=frame[correct].astype(bool).astype(int))
    table = scored.groupby(by, as_index=False, sort=True).agg(
        n=("_hit", "size"), successes=("_hit", "sum")
    )
    table["accuracy"] = table["successes"] / table["n"]
    table["ci_low"], table["ci_high"] = wilson_intervals(table["successes"], table["n"], confidence)
    table = table.astype({"n": "int64", "successes": "int64"})
    return table[[*by, "accuracy", "n", "successes", "ci_low", "ci_high"]]


# -- bootstraps ----------------------------------------------------------------------------------


def _compare(mean_a: np.ndarray, mean_b: np.ndarray, statistic: Statistic) -> np.ndarray:
    """``a − b`` or ``a / b`` (NaN where ``b == 0``), elementwise."""
    if statistic == "diff":
        return mean_a - mean_b
    if statistic == "ratio":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(mean_b > 0, mean_a / np.where(mean_b > 0, mean_b, 1.0), np.nan)
    raise ValueError(f"unknown statistic {statistic!r}; choose 'diff' or 'ratio'")


def percentile_interval(
    estimate: float, replicates: np.ndarray, n: int, confidence: float = CONFIDENCE
) -> Interval:
    """The percentile interval of bootstrap ``replicates`` around ``estimate``.

    Undefined replicates (NaN, e.g. a ratio whose denominator was resampled to 0) are left out;
    the interval is NaN when none is defined or the estimate itself is NaN.
    """
    _z(confidence)
    finite = replicates[np.isfinite(replicates)]
    if not np.isfinite(estimate) or finite.size == 0:
        return Interval(float(estimate), np.nan, np.nan, n)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return Interval(float(estimate), float(low), float(high), n)


def _paired_arrays(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    first = np.asarray(a, dtype=np.float64).ravel()
    second = np.asarray(b, dtype=np.float64).ravel()
    if first.shape != second.shape:
        raise ValueError(f"paired arrays differ in length: {first.size} vs {second.size}")
    return first, second


def _resampled_means(values: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Means of ``values`` over each row of ``indices``: ``(n_boot, n)`` → ``(n_boot,)``."""
    return values[indices].mean(axis=1)


def paired_bootstrap(
    a: ArrayLike,
    b: ArrayLike,
    *,
    statistic: Statistic = "diff",
    n_boot: int = N_BOOT,
    seed: int,
    confidence: float = CONFIDENCE,
) -> Interval:
    """Bootstrap interval of ``mean(a) − mean(b)`` (or ``mean(a) / mean(b)``) over paired examples.

    Example ``i`` is ``(a[i], b[i])`` — e.g. whether TV and ICL answered query ``i``; a resample
    draws ``n`` examples with replacement and keeps each pair together, so the interval accounts
    for the two conditions being scored on the same queries. Percentile interval of ``n_boot``
    resamples.

    Args:
        a, b: ``(n,)`` boolean or float arrays aligned by example (a is the first condition, TV
            in TV − ICL).
        statistic: ``"diff"`` (``mean(a) − mean(b)``) or ``"ratio"`` (``mean(a) / mean(b)``,
            NaN when ``mean(b) == 0``; such resamples are left out of the interval).
        seed: the generator's seed (derive it with ``derived_seed``).

    Returns:
        ``Interval(estimate, low, high, n)``; all NaN but ``n == 0`` for empty arrays.
    """
    first, second = _paired_arrays(a, b)
    n = first.size
    if n == 0:
        return Interval(np.nan, np.nan, np.nan, 0)
    estimate = float(_compare(np.array(first.mean()), np.array(second.mean()), statistic))
    indices = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    replicates = _compare(
        _resampled_means(first, indices), _resampled_means(second, indices), statistic
    )
    return percentile_interval(estimate, replicates, n, confidence)


def paired_by_task(
    frame: pd.DataFrame,
    *,
    a: str = "tv",
    b: str = "icl",
    task: str = "task",
    example: str = "example_id",
    condition: str = "condition",
    correct: str = "correct",
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per task, the correctness of conditions ``a`` and ``b`` aligned by example.

    Args:
        frame: long table with one row per (task, example, condition), e.g. the eval tables of
            several tasks concatenated (TV rows at the best layer only).

    Returns:
        ``{task: (a_correct, b_correct)}``, float arrays of equal length ordered by example id;
        examples missing either condition are dropped. Tasks in sorted order.
    """
    rows = frame[frame[condition].isin([a, b])]
    if rows.duplicated([task, example, condition]).any():
        raise ValueError(
            f"more than one row per ({task}, {example}, {condition}); filter to one layer first"
        )
    wide = rows.pivot(index=[task, example], columns=condition, values=correct)
    wide = wide.reindex(columns=[a, b]).dropna().astype(np.float64)
    return {
        name: (group[a].to_numpy(), group[b].to_numpy())
        for name, group in wide.groupby(level=0, sort=True)
    }


def task_differences(
    frame: pd.DataFrame,
    *,
    a: str = "tv",
    b: str = "icl",
    n_boot: int = N_BOOT,
    seed: int,
    confidence: float = CONFIDENCE,
    **columns: str,
) -> pd.DataFrame:
    """``a − b`` per task with its paired bootstrap interval over the task's examples.

    Each task's resamples are seeded with ``derived_seed(seed, task)``, so adding a task does
    not change the others' intervals. ``columns`` renames the input columns as in
    ``paired_by_task``.

    Returns:
        One row per task: ``task, n`` (paired examples), ``{a}, {b}`` (accuracies),
        ``{a}_minus_{b}, {a}_minus_{b}_low, {a}_minus_{b}_high``.
    """
    name = f"{a}_minus_{b}"
    records = []
    for task, (first, second) in paired_by_task(frame, a=a, b=b, **columns).items():
        interval = paired_bootstrap(
            first, second, n_boot=n_boot, seed=derived_seed(seed, task), confidence=confidence
        )
        records.append(
            {
                "task": task,
                "n": interval.n,
                a: float(first.mean()),
                b: float(second.mean()),
                name: interval.estimate,
                f"{name}_low": interval.low,
                f"{name}_high": interval.high,
            }
        )
    return pd.DataFrame(records, columns=["task", "n", a, b, name, f"{name}_low", f"{name}_high"])


def _two_level_means(
    tasks: list[tuple[np.ndarray, np.ndarray]],
    drawn: np.ndarray,
    rng: np.random.Generator,
    resample_examples: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean over drawn tasks of each condition's accuracy, per replicate.

    ``drawn`` is ``(n_boot, n_tasks)`` task indices. Every (replicate, slot) that draws task
    ``t`` gets its own resample of ``t``'s examples (pairs kept together) when
    ``resample_examples``, else ``t``'s observed accuracies.

    Returns:
        ``(mean_a, mean_b)``, each ``(n_boot,)``.
    """
    acc_a = np.empty(drawn.shape)
    acc_b = np.empty(drawn.shape)
    for t, (first, second) in enumerate(tasks):
        slots = drawn == t
        count = int(slots.sum())
        if count == 0:
            continue
        if resample_examples:
            indices = rng.integers(0, first.size, size=(count, first.size))
            acc_a[slots] = _resampled_means(first, indices)
            acc_b[slots] = _resampled_means(second, indices)
        else:
            acc_a[slots] = first.mean()
            acc_b[slots] = second.mean()
    return acc_a.mean(axis=1), acc_b.mean(axis=1)


def task_mean_bootstrap(
    frame: pd.DataFrame,
    *,
    a: str = "tv",
    b: str = "icl",
    level: Literal["two_level", "tasks"] = "two_level",
    n_boot: int = N_BOOT,
    seed: int,
    confidence: float = CONFIDENCE,
    **columns: str,
) -> pd.DataFrame:
    """The mean over tasks of two conditions, their difference and their ratio, with intervals.

    Definitions, over the ``K`` tasks of ``frame`` (each task weighs the same, whatever its
    number of examples, as in the paper's per-model averages):

    * ``{a}`` and ``{b}``: the mean over tasks of the task's accuracy;
    * ``{a}_minus_{b}``: ``mean_a − mean_b`` (equal to the mean of per-task differences);
    * ``{a}_{b}_ratio``: the **ratio of the means**, ``mean_a / mean_b`` — the paper's "TV/ICL"
      column — not the mean of per-task ratios. A task with ICL accuracy 0 therefore needs no
      special case: it adds 0 to the denominator and its TV accuracy to the numerator, exactly
      as in the paper's average. The ratio is undefined (NaN) only when every task's ``b`` is 0;
      bootstrap replicates where that happens are left out of the interval.

    Resampling (percentile intervals of ``n_boot`` replicates):

    * ``"two_level"`` (default): draw ``K`` tasks with replacement, then for every drawn task
      draw its examples with replacement (each example keeps its pair of answers). The interval
      covers both which tasks were chosen and the test-set noise within each task.
    * ``"tasks"``: draw tasks only, keeping each task's observed accuracies (the variation
      between tasks alone).

    Args:
        frame: long table, one row per (task, example, condition); see ``paired_by_task``.

    Returns:
        Four rows, ``statistic`` = ``{a}``, ``{b}``, ``{a}_minus_{b}``, ``{a}_{b}_ratio``, with
        ``estimate, ci_low, ci_high, n_tasks, n_examples, n_boot, level``.
    """
    if level not in ("two_level", "tasks"):
        raise ValueError(f"unknown level {level!r}; choose 'two_level' or 'tasks'")
    tasks = list(paired_by_task(frame, a=a, b=b, **columns).values())
    names = [a, b, f"{a}_minus_{b}", f"{a}_{b}_ratio"]
    n_tasks = len(tasks)
    if n_tasks == 0:
        intervals = [Interval(np.nan, np.nan, np.nan, 0)] * 4
    else:
        mean_a = float(np.mean([first.mean() for first, _ in tasks]))
        mean_b = float(np.mean([second.mean() for _, second in tasks]))
        rng = np.random.default_rng(seed)
        drawn = rng.integers(0, n_tasks, size=(n_boot, n_tasks))
        boot_a, boot_b = _two_level_means(tasks, drawn, rng, level == "two_level")
        estimates = [mean_a, mean_b, mean_a - mean_b]
        estimates.append(float(_compare(np.array(mean_a), np.array(mean_b), "ratio")))
        replicates = [boot_a, boot_b, boot_a - boot_b, _compare(boot_a, boot_b, "ratio")]
        intervals = [
            percentile_interval(e, r, n_tasks, confidence)
            for e, r in zip(estimates, replicates, strict=True)
        ]
    n_examples = int(sum(first.size for first, _ in tasks))
    return pd.DataFrame(
        {
            "statistic": names,
            "estimate": [i.estimate for i in intervals],
            "ci_low": [i.low for i in intervals],
            "ci_high": [i.high for i in intervals],
            "n_tasks": n_tasks,
            "n_examples": n_examples,
            "n_boot": n_boot,
            "level": level,
        }
    )


# -- baselines against intervals -----------------------------------------------------------------


def baseline_explains(baseline_accuracy: float, condition_low: float) -> bool:
    """Whether a model-free baseline accounts for a condition's accuracy.

    True when the baseline's accuracy is at or above the lower end of the condition's 95%
    interval (``baseline_accuracy >= condition_low``): the baseline lies within the interval or
    above it, so the data do not show the condition beating "always answer the majority" or
    "copy the query". The baseline's accuracy is taken as a fixed number (it is a rule, not a
    sample of model behaviour). False when either number is NaN (nothing measured).
    """
    if np.isnan(baseline_accuracy) or np.isnan(condition_low):
        return False
    return bool(baseline_accuracy >= condition_low)


def baseline_flags(
    table: pd.DataFrame,
    *,
    baselines: Sequence[str] = ("majority", "copy"),
    conditions: Sequence[str] = ("icl", "tv"),
    by: Sequence[str] = ("task",),
) -> pd.DataFrame:
    """Per task, which baseline reaches which condition's interval (see ``baseline_explains``).

    Args:
        table: a ``proportion_table`` grouped by ``[*by, "condition"]`` that holds the baseline
            and model conditions (the baselines scored on the same test queries).

    Returns:
        One row per ``by`` group: the ``by`` columns, then for each baseline ``c`` and condition
        ``d``: ``{c}_explains_{d}`` (bool); and ``explained_by``: the baselines that explain ICL
        or TV, ``+``-joined in the order of ``baselines`` (empty string when none).
    """
    by = list(by)
    wide = table.pivot_table(index=by, columns="condition", values=["accuracy", "ci_low"])
    out = pd.DataFrame(index=wide.index)
    for base in baselines:
        for cond in conditions:
            out[f"{base}_explains_{cond}"] = [
                baseline_explains(acc, low)
                for acc, low in zip(
                    _column(wide, "accuracy", base), _column(wide, "ci_low", cond), strict=True
                )
            ]
    out["explained_by"] = [
        "+".join(base for base in baselines if any(row[f"{base}_explains_{c}"] for c in conditions))
        for _, row in out.iterrows()
    ]
    return out.reset_index()


def _column(wide: pd.DataFrame, value: str, condition: str) -> np.ndarray:
    """A (value, condition) column of a pivoted table, NaN when the condition is absent."""
    if (value, condition) in wide.columns:
        return wide[(value, condition)].to_numpy(dtype=np.float64)
    return np.full(len(wide), np.nan)
