"""Stage ``conflicts`` (paper §5): demonstrations of task A with the task vector of task B patched
in. Does θ_B override what A's demonstrations say?

Queries are inputs that both tasks can score: they pass A's and B's own token filters (under each
task's spacing), and both answer sets come from the tasks' full data (with alternatives). θ_B is
built like the main run's θ but with the conflicts' own ``n_demos`` (the paper: 4) from B's pairs.
A task with fewer shared inputs than ``n_examples`` reuses queries with fresh demonstrations, so
every pair reaches ``n_examples``. The ICL prompt of A runs unpatched (``icl``) and with θ_B at
every layer (``tv``); scoring to A and to B happens in ``score_analysis``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from taskvectors.analyses.jobs import AnalysisJob
from taskvectors.analyses.spec import JobRequest
from taskvectors.engine.inference import example_vectors, sweep_rows
from taskvectors.results.files import Example, PromptDocument, read_prompt_document
from taskvectors.results.layout import conflict_item
from taskvectors.results.predictions import predictions_frame
from taskvectors.results.storage import write_table
from taskvectors.seeding import derived_seed
from taskvectors.tasks.pairs import Pair
from taskvectors.tasks.prompt_files import usable_pairs
from taskvectors.tasks.prompts import PromptTemplate, get_template
from taskvectors.tasks.registry import TaskSpec, load_pairs


@dataclass(frozen=True)
class TaskSide:
    """One task of a pair: its template (spacing chosen for the model), usable and full pairs."""

    template: PromptTemplate
    usable: list[Pair]
    answers: dict[str, tuple[str, ...]]


def task_side(job, spec: TaskSpec, document: PromptDocument, data_dir: Path, base) -> TaskSide:
    chosen = document.spacing.get("chosen", "none")
    usable = usable_pairs(spec, data_dir, job.tokenizer, base, chosen)
    full = {pair.input: pair.answers for pair in load_pairs(spec, data_dir)}
    return TaskSide(get_template(document.template), usable, full)


def conflict_examples(
    a: TaskSide, b: TaskSide, *, n: int, n_demos: int, n_dummy: int, seed: int, key: str
) -> tuple[list[Example], list[Example]]:
    """``n`` paired examples: A's prompt (demos of A) and B's θ prompt (demos and dummies of B)
    for the same query; queries cycle when fewer than ``n`` inputs are shared."""
    inputs_b = {pair.input for pair in b.usable}
    shared = sorted(pair.input for pair in a.usable if pair.input in inputs_b)
    if not shared:
        return [], []
    rng = np.random.default_rng(derived_seed(seed, "conflicts", key))
    order = list(rng.permutation(shared))
    examples_a, examples_b = [], []
    for i in range(n):
        query = str(order[i % len(order)])
        demos_a = _draw(rng, [p for p in a.usable if p.input != query], n_demos)
        drawn_b = _draw(rng, [p for p in b.usable if p.input != query], n_demos + n_dummy)
        examples_a.append(Example(i, "test", query, a.answers[query], tuple(demos_a), ()))
        examples_b.append(
            Example(
                i, "test", query, b.answers[query], tuple(drawn_b[:n_demos]),
                tuple(x for x, _ in drawn_b[n_demos:]),
            )
        )  # fmt: skip
    return examples_a, examples_b


def _draw(rng: np.random.Generator, pool: Sequence[Pair], k: int) -> list[tuple[str, str]]:
    if len(pool) < k:
        raise ValueError(f"{len(pool)} pairs cannot give {k} distinct demonstrations")
    return [(pool[j].input, pool[j].output) for j in rng.choice(len(pool), size=k, replace=False)]


def conflict_predictions(job, a: TaskSide, b: TaskSide, settings, evaluation, key) -> pd.DataFrame:
    """A's ICL prompts unpatched (``icl``) and with θ_B at every layer (``tv``)."""
    examples_a, examples_b = conflict_examples(
        a, b, n=settings["n_examples"], n_demos=settings["n_demos"],
        n_dummy=settings["n_dummy"], seed=settings["seed"], key=key,
    )  # fmt: skip
    if not examples_a:
        return pd.DataFrame(columns=["example_id", "condition", "layer", "query"])
    thetas_b, _ = example_vectors(
        job.model, job.tokenizer, b.template, examples_b, evaluation["batch_size"], f"θ_B {key}"
    )
    prompts = [a.template.icl_prompt(list(ex.demos), ex.query) for ex in examples_a]
    rows = sweep_rows(
        job.model, job.tokenizer, prompts, examples_a, thetas_b, list(range(thetas_b.shape[1])),
        max_new_tokens=1, batch_rows=evaluation["batch_rows"], desc=f"conflicts {key}",
    )  # fmt: skip
    frame = predictions_frame(rows)
    frame["condition"] = frame["condition"].replace({"baseline": "icl"})
    frame["query"] = [examples_a[i].query for i in frame["example_id"]]
    frame["answers_a"] = [list(examples_a[i].answers) for i in frame["example_id"]]
    frame["answers_b"] = [list(examples_b[i].answers) for i in frame["example_id"]]
    return frame


def run_conflicts(
    job: AnalysisJob,
    pairs: Sequence[tuple[str, str]],
    specs: Mapping[str, TaskSpec],
    prompts: Mapping[str, Path],
    outputs: Sequence[Path],
    data_dir: Path,
    base_template: PromptTemplate,
    settings: Mapping,
    evaluation: Mapping,
) -> None:
    """Write one predictions file per (A, B) pair, in the order of ``pairs``."""
    sides = {
        task: task_side(job, specs[task], read_prompt_document(path), data_dir, base_template)
        for task, path in prompts.items()
    }
    for (task_a, task_b), path in zip(pairs, outputs, strict=True):
        key = conflict_item(task_a, task_b)
        frame = conflict_predictions(job, sides[task_a], sides[task_b], settings, evaluation, key)
        write_table(path, frame, job.provenance(task_a=task_a, task_b=task_b))


def run(job: AnalysisJob, request: JobRequest) -> None:
    """The conflicts job of one model: one predictions file per pair."""
    prompts = request.config["prompts"]
    settings = {**request.settings, "n_dummy": prompts["n_dummy"], "seed": prompts["seed"]}
    run_conflicts(
        job,
        request.pairs,
        {task: TaskSpec(**entry) for task, entry in request.task_specs.items()},
        request.inputs["prompts"],
        [request.output(item) for item in request.items],
        request.data_dir,
        get_template(prompts["template"]),
        settings,
        request.config["evaluation"],
    )
