"""ICL versus gradient descent (Shen et al. 2023) on the same demonstrations.

``job`` fine-tunes on each example's S and compares output distributions with ICL and TV,
``score`` adds accuracy, agreement, KL and their intervals, ``section`` shows them.
"""

from pathlib import Path

from taskvectors.analyses.spec import Analysis

ANALYSIS = Analysis(
    name="gd",
    title="ICL versus gradient descent",
    folder=Path(__file__).parent,
    job="taskvectors.analyses.gd.job:run",
    score="taskvectors.analyses.gd.score:score",
    section="taskvectors.analyses.gd.section:section",
    synthetic="taskvectors.analyses.gd.synthetic:scores",
    scores_in_job=True,
    quick_settings={
        "learning_rates": [0.003, 0.01],
        "epochs": [1, 2],
        "n_dev": 2,
        "n_test": 4,
        "order": {"n_examples": 1, "n_permutations": 1},
        "demo_counts": {"counts": [1, 4], "n_examples": 2},
        "random_control": {"n_examples": 2},
    },
    score_columns=(
        "kind",
        "task",
        "model_init",
        "condition",
        "metric",
        "value",
        "low",
        "high",
        "n",
        "n_demos",
        "text",
    ),  # fmt: skip
    job_inputs=("prompts", "activations", "sweeps"),
    job_config=("evaluation.max_answer_tokens",),
    parts=("", "dist"),
    score_inputs=("prompts", "evals"),
    default_tasks="one_per_family",
    warnings="taskvectors.analyses.gd.checks:warnings",
    runtime_minutes=240,
)
