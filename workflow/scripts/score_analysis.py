"""Rule score_analysis: score one analysis of one model into its documented table."""

import _package_path  # noqa: F401 - puts the workflow's package on sys.path

from taskvectors.analyses import get
from taskvectors.analyses.spec import ScoreRequest, load_function
from taskvectors.pipeline.rules import start_job
from taskvectors.results.files import write_score_table
from taskvectors.results.provenance import provenance

sm = snakemake  # noqa: F821 - injected by Snakemake
log = start_job(sm)
model = sm.wildcards.model
request = ScoreRequest.from_rule(model, dict(sm.input.items()), sm.params.request)
analysis = get(request.analysis)
table = load_function(analysis.score)(request)
block = provenance(analysis=analysis.name, model=None, settings=request.settings)
write_score_table(sm.output[0], table, analysis.score_columns, block)
log.info("%s/%s: %d rows", analysis.name, model, len(table))
