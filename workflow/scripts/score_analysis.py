"""Rule score_analysis: score one analysis of one model into its documented table."""

from pathlib import Path

import _package_path  # noqa: F401 - puts the workflow's package on sys.path

from taskvectors.pipeline import by_task, start_job
from taskvectors.provenance import provenance
from taskvectors.results import (
    read_prompt_document,
    read_result_table,
    score_kind,
    write_result_table,
)
from taskvectors.scoring import answer_column
from taskvectors.stages import score_analyses as scores

sm = snakemake  # noqa: F821 - injected by Snakemake
log = start_job(sm)
name, tasks = sm.wildcards.analysis, sm.params.tasks
sweep_tasks = (
    sorted({t for pair in sm.params.pairs for t in pair}) if name == "conflicts" else tasks
)
sweeps = {
    t: read_result_table(p, "sweep") for t, p in by_task(sweep_tasks, sm.input.sweeps).items()
}
if name == "conflicts":
    raw = {tuple(pair): Path(p) for pair, p in zip(sm.params.pairs, sm.input.raw, strict=True)}
    table = scores.score_conflicts(raw, sm.params.modes, sweeps)
else:
    raw = by_task(tasks, sm.input.raw)
    documents = {t: read_prompt_document(p) for t, p in by_task(tasks, sm.input.prompts).items()}
    if name == "geometry":
        table = scores.score_geometry(raw, sweeps)
    elif name == "top_tokens":
        table = scores.score_top_tokens(raw, sweeps)
    elif name == "order":
        table = scores.score_order(raw, documents, answer_column(sm.params.answer))
    elif name == "prompt_format":
        evals = {t: read_result_table(p, "eval") for t, p in by_task(tasks, sm.input.evals).items()}
        table = scores.score_prompt_format(raw, documents, evals)
    elif name == "gd":
        evals = {t: read_result_table(p, "eval") for t, p in by_task(tasks, sm.input.evals).items()}
        distributions = {
            t: read_result_table(p) for t, p in by_task(tasks, sm.input.distributions).items()
        }
        table = scores.score_gd(raw, distributions, documents, evals, sm.wildcards.model)
    else:
        raise ValueError(f"no scoring for analysis {name!r}")
block = provenance(analysis=name, model=None, settings=sm.params.settings)
write_result_table(sm.output[0], table, score_kind(name), block)
log.info("%s/%s: %d rows", name, sm.wildcards.model, len(table))
