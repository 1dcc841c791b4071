"""Intervals and bootstraps against published values and cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from taskvectors.scoring.stats import (
    Interval,
    baseline_explains,
    baseline_flags,
    paired_bootstrap,
    paired_by_task,
    percentile_interval,
    proportion_table,
    task_differences,
    task_mean_bootstrap,
    wilson_interval,
    wilson_intervals,
)

# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3
# (Wilson score interval without continuity correction).
NEWCOMBE = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("k", "n", "low", "high"), NEWCOMBE)
def test_wilson_matches_newcombes_table(k, n, low, high):
    assert wilson_interval(k, n) == pytest.approx((low, high), abs=5e-5)


def test_wilson_edges_and_width():
    assert all(np.isnan(wilson_interval(0, 0)))
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and low == pytest.approx(1 - wilson_interval(0, 10)[1])  # symmetric
    assert wilson_interval(25, 50, confidence=0.99)[0] < wilson_interval(25, 50)[0]
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    with pytest.raises(ValueError):
        wilson_interval(1, 2, confidence=1.0)


def test_wilson_vectorised_equals_scalar():
    successes, n = np.array([0, 15, 81, 0]), np.array([20, 148, 263, 0])
    low, high = wilson_intervals(pd.Series(successes), pd.Series(n))
    for i in range(3):
        assert (low[i], high[i]) == pytest.approx(wilson_interval(successes[i], n[i]))
    assert np.isnan(low[3]) and np.isnan(high[3])


def test_proportion_table_groups_and_intervals():
    frame = pd.DataFrame(
        {
            "task": ["a"] * 4 + ["b"] * 2,
            "condition": ["icl", "icl", "tv", "tv", "icl", "icl"],
            "correct": [True, True, True, False, False, False],
        }
    )
    table = proportion_table(frame, by=["task", "condition"])
    assert list(table.columns) == [
        "task",
        "condition",
        "accuracy",
        "n",
        "successes",
        "ci_low",
        "ci_high",
    ]
    rows = table.set_index(["task", "condition"])
    assert rows.loc[("a", "tv"), "accuracy"] == 0.5 and rows.loc[("a", "tv"), "n"] == 2
    assert rows.loc[("b", "icl"), "successes"] == 0
    assert (rows.loc[("a", "tv"), "ci_low"], rows.loc[("a", "tv"), "ci_high"]) == pytest.approx(
        wilson_interval(1, 2)
    )
    with pytest.raises(ValueError, match="missing"):
        proportion_table(frame.assign(correct=[True, None] * 3), by=["task"])


def test_paired_bootstrap_degenerate_cases():
    ones, zeros = np.ones(30, dtype=bool), np.zeros(30, dtype=bool)
    assert paired_bootstrap(ones, zeros, seed=1) == Interval(1.0, 1.0, 1.0, 30)
    same = np.arange(30) % 3 == 0
    assert paired_bootstrap(same, same, seed=1) == Interval(0.0, 0.0, 0.0, 30)
    empty = paired_bootstrap([], [], seed=1)
    assert empty.n == 0 and np.isnan(empty.estimate) and np.isnan(empty.low)
    with pytest.raises(ValueError, match="differ in length"):
        paired_bootstrap([1, 0], [1], seed=1)


def test_paired_bootstrap_width_follows_the_paired_differences():
    # a is right on 30 of 50, b on the first 20 of those: the difference is 1 on 10 examples
    # and 0 elsewhere, so the standard error is sqrt(0.2 * 0.8 / 50) = 0.057.
    a = np.r_[np.ones(30), np.zeros(20)]
    b = np.r_[np.ones(20), np.zeros(30)]
    interval = paired_bootstrap(a, b, n_boot=4000, seed=7)
    assert interval.estimate == pytest.approx(0.2)
    assert interval.low == pytest.approx(0.2 - 1.96 * 0.0566, abs=0.03)
    assert interval.high == pytest.approx(0.2 + 1.96 * 0.0566, abs=0.03)
    # Unpaired, the same accuracies would give a much wider interval: pairing matters.
    assert interval.high - interval.low < 2 * 1.96 * np.sqrt(0.24 / 50 + 0.24 / 50)
    assert paired_bootstrap(a, b, n_boot=4000, seed=7) == interval
    assert paired_bootstrap(a, b, n_boot=4000, seed=8) != interval


def test_paired_bootstrap_ratio():
    a = np.r_[np.ones(30), np.zeros(20)]
    b = np.r_[np.ones(20), np.zeros(30)]
    ratio = paired_bootstrap(a, b, statistic="ratio", seed=3)
    assert ratio.estimate == pytest.approx(1.5)
    assert ratio.low < 1.5 < ratio.high
    assert np.isnan(paired_bootstrap(a, np.zeros(50), statistic="ratio", seed=3).estimate)
    with pytest.raises(ValueError, match="unknown statistic"):
        paired_bootstrap(a, b, statistic="mean", seed=3)


def test_percentile_interval_leaves_out_undefined_replicates():
    replicates = np.r_[np.full(50, np.nan), np.linspace(0, 1, 101)]
    interval = percentile_interval(0.5, replicates, 10)
    assert interval.low == pytest.approx(0.025) and interval.high == pytest.approx(0.975)
    assert np.isnan(percentile_interval(0.5, np.full(5, np.nan), 10).low)


def _long(task: str, tv: list[int], icl: list[int]) -> pd.DataFrame:
    n = len(tv)
    return pd.DataFrame(
        {
            "task": task,
            "example_id": list(range(n)) * 2,
            "condition": ["tv"] * n + ["icl"] * n,
            "correct": [bool(x) for x in tv + icl],
        }
    )


def test_paired_by_task_aligns_examples_and_refuses_duplicates():
    frame = _long("a", [1, 0, 1], [1, 1, 0]).sample(frac=1, random_state=0)
    frame = pd.concat(
        [frame, pd.DataFrame([{"task": "a", "example_id": 9, "condition": "tv", "correct": True}])]
    )
    ((tv, icl),) = paired_by_task(frame).values()
    assert tv.tolist() == [1, 0, 1] and icl.tolist() == [1, 1, 0]  # example 9 has no ICL row
    with pytest.raises(ValueError, match="one layer"):
        paired_by_task(pd.concat([frame, frame]))


def test_task_differences_per_task():
    frame = pd.concat([_long("a", [1] * 10, [0] * 10), _long("b", [0, 1] * 5, [0, 1] * 5)])
    table = task_differences(frame, seed=5).set_index("task")
    assert list(table.columns) == [
        "n",
        "tv",
        "icl",
        "tv_minus_icl",
        "tv_minus_icl_low",
        "tv_minus_icl_high",
    ]
    assert table.loc["a", ["tv_minus_icl", "tv_minus_icl_low", "tv_minus_icl_high"]].tolist() == [
        1.0,
        1.0,
        1.0,
    ]
    assert table.loc["b", "tv_minus_icl"] == 0.0 and table.loc["b", "n"] == 10
    alone = task_differences(frame[frame["task"] == "b"], seed=5)
    pd.testing.assert_frame_equal(alone, table.loc[["b"]].reset_index())  # seeded per task


def test_task_mean_ratio_is_the_ratio_of_means():
    # Task a: TV 0.5, ICL 1.0; task b: TV 0.0, ICL 0.0. Mean TV 0.25, mean ICL 0.5, ratio 0.5
    # (a mean of per-task ratios would be undefined because of task b).
    frame = pd.concat([_long("a", [1, 0] * 5, [1] * 10), _long("b", [0] * 10, [0] * 10)])
    table = task_mean_bootstrap(frame, seed=2).set_index("statistic")
    assert table.loc["tv", "estimate"] == pytest.approx(0.25)
    assert table.loc["icl", "estimate"] == pytest.approx(0.5)
    assert table.loc["tv_minus_icl", "estimate"] == pytest.approx(-0.25)
    assert table.loc["tv_icl_ratio", "estimate"] == pytest.approx(0.5)
    assert table.loc["tv_icl_ratio", "ci_low"] <= 0.5 <= table.loc["tv_icl_ratio", "ci_high"]
    assert (table["n_tasks"] == 2).all() and (table["n_examples"] == 20).all()
    # Resamples that draw task b twice have mean ICL 0: left out, not an error.
    assert np.isfinite(table.loc["tv_icl_ratio", "ci_high"])


def test_two_level_bootstrap_adds_the_noise_within_tasks():
    # Three tasks with the same accuracies: resampling tasks alone sees no variation, resampling
    # examples within tasks does.
    frame = pd.concat([_long(t, [1, 1, 0, 0] * 5, [1, 1, 1, 0] * 5) for t in ("a", "b", "c")])
    tasks = task_mean_bootstrap(frame, level="tasks", seed=4).set_index("statistic")
    both = task_mean_bootstrap(frame, seed=4).set_index("statistic")
    assert tasks.loc["tv_minus_icl", ["ci_low", "ci_high"]].tolist() == pytest.approx(
        [-0.25, -0.25]
    )
    low, high = both.loc["tv_minus_icl", ["ci_low", "ci_high"]]
    assert low < -0.25 < high and high - low > 0.1
    assert both.loc["tv_minus_icl", "level"] == "two_level"
    with pytest.raises(ValueError, match="unknown level"):
        task_mean_bootstrap(frame, level="examples", seed=4)


def test_task_mean_bootstrap_of_nothing():
    empty = pd.DataFrame(columns=["task", "example_id", "condition", "correct"])
    table = task_mean_bootstrap(empty, seed=1)
    assert len(table) == 4 and table["estimate"].isna().all() and (table["n_tasks"] == 0).all()


def test_baseline_explains_at_or_above_the_low_end():
    assert baseline_explains(0.40, 0.35)
    assert baseline_explains(0.35, 0.35)
    assert not baseline_explains(0.30, 0.35)
    assert not baseline_explains(float("nan"), 0.35)
    assert not baseline_explains(0.5, float("nan"))


def test_baseline_flags_per_task():
    rows = []
    for task, accuracies in {
        "religion": {"icl": (25, 50), "tv": (20, 50), "majority": (24, 50), "copy": (0, 50)},
        "letters": {"icl": (45, 50), "tv": (40, 50), "majority": (2, 50), "copy": (0, 50)},
        "past": {"icl": (30, 50), "tv": (10, 50), "majority": (0, 50), "copy": (12, 50)},
    }.items():
        for condition, (k, n) in accuracies.items():
            rows += [{"task": task, "condition": condition, "correct": i < k} for i in range(n)]
    flags = baseline_flags(proportion_table(pd.DataFrame(rows), by=["task", "condition"]))
    flags = flags.set_index("task")
    assert flags.loc["religion", "explained_by"] == "majority"
    assert flags.loc["religion", "majority_explains_icl"]  # 0.48 >= low end of 25/50 (0.37)
    assert flags.loc["letters", "explained_by"] == ""
    assert flags.loc["past", "explained_by"] == "copy"  # 0.24 >= low end of TV's 10/50
    assert not flags.loc["past", "copy_explains_icl"]
    assert {"majority_explains_tv", "copy_explains_tv"} <= set(flags.columns)
