"""Rule prepare_model: resolve a model alias and write its record."""

from pathlib import Path

import _package_path  # noqa: F401 - puts the workflow's package on sys.path

from taskvectors.pipeline.rules import start_job
from taskvectors.stages.prepare_model import prepare_model

sm = snakemake  # noqa: F821 - injected by Snakemake
log = start_job(sm)
record = prepare_model(
    sm.wildcards.model,
    sm.params.entry,
    Path(sm.output[0]),
    Path(sm.params.cache_dir).expanduser() if sm.params.cache_dir else None,
)
log.info(
    "model %s: %s (%d layers, d_model %d)",
    record.alias,
    record.local_path,
    record.n_layers,
    record.d_model,
)
