"""Stage ``prompt_format``: how much does the prompt's spacing move the numbers?

The paper's code writes a space before input and answer (``example: ville-> city``) when that keeps
at least 70% of a task's single-token pairs, and our run follows it. This stage rebuilds each
task's prompts with the *other* spacing (same seed and sizes) and answers the test queries with the
zero-shot baseline, ICL, and the task vector at the main run's best layer — no sweep, so it costs
about one extraction per task.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from taskvectors.analyses.jobs import AnalysisJob, best_layer_of
from taskvectors.analyses.spec import JobRequest
from taskvectors.engine.inference import example_vectors, icl_rows, sweep_rows
from taskvectors.results.files import PromptDocument, read_prompt_document
from taskvectors.results.predictions import predictions_frame
from taskvectors.results.storage import write_table
from taskvectors.tasks.prompt_files import build_prompt_document
from taskvectors.tasks.prompts import PromptTemplate, get_template
from taskvectors.tasks.registry import TaskSpec

OTHER = {"none": "leading", "leading": "none"}


def other_spacing_document(
    job: AnalysisJob, spec: TaskSpec, main: PromptDocument, data_dir: Path, base: PromptTemplate
) -> PromptDocument:
    """The task's prompts rebuilt with the spacing the main run did not use."""
    other = OTHER[main.spacing.get("chosen", "none")]
    settings = {**main.settings, "spacing": other}
    return PromptDocument.from_dict(
        build_prompt_document(spec, data_dir, job.tokenizer, base, settings, job.record.to_dict())
    )


def format_predictions(job: AnalysisJob, document: PromptDocument, layer, evaluation: Mapping):
    """Test rows ``icl``, ``baseline`` and ``tv`` (at ``layer``, when there is one)."""
    template = get_template(document.template)
    test = document.split("test")
    thetas, answers = example_vectors(
        job.model, job.tokenizer, template, test, evaluation["batch_size"], "prompt format"
    )
    rows = icl_rows(test, answers)
    rows += sweep_rows(
        job.model, job.tokenizer, [template.zero_shot_prompt(ex.query) for ex in test], test,
        thetas, [] if layer is None else [layer], max_new_tokens=1,
        batch_rows=evaluation["batch_rows"], desc="prompt format sweep",
    )  # fmt: skip
    return predictions_frame(rows).assign(spacing=document.spacing.get("chosen", "none"))


def run_prompt_format(
    job: AnalysisJob,
    specs: Mapping[str, TaskSpec],
    prompts: Mapping[str, Path],
    sweeps: Mapping[str, Path],
    outputs: Mapping[str, Path],
    data_dir: Path,
    base_template: PromptTemplate,
    evaluation: Mapping,
) -> None:
    for task, path in prompts.items():
        main = read_prompt_document(path)
        layer = best_layer_of(sweeps[task])
        document = other_spacing_document(job, specs[task], main, data_dir, base_template)
        frame = format_predictions(job, document, layer, evaluation)
        examples = _by_id(document, frame["example_id"])
        frame["query"] = [ex.query for ex in examples]
        frame["answers"] = [list(ex.answers) for ex in examples]
        write_table(outputs[task], frame, job.provenance(task=task, layer=layer))


def _by_id(document: PromptDocument, ids):
    test = {ex.example_id: ex for ex in document.split("test")}
    return [test[int(i)] for i in ids]


def run(job: AnalysisJob, request: JobRequest) -> None:
    """The prompt-format job of one model."""
    run_prompt_format(
        job,
        {task: TaskSpec(**entry) for task, entry in request.task_specs.items()},
        request.inputs["prompts"],
        request.inputs["sweeps"],
        request.outputs[""],
        request.data_dir,
        get_template(request.config["prompts"]["template"]),
        request.config["evaluation"],
    )
