"""The last section: what produced the numbers (config, models, packages, commit) and how long
each pipeline stage took, from the model records, the summary's provenance and the benchmarks."""

from __future__ import annotations

from typing import Any

import pandas as pd
import yaml

from taskvectors.report.context import Context
from taskvectors.report.inputs import stage_times
from taskvectors.report.page import Cell, Row, Section, Table, fmt

MODEL_FIELDS = (
    "source",
    "name_or_path",
    "revision",
    "dtype",
    "device",
    "model_type",
    "n_layers",
    "d_model",
    "vocab_size",
)


def _plain(value: Any) -> Any:
    """Config values as plain YAML types (mappings and sequences from any source)."""
    if hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def provenance_section(ctx: Context) -> Section:
    section = Section(
        "provenance",
        "Provenance",
        "What produced these numbers: the models, the software, the wall time of each "
        "pipeline stage, and the run's configuration.",
    )
    section.add(_models_table(ctx))
    block = ctx.tables.provenance
    environment = [
        ("git commit", block.get("git_commit", "unknown")),
        ("python", block.get("python", "unknown")),
    ]
    environment += sorted((block.get("packages") or {}).items())
    section.add(
        Table(
            "environment",
            "Software, from the summary's provenance (summary.provenance.json).",
            ["Item", "Version"],
            [Row([Cell(k, cls="name"), Cell(str(v))]) for k, v in environment],
            ctx.out.data("environment", pd.DataFrame(environment, columns=["item", "version"])),
            9,
            narrow=True,
        )
    )
    section.add(_stage_table(ctx))
    section.heading("Configuration")
    section.code(yaml.safe_dump(_plain(ctx.config), sort_keys=False, allow_unicode=True).rstrip())
    return section


def _models_table(ctx: Context) -> Table:
    records = [
        {
            "alias": model,
            **{f: ctx.tables.model_records[model].get(f) for f in MODEL_FIELDS},
            "paper_model": ctx.paper_models.get(model),
        }
        for model in ctx.models
    ]
    rows = [
        Row(
            [Cell(r["alias"], cls="name")]
            + [Cell(fmt(r[f])) for f in MODEL_FIELDS]
            + [Cell(r["paper_model"] or "—")]
        )
        for r in records
    ]
    columns = [
        "Alias",
        "Source",
        "Name or path",
        "Revision",
        "dtype",
        "Device",
        "Type",
        "Layers",
        "d_model",
        "Vocab",
        "Paper model",
    ]
    return Table(
        "models",
        "Models, from the model records (models/{model}.json): the dtype and device used.",
        columns,
        rows,
        ctx.out.data("models", pd.DataFrame(records)),
        7,
    )


def _stage_table(ctx: Context) -> Table:
    times = stage_times(ctx.tables.jobs)
    rows = [
        Row(
            [
                Cell(r.rule, cls="name"),
                Cell(str(r.jobs)),
                Cell(f"{r.total_s:,.1f}"),
                Cell(f"{r.max_s:,.1f}"),
                Cell(fmt(r.max_rss_mb, 0)),
            ]
        )
        for r in times.itertuples()
    ]
    rows.append(
        Row(
            [
                Cell("all stages", cls="name"),
                Cell(str(int(times["jobs"].sum()))),
                Cell(f"{times['total_s'].sum():,.1f}"),
                Cell(""),
                Cell(""),
            ],
            cls="total",
        )
    )
    return Table(
        "stage_times",
        "Wall time per pipeline stage (summed over its jobs; with several cores jobs overlap, "
        "so the run took less than the total), from the Snakemake benchmark files.",
        ["Stage (rule)", "Jobs", "Total s", "Max s", "Max RSS (MB)"],
        rows,
        ctx.out.data("stage_times", times),
        1,
    )
