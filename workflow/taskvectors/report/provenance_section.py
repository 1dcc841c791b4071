"""Section 8: what produced the numbers (config, models, packages, commit) and how long it took."""

from __future__ import annotations

from typing import Any

import pandas as pd
import yaml

from taskvectors.report.context import Context
from taskvectors.report.load import read_benchmarks, stage_times
from taskvectors.report.page import Cell, Row, Section, Table, fmt

MODEL_FIELDS = (
    "source",
    "name_or_path",
    "revision",
    "dtype",
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
        "What produced these numbers: the run's configuration, the models, the "
        "software, and the wall time of each pipeline stage.",
    )
    section.add(_models_table(ctx))
    block = ctx.tree.provenance()
    environment = [
        ("git commit", block.get("git_commit", "unknown")),
        ("python", block.get("python", "unknown")),
    ]
    environment += sorted((block.get("packages") or {}).items())
    section.add(
        Table(
            "environment",
            "Software, from the results' provenance block.",
            ["Item", "Version"],
            [Row([Cell(k, cls="name"), Cell(str(v))]) for k, v in environment],
            ctx.out.data("environment", pd.DataFrame(environment, columns=["item", "version"])),
            9,
            narrow=True,
        )
    )
    section.add(_benchmarks_table(ctx))
    section.heading("Configuration")
    section.code(yaml.safe_dump(_plain(ctx.config), sort_keys=False, allow_unicode=True).rstrip())
    return section


def _models_table(ctx: Context) -> Table:
    records = []
    for model in ctx.models:
        record = ctx.tree.model_record(model)
        records.append(
            {
                "alias": model,
                **{f: record.get(f) for f in MODEL_FIELDS},
                "paper_model": ctx.paper_models.get(model),
            }
        )
    frame = pd.DataFrame(records, columns=["alias", *MODEL_FIELDS, "paper_model"])
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
        "Type",
        "Layers",
        "d_model",
        "Vocab",
        "Paper model",
    ]
    return Table(
        "models",
        "Models, from results/models/{model}.json.",
        columns,
        rows,
        ctx.out.data("models", frame),
        6,
    )


def _benchmarks_table(ctx: Context) -> Table:
    times = stage_times(read_benchmarks(ctx.benchmarks_dir))
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
    if len(times):
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
    caption = (
        "Wall time per pipeline stage, from the Snakemake benchmark files."
        if len(times)
        else "No Snakemake benchmark files were found."
    )
    return Table(
        "stage_times",
        caption,
        ["Stage (rule)", "Jobs", "Total s", "Max s", "Max RSS (MB)"],
        rows,
        ctx.out.data("stage_times", times),
        1,
    )
