"""Rule report: render the run as one self-contained HTML page."""
from pathlib import Path

from taskvectors.pipeline import start_job
from taskvectors.report.build import build_report

sm = snakemake  # noqa: F821 - injected by Snakemake
start_job(sm)
results = Path(sm.params.results_dir)
build_report(
    results,
    Path(sm.params.reports_dir),
    models=sm.params.models,
    tasks=sm.params.tasks,
    config=sm.params.config,
    conflict_pairs=[tuple(p) for p in sm.params.pairs],
    analyses=sm.params.analyses,
    reference_dir=Path("data/reference"),
    benchmarks_dir=results / "benchmarks",
)
