"""Geometry of task vectors (paper §4): vectors from varied demonstrations, t-SNE and distances.

``job`` copies each task's vectors from the main run's activations (no model), ``score`` maps them
at the layer of the best mean dev accuracy, ``section`` draws the map and the statistics.
"""

from pathlib import Path

from taskvectors.analyses.spec import Analysis

ANALYSIS = Analysis(
    name="geometry",
    title="geometry of task vectors",
    folder=Path(__file__).parent,
    job="taskvectors.analyses.geometry.job:run",
    score="taskvectors.analyses.geometry.score:score",
    section="taskvectors.analyses.geometry.section:section",
    synthetic="taskvectors.analyses.geometry.synthetic:scores",
    quick_settings={"n_vectors": 10},
    score_columns=(
        "kind",
        "layer",
        "task",
        "x",
        "y",
        "within",
        "distance",
        "scope",
        "statistic",
        "value",
        "null_mean",
        "null_p95",
        "p_value",
    ),  # fmt: skip
    loads_model=False,
    job_inputs=("activations",),
    score_inputs=("sweeps",),
    checks="taskvectors.analyses.geometry.checks:problems",
)
