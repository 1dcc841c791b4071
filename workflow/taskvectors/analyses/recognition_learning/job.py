"""The recognition/learning model job: each task's prompts under each condition, answered by ICL,
the task vector (dev layer sweep with θ from the condition's demonstrations, test at the best dev
layer), the function vector (the condition's mean head outputs over its dev ICL prompts, read in
the ICL forward pass, summed over the function_vectors analysis's heads and added at its layer:
:mod:`.fv_choice`; only when that analysis is enabled) and the zero-shot baseline.

The tasks need not be tasks of the run (the novel ones are not), so the job builds its own prompt
document from the task data with the run's template and prompt settings, its own ``n_dev`` and
``n_test``. Every condition keeps the document's queries, dummies and number of demonstrations
(:mod:`.conditions`); only what the demonstrations show, and the target, change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from taskvectors.analyses.jobs import AnalysisJob
from taskvectors.analyses.recognition_learning.conditions import (
    ConditionExample,
    abstract_labels,
    build_conditions,
    english_word_pool,
    show_query,
    single_token_predicate,
)
from taskvectors.analyses.recognition_learning.fv_choice import (
    FunctionVectorChoice,
    choices_from_files,
)
from taskvectors.analyses.recognition_learning.plan import conditions_of
from taskvectors.analyses.spec import JobRequest
from taskvectors.engine import heads, patching, vectors
from taskvectors.engine.inference import example_vectors, icl_rows, sweep_rows
from taskvectors.results.files import Example, PromptDocument
from taskvectors.results.predictions import prediction_rows, predictions_frame
from taskvectors.results.storage import write_table
from taskvectors.scoring.answers import is_correct
from taskvectors.scoring.evaluation import earliest_best_layer
from taskvectors.tasks.prompt_files import build_prompt_document
from taskvectors.tasks.prompts import PromptTemplate, get_template
from taskvectors.tasks.registry import TaskSpec

#: The extra condition of a novel task: the query's own pair among the demonstrations.
SHOW_QUERY = "show_query"


@dataclass(frozen=True)
class Shown:
    """One example as the model sees it under a condition, with its target and gold answers."""

    example: Example
    target: tuple[str, ...]
    gold: tuple[str, ...]
    target_shown: bool


def task_document(
    job: AnalysisJob, spec: TaskSpec, data_dir: Path, base: PromptTemplate, settings: Mapping
) -> PromptDocument:
    """The task's prompt document for the job's model (``settings``: n_demos, n_dev, n_test,
    n_dummy, seed)."""
    built = build_prompt_document(
        spec, data_dir, job.tokenizer, base, settings, job.record.to_dict()
    )
    return PromptDocument.from_dict(built)


def _from_conditions(examples: Sequence[ConditionExample]) -> list[Shown]:
    return [Shown(c.example, c.target_answers, c.gold_answers, c.target_shown) for c in examples]


def condition_examples(
    job: AnalysisJob, document: PromptDocument, conditions: Sequence[str], data_dir: Path, seed: int
) -> dict[str, list[Shown]]:
    """``{condition: dev + test examples as shown}`` for the document's task."""
    task = document.task_name
    examples = document.split("dev") + document.split("test")
    standard = [c for c in conditions if c != SHOW_QUERY]
    answers = sorted(
        {y for ex in examples for _, y in ex.demos} | {ex.answers[0] for ex in examples}
    )
    mapping = None
    if "abstract" in standard:
        template = get_template(document.template)
        mapping = abstract_labels(
            answers, single_token_predicate(job.tokenizer, template), seed=seed, task=task,
            avoid={ex.query for ex in examples} | {x for ex in examples for x, _ in ex.demos},
            words=english_word_pool(data_dir),
        )  # fmt: skip
    built = build_conditions(
        examples, standard, answers=answers, seed=seed, task=task, mapping=mapping
    )
    result = {name: _from_conditions(built[name]) for name in standard}
    if SHOW_QUERY in conditions:
        shown = show_query(examples, seed=seed, task=task)
        result[SHOW_QUERY] = [Shown(ex, ex.answers, ex.answers, True) for ex in shown]
    return result


def dev_best_layer(rows: Sequence[Mapping], shown: Sequence[Shown], mode: str) -> int | None:
    """The dev-best layer of the TV rows against the condition's target (first token, as the main
    sweep chooses), earliest on ties; None when every layer scores 0."""
    targets = {s.example.example_id: s.target for s in shown}
    frame = pd.DataFrame([r for r in rows if r["condition"] == "tv" and r["split"] == "dev"])
    if frame.empty:
        return None
    frame["hit"] = [
        is_correct(p, targets[int(i)], mode)
        for p, i in zip(frame["first_token"], frame["example_id"], strict=True)
    ]
    accuracy = frame.groupby("layer")["hit"].mean()
    return earliest_best_layer(accuracy.index.tolist(), accuracy.tolist())


def vectors_and_heads(
    job: AnalysisJob, template: PromptTemplate, examples: Sequence[Example], batch_size: int,
    desc: str, *, record_heads: bool,
) -> tuple[torch.Tensor, patching.Decoded, torch.Tensor | None]:  # fmt: skip
    """:func:`~taskvectors.engine.inference.example_vectors` (θ and ICL's answers) and, with
    ``record_heads``, every head's output at the last token of each ICL prompt ``[S, x]``, read
    in the same forward pass: the function vector's head means then cost no forward of their own.

    ``example_vectors`` ends each batch with one forward of its ``[S, x]`` and dummy ``[S, x']``
    rows (after the shared prefix, or whole under a short sliding window), ``k = 1 + dummies``
    rows per example, ``[S, x]`` first. The heads recorded by that forward's ``n_layers``
    projection calls, rows ``0, k, 2k, ...``, are the ICL prompts' (tests check them against
    :func:`taskvectors.engine.heads.head_activations` of the whole prompts).

    Returns:
        θ ``(n, n_layers, d_model)``, the answers (``n`` rows), and the head outputs
        ``(n, n_layers, n_heads, head_dim)`` float32 (None without ``record_heads``).
    """
    if not record_heads:
        thetas, answers = example_vectors(
            job.model, job.tokenizer, template, examples, batch_size, desc
        )
        return thetas, answers, None
    shape = heads.head_shape(job.model)
    projections = heads.output_projections(job.model)
    thetas, answers, outputs = [], [], []
    for rows in patching.chunks(examples, batch_size):
        chunk = [examples[i] for i in rows]
        k = 1 + len(chunk[0].dummies)
        with heads.record_heads(projections) as recorded:
            theta, answer = example_vectors(
                job.model, job.tokenizer, template, chunk, len(chunk), desc
            )
        last = torch.stack(recorded[-shape.n_layers :], dim=1)  # (len(chunk) * k, L, width)
        if last.shape[0] != len(chunk) * k:
            raise RuntimeError(
                f"the last forward of example_vectors ran {last.shape[0]} rows, not "
                f"{len(chunk)} examples x {k} prompts: head outputs cannot be read from it"
            )
        outputs.append(last[::k].float().cpu())
        thetas.append(theta)
        answers.append(answer)
    head_outputs = torch.cat(outputs).reshape(
        len(examples), shape.n_layers, shape.n_heads, shape.head_dim
    )
    return torch.cat(thetas), patching.concatenate(answers), head_outputs


def fv_rows(
    job: AnalysisJob, template: PromptTemplate, examples: Sequence[Example],
    means: torch.Tensor, choice: FunctionVectorChoice, evaluation: Mapping,
) -> list[dict]:  # fmt: skip
    """Rows ``fv`` (test, at the choice's layer, first token as the TV rows) of one condition:
    the FV of its mean head outputs ``means`` ``(n_layers, n_heads, head_dim)`` (over its dev
    ICL prompts) summed over the choice's heads, added to the zero-shot test queries."""
    test = [ex for ex in examples if ex.split == "test"]
    vector = vectors.function_vector(job.model, means, choice.heads, variant=choice.variant)
    decoded = vectors.add_vector(
        job.model, job.tokenizer, [template.zero_shot_prompt(ex.query) for ex in test], vector,
        [choice.layer], keep_first_logits=False, batch_rows=evaluation["batch_rows"],
    )  # fmt: skip
    keys = [
        {"example_id": ex.example_id, "split": "test", "condition": "fv", "layer": choice.layer}
        for ex in test
    ]
    return prediction_rows(decoded, keys)


def condition_rows(
    job: AnalysisJob, template: PromptTemplate, shown: Sequence[Shown], mode: str,
    evaluation: Mapping, desc: str, choice: FunctionVectorChoice | None = None,
) -> tuple[list[dict], int | None]:  # fmt: skip
    """Rows ``icl`` (dev and test), ``tv`` (dev at every layer, test at the best dev layer),
    ``baseline`` (test) and, given a ``choice``, ``fv`` (test) of one condition, and the best dev
    layer."""
    examples = [s.example for s in shown]
    thetas, answers, head_outputs = vectors_and_heads(
        job, template, examples, evaluation["batch_size"], desc, record_heads=choice is not None
    )  # thetas: (n, n_layers, d_model)
    rows = icl_rows(examples, answers)
    by_split = {
        split: [i for i, ex in enumerate(examples) if ex.split == split]
        for split in ("dev", "test")
    }

    def patched(split: str, layers: Sequence[int], unpatched: bool) -> list[dict]:
        chosen = [examples[i] for i in by_split[split]]
        return sweep_rows(
            job.model, job.tokenizer, [template.zero_shot_prompt(ex.query) for ex in chosen],
            chosen, thetas[by_split[split]], layers, include_unpatched=unpatched,
            max_new_tokens=1, batch_rows=evaluation["batch_rows"], desc=f"{desc} {split}",
        )  # fmt: skip

    rows += patched("dev", list(range(thetas.shape[1])), False)
    layer = dev_best_layer(rows, shown, mode)
    rows += patched("test", [] if layer is None else [layer], True)
    if choice is not None:
        means = head_outputs[by_split["dev"]].mean(0)  # (n_layers, n_heads, head_dim)
        rows += fv_rows(job, template, examples, means, choice, evaluation)
    return rows, layer


def condition_frame(rows: Sequence[dict], shown: Sequence[Shown], name: str) -> pd.DataFrame:
    """The rows as a predictions table with the condition (``variant``), target, gold answers and
    whether S shows the target."""
    frame = predictions_frame(rows).rename(columns={"condition": "method"})
    by_id = {s.example.example_id: s for s in shown}
    picked = [by_id[int(i)] for i in frame["example_id"]]
    return frame.assign(
        condition=name,
        query=[s.example.query for s in picked],
        target=[list(s.target) for s in picked],
        gold=[list(s.gold) for s in picked],
        target_shown=[s.target_shown for s in picked],
    )


def task_frame(
    job: AnalysisJob, spec: TaskSpec, request: JobRequest, base: PromptTemplate,
    choice: FunctionVectorChoice | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:  # fmt: skip
    """All conditions of one task as one table (with ``fv`` rows given a ``choice``), and the
    best dev layer of each."""
    prompts, settings = request.config["prompts"], request.settings
    chosen = {
        "n_demos": prompts["n_demos"], "n_dummy": prompts["n_dummy"], "seed": prompts["seed"],
        "n_dev": settings["n_dev"], "n_test": settings["n_test"],
    }  # fmt: skip
    document = task_document(job, spec, request.data_dir, base, chosen)
    template = get_template(document.template)
    conditions = conditions_of(spec.name, settings)
    shown = condition_examples(job, document, conditions, request.data_dir, prompts["seed"])
    mode, frames, layers = document.scoring, [], {}
    for name, examples in shown.items():
        evaluation = request.config["evaluation"]
        rows, layers[name] = condition_rows(
            job, template, examples, mode, evaluation, f"{spec.name} {name}", choice
        )
        frames.append(condition_frame(rows, examples, name))
    frame = pd.concat(frames, ignore_index=True)
    return frame.assign(task=spec.name, family=spec.family, scoring=mode), layers


def run(job: AnalysisJob, request: JobRequest) -> None:
    """The recognition/learning job of one model."""
    base = get_template(request.config["prompts"]["template"])
    choices = choices_from_files(
        request.tasks, request.reads,
        lambda artifact: vectors.mismatch(
            artifact, job.model, *vectors.model_identity(job.record)
        ),
    )  # fmt: skip
    for task in request.tasks:
        spec = TaskSpec(**request.task_specs[task])
        choice = choices.get(task)
        frame, layers = task_frame(job, spec, request, base, choice)
        fv = None if choice is None else {
            "heads": [list(h) for h in choice.heads], "k": choice.k, "layer": choice.layer,
            "variant": choice.variant, "source": choice.source,
        }  # fmt: skip
        block = job.provenance(task=task, best_layers=layers, function_vector=fv)
        write_table(request.output(task), frame, block)
