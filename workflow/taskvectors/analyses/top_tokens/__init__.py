"""Top tokens (paper §4): each task's mean vector read through the final norm and unembedding.

``job`` projects the mean test θ of every layer, ``score`` keeps the task's best layer,
``section`` lists the tokens.
"""

from pathlib import Path

from taskvectors.analyses.spec import Analysis

ANALYSIS = Analysis(
    name="top_tokens",
    title="top tokens",
    folder=Path(__file__).parent,
    job="taskvectors.analyses.top_tokens.job:run",
    score="taskvectors.analyses.top_tokens.score:score",
    section="taskvectors.analyses.top_tokens.section:section",
    synthetic="taskvectors.analyses.top_tokens.synthetic:scores",
    quick_settings={"k": 10},
    score_columns=("task", "layer", "rank", "token", "logit"),
    job_inputs=("activations",),
    score_inputs=("sweeps",),
    runtime_minutes=60,
)
