"""What an analysis's ``synthetic`` function (``Analysis.synthetic``) gets and gives.

The report's tests render a synthetic run (``tests/synthetic_results.py``) in which every
analysis's score table is made up by its own folder (``analyses/<name>/synthetic.py``), so the
shared test files list no analysis. This contract lives apart from :mod:`~taskvectors.analyses.spec`
because every analysis job imports that module: a change here must not rerun them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SyntheticModel:
    """One model of the report tests' synthetic run, as an analysis's ``synthetic`` function
    sees it (``tests/synthetic_results.py`` makes it): what its made-up score table may agree
    with so that the report's cross-references hold.

    ``best_layers[task]`` is the task's best dev layer (None: no best layer); ``accuracies[task]``
    the planned ``(baseline, icl, tv)`` accuracies; ``pairs`` the conflict pairs;
    ``proportion(p)`` gives ``(accuracy, low, high)`` of ``round(p * n_test)`` successes with a
    Wilson interval computed by the tests, not by the code under test; ``rng`` is a seeded numpy
    generator shared by the run (call order is the registry's).
    """

    model: str
    n_layers: int
    tasks: tuple[str, ...]
    best_layers: Mapping[str, int | None]
    accuracies: Mapping[str, tuple[float, float, float]]
    pairs: tuple[tuple[str, str], ...]
    n_test: int
    proportion: Callable[[float], tuple[float, float, float]]
    rng: Any


@dataclass(frozen=True)
class SyntheticScores:
    """A made-up score table of one model (in the declared ``score_columns``), with what the
    report must show for it: its section's heading and the figure files (below ``figures/``) the
    section draws for this model. The report's tests check the page against these, so they list
    no analysis by hand."""

    table: Any
    heading: str
    figures: tuple[str, ...]
