"""Order sensitivity: ICL and task-vector answers for permutations of the same demonstrations.

``job`` runs each order, ``score`` measures agreement and accuracy spread with intervals and the
paired TV-minus-ICL difference, ``section`` shows both.
"""

from pathlib import Path

from taskvectors.analyses.spec import Analysis

ANALYSIS = Analysis(
    name="order",
    title="order sensitivity",
    folder=Path(__file__).parent,
    job="taskvectors.analyses.order.job:run",
    score="taskvectors.analyses.order.score:score",
    section="taskvectors.analyses.order.section:section",
    synthetic="taskvectors.analyses.order.synthetic:scores",
    quick_settings={"n_examples": 5, "n_permutations": 3},
    score_columns=(
        "task",
        "condition",
        "metric",
        "value",
        "low",
        "high",
        "n",
        "n_permutations",
        "verdict",
    ),  # fmt: skip
    job_inputs=("prompts", "sweeps"),
    job_config=("evaluation.batch_size", "evaluation.batch_rows"),
    score_inputs=("prompts",),
    score_config=("evaluation.answer",),
    default_tasks="one_per_family",
    checks="taskvectors.analyses.order.checks:problems",
    runtime_minutes=120,
)
