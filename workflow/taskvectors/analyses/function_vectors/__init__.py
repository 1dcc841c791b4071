"""Function vectors (Todd et al., ICLR 2024) beside the paper's task vectors.

A few attention heads carry the demonstrated task; the sum of their mean outputs, added to the
residual stream of a zero-shot prompt, makes the model do the task. The engine modules
:mod:`taskvectors.engine.heads` (reading heads, their causal indirect effect) and
:mod:`taskvectors.engine.vectors` (building, adding, saving and applying vectors) do the work, so
other analyses can use them too; this folder runs them over a run's tasks, scores and shows them.
"""

from pathlib import Path

from taskvectors.analyses.spec import Analysis

ANALYSIS = Analysis(
    name="function_vectors",
    title="function vectors",
    folder=Path(__file__).parent,
    job="taskvectors.analyses.function_vectors.job:run",
    score="taskvectors.analyses.function_vectors.score:score",
    section="taskvectors.analyses.function_vectors.section:section",
    synthetic="taskvectors.analyses.function_vectors.synthetic:scores",
    quick_settings={"n_mean": 4, "n_cie": 2, "n_dev": 3, "n_test": 6, "ks": [1, 4]},
    score_columns=(
        "kind",
        "task",
        "condition",
        "k",
        "layer",
        "head",
        "metric",
        "value",
        "low",
        "high",
        "n",
        "text",
    ),  # fmt: skip
    job_inputs=("prompts", "activations", "sweeps", "evals"),
    job_config=("evaluation.max_answer_tokens", "evaluation.batch_rows"),
    # predictions, head effects, geometry, and the two vectors as files (<task>.fv.safetensors)
    parts=("", "cie", "geometry", "fv.safetensors", "tv.safetensors"),
    score_inputs=("prompts", "evals"),
    score_config=("evaluation.answer",),
    default_tasks="all",
    runtime_minutes=60,
)
