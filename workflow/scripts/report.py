"""Rule report: render the run as one self-contained HTML page."""

from pathlib import Path

from taskvectors.pipeline import start_job
from taskvectors.report.build import build_report

sm = snakemake  # noqa: F821 - injected by Snakemake
start_job(sm)
results = Path(sm.input.summary).parent
build_report(
    results,
    Path(sm.output[0]).parent,
    models=sm.params.models,
    tasks=sm.params.tasks,
    config=sm.params.config,
    conflict_pairs=[tuple(p) for p in sm.params.pairs],
    analyses=sm.params.analyses,
    reference_dir=Path(sm.input.reference[0]).parent,
    benchmarks_dir=results / "benchmarks",
)
