"""Build the run's report: one self-contained HTML page plus the figures and data behind it.

The page embeds its figures as base64 PNGs and its CSS inline, so it can be mailed or opened
offline; ``figures/<name>.png`` and ``data/<name>.csv`` hold every figure and the numbers behind
every figure and table. The Snakemake ``report`` rule calls ``build_report`` with its declared
inputs (``ReportInputs``); the report reads nothing else, computes no score and has no fallbacks:
a missing or malformed input stops it with a message naming the file.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from taskvectors.analyses import registry
from taskvectors.analyses.spec import load_function
from taskvectors.report.context import Context
from taskvectors.report.inputs import ReportInputs, load_tables
from taskvectors.report.page import Output, Section, plural
from taskvectors.report.provenance_section import provenance_section
from taskvectors.report.results_sections import headline_section, layers_section, per_task_section

__all__ = ["ReportInputs", "build_report", "render"]

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
ANSWER_LABELS = {"first_token": "first-token answers", "greedy": "greedy multi-token answers"}


def build_report(
    inputs: ReportInputs,
    *,
    page: Path,
    figures_dir: Path,
    data_dir: Path,
    models: Sequence[str],
    tasks: Sequence[str],
    config: Mapping[str, Any],
) -> Path:
    """Write the page (plus ``figures_dir`` and ``data_dir``) and return its path.

    Args:
        inputs: every file the report reads (the rule's declared inputs).
        page: the HTML file to write.
        figures_dir, data_dir: folders for the PNGs and CSVs (linked relative to the page).
        models, tasks: the run's model aliases and task names, in display order.
        config: the validated run config (shown as YAML; ``evaluation.answer`` names the
            headline score).
    """
    tables = load_tables(inputs, list(models), list(tasks))
    ctx = Context(
        tables=tables,
        out=Output(Path(page), Path(figures_dir), Path(data_dir)),
        config=config,
        models=list(models),
        tasks=list(tasks),
    )
    headline, takeaways = headline_section(ctx)
    sections = [headline, per_task_section(ctx), layers_section(ctx)]
    sections += [
        load_function(analysis.section)(ctx)
        for name, analysis in registry().items()
        if ctx.has(name)
    ]
    sections.append(provenance_section(ctx))
    Path(page).write_text(render(sections, header=_header(ctx, takeaways)), encoding="utf-8")
    log.info("report written to %s", page)
    return Path(page)


def _header(ctx: Context, takeaways: list[str]) -> dict[str, Any]:
    models = [{"alias": m, "paper": ctx.paper_models.get(m)} for m in ctx.models]
    facts = [
        plural(len(ctx.models), "model"),
        plural(len(ctx.tasks), "task"),
        ANSWER_LABELS.get(ctx.answer, ctx.answer),
    ]
    commit = str(ctx.tables.provenance.get("git_commit") or "")
    if commit:
        facts.append(f"commit {commit[:10]}{'-dirty' if commit.endswith('-dirty') else ''}")
    off = [registry()[name].title for name in ctx.switched_off()]
    return {"models": models, "facts": facts, "takeaways": takeaways, "switched_off": off}


def render(sections: list[Section], header: Mapping[str, Any]) -> str:
    """The page's HTML from its sections (the template and CSS ship with the package)."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = environment.get_template("index.html")
    css = (HERE / "style.css").read_text(encoding="utf-8")
    return template.render(sections=sections, header=header, css=css)
