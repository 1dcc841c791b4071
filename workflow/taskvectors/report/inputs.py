"""The report's declared inputs, read strictly: every file must exist and have its columns.

The report is a renderer, not a second evaluator: it reads exactly the files its rule declares
(``ReportInputs``) and nothing else, and a declared file that is missing, truncated or lacks a
documented column (docs/outputs.md) stops the report with one ``ResultFileError`` that names the
file and the fix, instead of an empty or silently patched section.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from taskvectors.analyses import registry
from taskvectors.results.files import (
    ResultFileError,
    read_json_result,
    read_result_table,
    read_score_table,
)


@dataclass(frozen=True)
class ReportInputs:
    """Every file the report reads, as the ``report`` rule declares them."""

    summary: Path  # summary.csv
    summary_models: Path  # summary_models.csv
    summary_provenance: Path  # summary.provenance.json (run provenance + model records)
    sweeps: dict[tuple[str, str], Path]  # (model, task) -> sweeps parquet
    models: dict[str, Path]  # model -> models/{model}.json
    scores: dict[tuple[str, str], Path]  # (analysis, model) -> scores parquet, enabled ones only
    reference: dict[str, Path]  # "main_results", "dev_accuracy_by_layer" -> the paper's CSVs
    benchmarks: list[Path]  # benchmarks/{rule}/[...]/{x}.tsv of every job


CONDITIONS = ("baseline", "icl", "tv", "majority", "copy")
MODEL_CONDITIONS = ("baseline", "icl", "tv")

SUMMARY_COLUMNS = (
    ["model", "task", "category", "spacing", "n_pairs", "n_test", "n_queries", "best_layer"]
    + ["n_layers"]
    + [f"{c}{s}" for c in CONDITIONS for s in ("", "_low", "_high")]
    + [f"{c}_{s}" for c in MODEL_CONDITIONS for s in ("full", "strict")]
    + ["tv_minus_icl", "tv_minus_icl_low", "tv_minus_icl_high", "explained_by"]
)
SUMMARY_MODELS_COLUMNS = ["model", "task_set", "n_tasks", "tasks"] + [
    f"{c}{s}" for c in (*MODEL_CONDITIONS, "ratio", "tv_minus_icl") for s in ("", "_low", "_high")
]
REFERENCE_COLUMNS = {
    "main_results": ("model", "category", "task", "baseline", "hypothesis_tv", "regular_icl"),
    "dev_accuracy_by_layer": ("model", "task", "n_layers", "best_layer_0idx"),
}
MODEL_RECORD_KEYS = ("alias", "source", "name_or_path", "revision", "dtype", "n_layers")


@dataclass(frozen=True)
class RunTables:
    """The declared inputs, loaded: one frame per kind, restricted to nothing (rows are chosen
    by the sections)."""

    summary: pd.DataFrame  # summary.csv, ``best_layer`` as nullable Int64, ``explained_by`` str
    summary_models: pd.DataFrame  # summary_models.csv
    provenance: dict[str, Any]  # the run's provenance block (summary.provenance.json)
    model_records: dict[str, dict[str, Any]]  # alias -> models/{model}.json
    sweeps: pd.DataFrame  # every sweep, with ``model`` and ``task`` columns
    scores: dict[str, pd.DataFrame]  # analysis -> its score tables of every model (``model``)
    paper_main: pd.DataFrame  # the paper's main results
    paper_layers: pd.DataFrame  # the paper's dev accuracy by layer
    jobs: pd.DataFrame  # one row per benchmark file: ``rule, file, s, max_rss``

    @property
    def analyses(self) -> list[str]:
        return list(self.scores)


def load_tables(inputs: ReportInputs, models: Sequence[str], tasks: Sequence[str]) -> RunTables:
    """Read every declared input of the report (``ResultFileError`` on the first bad file)."""
    return RunTables(
        summary=read_summary(inputs.summary, models, tasks),
        summary_models=read_summary_models(inputs.summary_models, models),
        provenance=read_run_provenance(inputs.summary_provenance),
        model_records={m: read_model_record(inputs.models[m]) for m in models},
        sweeps=read_sweeps(inputs.sweeps),
        scores=read_scores(inputs.scores),
        paper_main=read_csv(inputs.reference["main_results"], REFERENCE_COLUMNS["main_results"]),
        paper_layers=read_csv(
            inputs.reference["dev_accuracy_by_layer"], REFERENCE_COLUMNS["dev_accuracy_by_layer"]
        ),
        jobs=read_benchmarks(inputs.benchmarks),
    )


def read_csv(path: Path, columns: Sequence[str], rule: str | None = None) -> pd.DataFrame:
    """A CSV with at least ``columns``; empty cells of string columns stay empty strings."""
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except FileNotFoundError:
        raise ResultFileError(path, "the file is missing", rule) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ResultFileError(path, f"not a readable CSV (truncated?): {error}", rule) from None
    _require_columns(path, frame, columns, rule)
    return frame


def _require_columns(path: Path, frame: pd.DataFrame, columns: Sequence[str], rule: str | None):
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ResultFileError(path, f"missing columns {missing} (an older layout?)", rule)


def read_summary(path: Path, models: Sequence[str], tasks: Sequence[str]) -> pd.DataFrame:
    """``summary.csv``: exactly one row per configured (model, task), in config order."""
    frame = read_csv(path, SUMMARY_COLUMNS, "summarize")
    frame["explained_by"] = frame["explained_by"].fillna("").astype(str)
    frame["best_layer"] = frame["best_layer"].astype("Int64")
    frame["category"] = frame["category"].fillna("").astype(str)
    expected = {(m, t) for m in models for t in tasks}
    found = list(zip(frame["model"].astype(str), frame["task"].astype(str), strict=True))
    if set(found) != expected or len(found) != len(expected):
        missing = sorted(expected - set(found))[:3]
        extra = sorted(set(found) - expected)[:3]
        reason = f"rows do not match the run's models × tasks (missing {missing}, extra {extra})"
        raise ResultFileError(path, reason, "summarize")
    model_rank = {m: i for i, m in enumerate(models)}
    task_rank = {t: i for i, t in enumerate(tasks)}
    order = frame["model"].map(model_rank) * len(tasks) + frame["task"].map(task_rank)
    return frame.iloc[order.argsort(kind="stable")].reset_index(drop=True)


def read_summary_models(path: Path, models: Sequence[str]) -> pd.DataFrame:
    """``summary_models.csv``: the ``all``, ``paper_filter`` and ``shared`` rows of every model."""
    frame = read_csv(path, SUMMARY_MODELS_COLUMNS, "summarize")
    frame["tasks"] = frame["tasks"].fillna("").astype(str)
    for model in models:
        sets = set(frame.loc[frame["model"] == model, "task_set"])
        missing = {"all", "paper_filter", "shared"} - sets
        if missing:
            reason = f"model {model!r} has no row for task sets {sorted(missing)}"
            raise ResultFileError(path, reason, "summarize")
    return frame


def read_run_provenance(path: Path) -> dict[str, Any]:
    """The ``provenance`` block of ``summary.provenance.json``."""
    document = read_json_result(path, "summarize")
    if not isinstance(document.get("provenance"), Mapping):
        raise ResultFileError(path, "no 'provenance' block", "summarize")
    return dict(document["provenance"])


def read_model_record(path: Path) -> dict[str, Any]:
    """``models/{model}.json`` with the keys the report shows."""
    record = read_json_result(path, "prepare_model")
    missing = [key for key in MODEL_RECORD_KEYS if key not in record]
    if missing:
        raise ResultFileError(path, f"missing keys {missing}", "prepare_model")
    return record


def read_sweeps(paths: Mapping[tuple[str, str], Path]) -> pd.DataFrame:
    """Every sweep as one long table with ``model`` and ``task`` added."""
    frames = [
        read_result_table(path, "sweep").assign(model=model, task=task)
        for (model, task), path in paths.items()
    ]
    if not frames:
        raise ValueError("the report needs at least one sweep file")
    frame = pd.concat(frames, ignore_index=True)
    frame["layer"] = frame["layer"].astype(int)
    frame["is_best"] = frame["is_best"].astype(bool)
    return frame


def read_scores(paths: Mapping[tuple[str, str], Path]) -> dict[str, pd.DataFrame]:
    """Each analysis's score tables of every model as one frame with a ``model`` column, each
    checked against the columns its declaration names (the columns its scoring writes)."""
    analyses = registry()
    parts: dict[str, list[pd.DataFrame]] = {}
    for (analysis, model), path in paths.items():
        if analysis not in analyses:
            raise ValueError(f"{path}: unknown analysis {analysis!r}")
        frame = read_score_table(path, analyses[analysis].score_columns)
        parts.setdefault(analysis, []).append(frame.assign(model=model))
    return {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}


def benchmark_rule(path: Path) -> str:
    """The rule of a benchmark file ``.../benchmarks/{rule}/.../{x}.tsv``."""
    parts = Path(path).parts
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] == "benchmarks":
            return parts[index + 1] if index + 2 < len(parts) else Path(parts[-1]).stem
    raise ResultFileError(path, "not under a 'benchmarks' folder", None)


def read_benchmarks(paths: Sequence[Path]) -> pd.DataFrame:
    """One row per Snakemake benchmark file: ``rule, file, s, max_rss`` (MB); a file with
    several repeats counts their mean time and largest memory."""
    rows = []
    for path in paths:
        rule = benchmark_rule(Path(path))
        frame = _benchmark(Path(path), rule)
        seconds = pd.to_numeric(frame["s"], errors="coerce")
        if frame.empty or seconds.isna().all():
            raise ResultFileError(path, "no wall time in the benchmark file", rule)
        rss = pd.to_numeric(frame.get("max_rss", pd.Series(dtype=float)), errors="coerce")
        rows.append(
            {
                "rule": rule,
                "file": str(path),
                "s": float(seconds.mean()),
                "max_rss": float(rss.max()) if rss.notna().any() else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=["rule", "file", "s", "max_rss"])


def _benchmark(path: Path, rule: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, sep="\t", na_values=["-", "NA"])
    except FileNotFoundError:
        raise ResultFileError(path, "the benchmark file is missing", rule) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ResultFileError(path, f"not a benchmark TSV: {error}", rule) from None
    _require_columns(Path(path), frame, ("s",), rule)
    return frame


def stage_times(jobs: pd.DataFrame) -> pd.DataFrame:
    """Wall time per rule: ``rule, jobs, total_s, max_s, max_rss_mb``, slowest stage first."""
    table = (
        jobs.groupby("rule")
        .agg(
            jobs=("s", "size"),
            total_s=("s", "sum"),
            max_s=("s", "max"),
            max_rss_mb=("max_rss", "max"),
        )
        .reset_index()
        .sort_values(["total_s", "rule"], ascending=[False, True], kind="stable")
    )
    return table.reset_index(drop=True)


def split_tasks(value: str) -> list[str]:
    """The ``;``-joined ``tasks`` cell of ``summary_models.csv`` as a list."""
    return [t for t in (value or "").split(";") if t]
