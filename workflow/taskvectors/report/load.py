"""Reading the results tree (docs/outputs.md) into plain DataFrames for the analyses.

Everything the report needs from disk goes through ``ResultsTree``; a missing optional file gives
an empty frame or None, never an exception, so that a partial run still gets a report.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from taskvectors.analysis.common import scoring_mode, task_family
from taskvectors.analysis.layers import best_layer
from taskvectors.stages.summarize import COLUMNS as SUMMARY_COLUMNS
from taskvectors.storage import read_json, read_provenance, read_table

log = logging.getLogger(__name__)


@dataclass
class ResultsTree:
    """The result files of one run, restricted to the configured models and tasks."""

    root: Path
    models: Sequence[str]
    tasks: Sequence[str]
    registry_dir: Path | None = None
    user_tasks: Mapping[str, Any] | None = None
    _registry: dict[str, Any] | None = field(default=None, init=False, repr=False)
    _prompts: dict[tuple[str, str], dict] = field(default_factory=dict, init=False, repr=False)

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    @cached_property
    def summary(self) -> pd.DataFrame:
        """``summary.csv`` for the configured models and tasks, in config order, with ``family``."""
        path = self.path("summary.csv")
        if not path.exists():
            return pd.DataFrame(columns=[*SUMMARY_COLUMNS, "family"])
        frame = pd.read_csv(path, dtype={"model": str, "task": str})
        frame = frame[frame["model"].isin(self.models) & frame["task"].isin(self.tasks)].copy()
        if "category" not in frame:
            frame["category"] = None
        frame["family"] = [
            task_family(t, c) for t, c in zip(frame["task"], frame["category"], strict=True)
        ]
        model_rank = {m: i for i, m in enumerate(self.models)}
        task_rank = {t: i for i, t in enumerate(self.tasks)}
        frame["_m"], frame["_t"] = frame["model"].map(model_rank), frame["task"].map(task_rank)
        return frame.sort_values(["_m", "_t"]).drop(columns=["_m", "_t"]).reset_index(drop=True)

    @cached_property
    def sweeps(self) -> pd.DataFrame:
        """All sweeps as one long table: ``model, task, split, layer, accuracy, n, is_best``."""
        frames = []
        for model in self.models:
            for task in self.tasks:
                path = self.path("sweeps", model, f"{task}.parquet")
                if path.exists():
                    frames.append(read_table(path).assign(model=model, task=task))
        if not frames:
            return pd.DataFrame(
                columns=["model", "task", "split", "layer", "accuracy", "n", "is_best"]
            )
        frame = pd.concat(frames, ignore_index=True)
        frame["layer"] = frame["layer"].astype(int)
        return frame

    @cached_property
    def best_layers(self) -> dict[tuple[str, str], int]:
        """``(model, task) → best layer``, from the sweeps (the summary's column as a fallback)."""
        best = {
            (model, task): best_layer(group)
            for (model, task), group in self.sweeps.groupby(["model", "task"], sort=False)
        }
        for row in self.summary.itertuples():
            if (row.model, row.task) not in best and pd.notna(row.best_layer):
                best[(row.model, row.task)] = int(row.best_layer)
        return best

    def model_record(self, model: str) -> dict[str, Any]:
        path = self.path("models", f"{model}.json")
        return read_json(path) if path.exists() else {}

    def n_layers(self, model: str) -> int | None:
        record = self.model_record(model)
        if record.get("n_layers"):
            return int(record["n_layers"])
        rows = self.summary[self.summary["model"] == model]
        if len(rows) and pd.notna(rows["n_layers"].iloc[0]):
            return int(rows["n_layers"].iloc[0])
        layers = self.sweeps.loc[self.sweeps["model"] == model, "layer"]
        return int(layers.max()) + 1 if len(layers) else None

    def prompts(self, model: str, task: str) -> dict[str, Any]:
        """``prompts/{model}/{task}.json`` (read once), or ``{}`` when it does not exist."""
        key = (model, task)
        if key not in self._prompts:
            path = self.path("prompts", model, f"{task}.json")
            self._prompts[key] = read_json(path) if path.exists() else {}
        return self._prompts[key]

    def answers(self, model: str, task: str) -> dict[int, list[str]]:
        """``example_id → accepted answers`` from the prompts file (the eval table as fallback)."""
        examples = self.prompts(model, task).get("examples") or []
        answers = {int(e["example_id"]): list(e["answers"]) for e in examples if "answers" in e}
        if answers:
            return answers
        path = self.path("eval", model, f"{task}.parquet")
        if path.exists():
            frame = read_table(path).drop_duplicates("example_id")
            return {
                int(i): [str(a) for a in np.asarray(v).tolist()]
                for i, v in zip(frame["example_id"], frame["answers"], strict=True)
            }
        return {}

    def scoring_mode(self, task: str) -> str:
        """The task's scoring mode: its registry entry (as stored in a prompts file, else the
        registry itself), else its family's default."""
        for model in self.models:
            entry = self.prompts(model, task).get("task")
            if entry:
                return scoring_mode(task, entry)
        return scoring_mode(task, self._registry_entries().get(task))

    def _registry_entries(self) -> dict[str, Any]:
        if self._registry is None:
            self._registry = {}
            if self.registry_dir is not None and (self.registry_dir / "tasks.yaml").exists():
                try:
                    from taskvectors.tasks.registry import load_registry

                    self._registry = load_registry(self.registry_dir, self.user_tasks)
                except Exception as error:  # the family default still works
                    log.warning("task registry not readable (%s); using family defaults", error)
        return self._registry

    def table(self, *parts: str) -> pd.DataFrame | None:
        """A Parquet file under the results tree, or None when it does not exist."""
        path = self.path(*parts)
        return read_table(path) if path.exists() else None

    def provenance(self) -> dict[str, Any]:
        """The provenance block of the run: the summary's sidecar, else any sweep file."""
        sidecar = self.path("summary.provenance.json")
        if sidecar.exists():
            document = read_json(sidecar)
            return document.get("provenance", document)
        for model in self.models:
            for task in self.tasks:
                path = self.path("sweeps", model, f"{task}.parquet")
                if path.exists():
                    return read_provenance(path)
        return {}


def read_benchmarks(benchmarks_dir: Path) -> pd.DataFrame:
    """Every Snakemake benchmark file under ``benchmarks_dir`` as one row per job:
    ``rule, model, task, s, max_rss`` (``benchmarks/{rule}[/{model}[/{task}]].tsv``; a file with
    several repeats counts their mean)."""
    rows = []
    root = Path(benchmarks_dir)
    for path in sorted(root.rglob("*.tsv")) if root.is_dir() else []:
        parts = path.relative_to(root).with_suffix("").parts
        try:
            frame = pd.read_csv(path, sep="\t", na_values=["-", "NA"])
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            log.warning("skipping unreadable benchmark file %s (%s)", path, error)
            continue
        if "s" not in frame or frame.empty:
            continue
        rss = pd.to_numeric(frame.get("max_rss", pd.Series(dtype=float)), errors="coerce")
        rows.append(
            {
                "rule": parts[0],
                "model": parts[1] if len(parts) > 1 else None,
                "task": parts[2] if len(parts) > 2 else None,
                "s": float(pd.to_numeric(frame["s"], errors="coerce").mean()),
                "max_rss": float(rss.max()) if rss.notna().any() else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=["rule", "model", "task", "s", "max_rss"])


def stage_times(jobs: pd.DataFrame) -> pd.DataFrame:
    """Wall time per rule from ``read_benchmarks``: ``rule, jobs, total_s, max_s, max_rss_mb``,
    slowest stage first."""
    if jobs.empty:
        return pd.DataFrame(columns=["rule", "jobs", "total_s", "max_s", "max_rss_mb"])
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
