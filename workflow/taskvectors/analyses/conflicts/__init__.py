"""Conflicting tasks (paper §5): demonstrations of task A with the task vector of task B.

``job`` runs A's prompts unpatched and with θ_B at every layer, ``score`` counts answers of A and
of B with intervals, ``section`` sets them beside the paper's numbers.
"""

from pathlib import Path

from taskvectors.analyses.spec import Analysis

ANALYSIS = Analysis(
    name="conflicts",
    title="conflicting tasks",
    folder=Path(__file__).parent,
    job="taskvectors.analyses.conflicts.job:run",
    score="taskvectors.analyses.conflicts.score:score",
    section="taskvectors.analyses.conflicts.section:section",
    synthetic="taskvectors.analyses.conflicts.synthetic:scores",
    score_columns=(
        "task_a",
        "task_b",
        "condition",
        "layer",
        "is_best",
        "n",
        "to_a",
        "to_a_low",
        "to_a_high",
        "to_b",
        "to_b_low",
        "to_b_high",
    ),  # fmt: skip
    items="pair",
    job_inputs=("prompts", "data"),
    job_config=(
        "prompts.template",
        "prompts.n_dummy",
        "prompts.seed",
        "evaluation.batch_size",
        "evaluation.batch_rows",
    ),  # fmt: skip
    score_inputs=("prompts", "sweeps"),
    checks="taskvectors.analyses.conflicts.checks:problems",
    runtime_minutes=120,
)
