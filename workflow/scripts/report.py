"""Rule report: render the run as one self-contained HTML page from the rule's declared inputs."""

from pathlib import Path

import _package_path  # noqa: F401 - puts the workflow's package on sys.path

from taskvectors.pipeline.rules import start_job
from taskvectors.report.build import ReportInputs, build_report

sm = snakemake  # noqa: F821 - injected by Snakemake
start_job(sm)
models, tasks, analyses = sm.params.models, sm.params.tasks, sm.params.analyses
keys = [(m, t) for m in models for t in tasks]
inputs = ReportInputs(
    summary=Path(sm.input.summary),
    summary_models=Path(sm.input.summary_models),
    summary_provenance=Path(sm.input.summary_provenance),
    sweeps={key: Path(p) for key, p in zip(keys, sm.input.sweeps, strict=True)},
    models={m: Path(p) for m, p in zip(models, sm.input.models, strict=True)},
    scores={
        key: Path(p)
        for key, p in zip([(n, m) for n in analyses for m in models], sm.input.scores, strict=True)
    },
    reference={
        "main_results": Path(sm.input.reference[0]),
        "dev_accuracy_by_layer": Path(sm.input.reference[1]),
    },
    benchmarks=[Path(p) for p in sm.input.benchmarks],
)
build_report(
    inputs,
    page=Path(sm.output.page),
    figures_dir=Path(sm.output.figures),
    data_dir=Path(sm.output.data),
    models=models,
    tasks=tasks,
    config=sm.params.config,
)
