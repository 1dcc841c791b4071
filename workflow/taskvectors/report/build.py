"""Build the run's report: one self-contained HTML page plus the figures and data behind it.

The page (``index.html``) embeds its figures as base64 PNGs and its CSS inline, so it can be
mailed or opened offline; beside it ``figures/<name>.png`` and ``data/<name>.csv`` hold every
figure and the numbers behind every figure and table. The Snakemake ``report`` rule calls
``build_report``; nothing here touches a model.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from taskvectors.analysis.common import prediction_column
from taskvectors.report.analysis_sections import (
    conflicts_section,
    geometry_section,
    order_section,
    top_tokens_section,
)
from taskvectors.report.context import Context, safe_is_correct
from taskvectors.report.load import ResultsTree
from taskvectors.report.page import Output, Section
from taskvectors.report.provenance_section import provenance_section
from taskvectors.report.results_sections import headline_section, layers_section, per_task_section
from taskvectors.scoring import is_correct

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
ANSWER_LABELS = {"first_token": "first-token answers", "answer": "greedy multi-token answers"}


def build_report(
    results_dir: Path,
    reports_dir: Path,
    *,
    models: Sequence[str],
    tasks: Sequence[str],
    config: Mapping,
    conflict_pairs: Sequence[tuple[str, str]],
    analyses: Mapping[str, bool],
    reference_dir: Path,
    benchmarks_dir: Path,
) -> Path:
    """Write ``reports_dir/index.html`` (plus ``figures/`` and ``data/``) and return its path.

    Args:
        results_dir: the pipeline's results tree (docs/outputs.md).
        reports_dir: where the page goes.
        models, tasks: the run's model aliases and task names, in display order.
        config: the whole validated run config (shown as YAML; ``evaluation.answer`` chooses the
            prediction column).
        conflict_pairs: ``(A demos, B vector)`` task pairs of the conflicts analysis.
        analyses: which of ``geometry, top_tokens, conflicts, order`` ran.
        reference_dir: ``data/reference`` with the paper's published CSVs.
        benchmarks_dir: Snakemake benchmark TSVs (``benchmarks/{rule}[/{model}[/{task}]].tsv``).
    """
    reports_dir = Path(reports_dir)
    data_dir = config.get("data_dir") if isinstance(config.get("data_dir"), str) else None
    tree = ResultsTree(
        Path(results_dir),
        list(models),
        list(tasks),
        registry_dir=Path(data_dir) if data_dir else Path(reference_dir).parent,
        user_tasks=config.get("user_tasks"),
    )
    ctx = Context(
        tree=tree,
        out=Output(reports_dir),
        config=config,
        column=prediction_column(config),
        analyses=analyses,
        conflict_pairs=[tuple(p) for p in conflict_pairs],
        reference_dir=Path(reference_dir),
        benchmarks_dir=Path(benchmarks_dir),
        is_correct=safe_is_correct(is_correct),
    )
    headline, takeaways = headline_section(ctx)
    sections = [
        headline,
        per_task_section(ctx),
        layers_section(ctx),
        geometry_section(ctx),
        top_tokens_section(ctx),
        conflicts_section(ctx),
        order_section(ctx),
        provenance_section(ctx),
    ]
    html = render(sections, header=_header(ctx, takeaways))
    page = reports_dir / "index.html"
    page.write_text(html, encoding="utf-8")
    log.info("report written to %s", page)
    return page


def _header(ctx: Context, takeaways: list[str]) -> dict[str, Any]:
    provenance = ctx.tree.provenance()
    models = [{"alias": m, "paper": ctx.paper_models.get(m)} for m in ctx.models]
    facts = [
        f"{len(ctx.models)} model{'s' if len(ctx.models) != 1 else ''}",
        f"{len(ctx.tasks)} task{'s' if len(ctx.tasks) != 1 else ''}",
        ANSWER_LABELS[ctx.column],
    ]
    commit = str(provenance.get("git_commit") or "")
    if commit:
        facts.append(f"commit {commit[:10]}{'-dirty' if commit.endswith('-dirty') else ''}")
    return {"models": models, "facts": facts, "takeaways": takeaways}


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
