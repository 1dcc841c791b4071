"""Rule build_prompts: filter a task's pairs for the model's tokenizer and sample its prompts."""

from pathlib import Path

from taskvectors.models import load_tokenizer
from taskvectors.pipeline import start_job
from taskvectors.prompts import get_template
from taskvectors.stages.build_prompts import build_prompts
from taskvectors.stages.prepare_model import read_model_record
from taskvectors.tasks.registry import TaskSpec

sm = snakemake  # noqa: F821 - injected by Snakemake
log = start_job(sm)
record = read_model_record(Path(sm.input.model))
settings = {key: value for key, value in sm.params.prompts.items() if key != "template"}
document = build_prompts(
    TaskSpec(**sm.params.task),
    Path(sm.params.data_dir),
    load_tokenizer(record),
    get_template(sm.params.prompts["template"]),
    settings,
    record.to_dict(),
    Path(sm.output[0]),
)
log.info("%s: %s", sm.params.task["name"], document["filter"])
