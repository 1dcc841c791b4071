"""Task recognition versus task learning (issue 23): does ICL, and does a task vector, still work
when the demonstrations' pairing is wrong (recognition) or when the mapping can only be learnt
from them (learning)?

``conditions`` builds each condition's prompts with no model; ``job`` builds the prompts of its
tasks from the task data (the novel tasks are not tasks of the main run: ``task_source`` is the
registry) and answers them with ICL, the task vector (dev layer sweep, test at the best dev
layer), the function vector of each condition's demonstrations when the ``function_vectors``
analysis is enabled (its heads, k and layer read from that analysis's files, ``fv_choice``) and
the zero-shot baseline; ``score`` gives accuracies against the condition's target and
the gold answers with intervals, paired differences against gold and the verdicts; ``section``
shows them.
"""

from pathlib import Path

from taskvectors.analyses.spec import Analysis

ANALYSIS = Analysis(
    name="recognition_learning",
    title="task recognition versus task learning",
    folder=Path(__file__).parent,
    job="taskvectors.analyses.recognition_learning.job:run",
    score="taskvectors.analyses.recognition_learning.score:score",
    section="taskvectors.analyses.recognition_learning.section:section",
    synthetic="taskvectors.analyses.recognition_learning.synthetic:scores",
    scores_in_job=True,
    quick_settings={
        "n_dev": 2,
        "n_test": 3,
        "novel_tasks": ["novel_letter_permutation", "novel_lower_upper_bijection"],
    },
    score_columns=(
        "task",
        "family",
        "condition",
        "method",
        "target",
        "metric",
        "layer",
        "value",
        "low",
        "high",
        "n",
        "chance",
        "verdict",
    ),  # fmt: skip
    job_inputs=("data",),
    job_config=(
        "evaluation.batch_rows",
        "evaluation.batch_size",
        "prompts.n_demos",
        "prompts.n_dummy",
        "prompts.seed",
        "prompts.template",
    ),  # fmt: skip
    score_config=("evaluation.answer",),
    select_tasks="taskvectors.analyses.recognition_learning.plan:select",
    task_source="registry",
    # The universal heads, k and layer of the function vectors (method ``fv``): the files only,
    # never the function_vectors code; absent (no ``fv`` rows) when that analysis is off.
    reads_analyses={"function_vectors": ("fv.safetensors", "cie")},
    runtime_minutes=60,
)
