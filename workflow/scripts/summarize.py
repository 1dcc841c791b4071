"""Rule summarize: one row per model x task in summary.csv."""

from pathlib import Path

from taskvectors.pipeline import start_job
from taskvectors.stages.summarize import summarize

sm = snakemake  # noqa: F821 - injected by Snakemake
start_job(sm)
results = Path(sm.output[0]).parent
runs = [
    {
        "model": m,
        "task": t,
        "eval": str(results / "eval" / m / f"{t}.parquet"),
        "sweep": str(results / "sweeps" / m / f"{t}.parquet"),
        "model_record": str(results / "models" / f"{m}.json"),
    }
    for m in sm.params.models
    for t in sm.params.tasks
]
summarize(runs, sm.params.categories, Path(sm.output[0]))
