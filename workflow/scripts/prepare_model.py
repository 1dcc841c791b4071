"""Rule prepare_model: resolve a model alias and write its record."""

from pathlib import Path

from taskvectors.pipeline import start_job
from taskvectors.stages.prepare_model import prepare_model

log = start_job(snakemake)  # noqa: F821 - injected by Snakemake
record = prepare_model(
    snakemake.wildcards.model,  # noqa: F821
    snakemake.params.entry,  # noqa: F821
    Path(snakemake.output[0]),  # noqa: F821
    Path(snakemake.params.cache_dir).expanduser() if snakemake.params.cache_dir else None,  # noqa: F821
)
log.info(
    "model %s: %s (%d layers, d_model %d)",
    record.alias,
    record.local_path,
    record.n_layers,
    record.d_model,
)
