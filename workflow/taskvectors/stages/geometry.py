"""Stage ``geometry`` (paper §4): ``n_vectors`` task vectors per task, each from freshly sampled
demonstrations and dummy queries, at every layer. ``score_analysis`` maps them with t-SNE and tests
whether vectors of one task sit closer together than vectors of different tasks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from taskvectors.analysis_jobs import AnalysisJob
from taskvectors.inference import activations_table, example_vectors
from taskvectors.prompts import get_template
from taskvectors.resampling import demo_pool, sample_examples
from taskvectors.results import read_prompt_document
from taskvectors.storage import write_table


def run_geometry(
    job: AnalysisJob,
    prompts: Mapping[str, Path],
    outputs: Mapping[str, Path],
    *,
    n_vectors: int,
    batch_size: int,
) -> None:
    """Write ``outputs[task]``: θ of ``n_vectors`` sampled examples per task, every layer."""
    for task, path in prompts.items():
        document = read_prompt_document(path)
        settings = document.settings
        examples = sample_examples(
            demo_pool(document), n_vectors, settings["n_demos"], settings["n_dummy"],
            settings["seed"], task, "geometry",
        )  # fmt: skip
        template = get_template(document.template)
        thetas, _ = example_vectors(
            job.model, job.tokenizer, template, examples, batch_size, f"geometry {task}"
        )
        table = activations_table(examples, thetas)
        write_table(outputs[task], table, job.provenance(task=task), row_group_size=n_vectors)
