"""Rule run_task: prompts, task vectors, ICL and the patched sweep of one (model, task)."""

from pathlib import Path

import _package_path  # noqa: F401 - puts the workflow's package on sys.path

from taskvectors.engine.models import ModelRecord
from taskvectors.pipeline.rules import start_job
from taskvectors.results.files import read_json_result
from taskvectors.stages.run_task import InferenceSettings, RunTaskOutputs, run_task
from taskvectors.tasks.registry import TaskSpec

sm = snakemake  # noqa: F821 - injected by Snakemake
log = start_job(sm)
settings = InferenceSettings(**sm.params.evaluation)
chooser = None
if settings.sweep_test == "best":
    from taskvectors.scoring.evaluation import choose_layer_on_dev as chooser
document = run_task(
    ModelRecord.from_dict(read_json_result(sm.input.model, "prepare_model")),
    TaskSpec(**sm.params.task),
    Path(sm.params.data_dir),
    sm.params.prompts,
    settings,
    RunTaskOutputs(*(Path(sm.output[k]) for k in ("prompts", "activations", "predictions"))),
    chooser,
)
log.info("%s: %s, spacing %s", document.task_name, document.filter, document.spacing)
