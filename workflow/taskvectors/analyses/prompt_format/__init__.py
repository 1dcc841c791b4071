"""Prompt-format sensitivity: the run's test prompts with the other spacing, at the best layer.

``job`` answers baseline, ICL and TV with the other spacing, ``score`` sets them beside the run's
own, ``section`` draws the pairs.
"""

from pathlib import Path

from taskvectors.analyses.spec import Analysis

ANALYSIS = Analysis(
    name="prompt_format",
    title="prompt-format sensitivity",
    folder=Path(__file__).parent,
    job="taskvectors.analyses.prompt_format.job:run",
    score="taskvectors.analyses.prompt_format.score:score",
    section="taskvectors.analyses.prompt_format.section:section",
    synthetic="taskvectors.analyses.prompt_format.synthetic:scores",
    score_columns=(
        "task",
        "spacing",
        "is_default",
        "condition",
        "layer",
        "n",
        "accuracy",
        "low",
        "high",
    ),  # fmt: skip
    job_inputs=("prompts", "sweeps", "data"),
    job_config=("prompts.template", "evaluation.batch_size", "evaluation.batch_rows"),
    score_inputs=("prompts", "evals"),
    select_tasks="taskvectors.analyses.prompt_format.plan:select_tasks",
    runtime_minutes=120,
)
