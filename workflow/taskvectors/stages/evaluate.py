"""Stage ``evaluate``: score one (model, task), sweep accuracy by layer, pick the best layer.

Model-free: it scores the raw predictions of ``run_task`` (ICL, baseline, task vector at every
layer) and the two model-free baselines (majority answer, copy the query) with
:mod:`taskvectors.scoring.evaluation`. The best layer is the dev argmax of first-token accuracy
(earliest on ties, as in the paper; none when every layer scores 0) and test results are read there.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from taskvectors.results.files import PromptDocument
from taskvectors.results.provenance import provenance
from taskvectors.results.storage import write_table
from taskvectors.scoring.baselines import baseline_predictions, majority_answer
from taskvectors.scoring.evaluation import layer_sweep, score, test_results


def task_answers(document: PromptDocument) -> list[tuple[str, ...]]:
    """The accepted answers of every distinct input the prompt file uses (queries and demos):
    the sample of the task's pairs that the majority baseline counts."""
    answers: dict[str, tuple[str, ...]] = {}
    for example in document.examples:
        answers.setdefault(example.query, example.answers)
        for x, y in example.demos:
            answers.setdefault(x, (y,))
    return [answers[x] for x in sorted(answers)]


def model_free_rows(document: PromptDocument) -> pd.DataFrame:
    """Predictions of the ``majority`` and ``copy`` baselines for the test queries."""
    test = pd.DataFrame(
        [
            {"example_id": ex.example_id, "split": ex.split, "query": ex.query}
            for ex in document.split("test")
        ]
    )
    return baseline_predictions(test, majority_answer(task_answers(document)))


def evaluate(
    document: PromptDocument,
    predictions: pd.DataFrame,
    *,
    answer_mode: str,
    sweep_path: Path,
    eval_path: Path,
) -> dict[str, float]:
    """Write the layer sweep and the scored test results; return the headline accuracies."""
    rows = pd.concat([predictions, model_free_rows(document)], ignore_index=True)
    scored = score(rows, document, answer_mode)
    sweep, best = layer_sweep(scored)
    results = test_results(scored, best)
    block = provenance(
        model=document.provenance.get("model"),
        task=document.task_name,
        answer_mode=answer_mode,
        scoring=document.scoring,
        best_layer=best,
        prompts=document.settings,
    )
    write_table(sweep_path, sweep, block)
    write_table(eval_path, results, block)
    return results.groupby("condition")["correct"].mean().to_dict()
