"""Rule of every analysis's model job: the registry names its function (taskvectors.analyses)."""

import _package_path  # noqa: F401 - puts the workflow's package on sys.path

from taskvectors.analyses import get
from taskvectors.analyses.jobs import AnalysisJob
from taskvectors.analyses.spec import JobRequest, load_function
from taskvectors.pipeline.rules import start_job

sm = snakemake  # noqa: F821 - injected by Snakemake
log = start_job(sm)
request = JobRequest.from_rule(
    {name: value for name, value in sm.input.items() if name != "model"},
    dict(sm.output.items()),
    sm.params.request,
)
analysis = get(request.analysis)
job = None
if analysis.loads_model:
    job = AnalysisJob.start(sm.input.model, analysis.name, {**request.settings, **request.config})
load_function(analysis.job)(job, request)
log.info("%s/%s: %d items", analysis.name, sm.wildcards.model, len(request.items))
