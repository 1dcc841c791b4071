"""The results layout: the one place that knows where every result file of a run lives.

The Snakemake rules declare their inputs and outputs through :class:`Layout`, and the stages get
their paths from their rule, so the layout is written down once (docs/outputs.md describes it).
Passing wildcard strings gives the rule patterns: ``Layout(...).prompts("{model}", "{task}")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The longest model alias or task name: each names files (``{task}.dist.parquet``, a conflict
#: pair's ``{a}__{b}.parquet``), and a file name has at most 255 bytes on common file systems.
MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class Layout:
    """Paths of one run below ``results`` (and the report below ``reports``)."""

    results: str
    reports: str

    def _r(self, *parts: str) -> str:
        return str(Path(self.results, *parts))

    # --- main stages -----------------------------------------------------------------------

    def model_record(self, model: str) -> str:
        return self._r("models", f"{model}.json")

    def prompts(self, model: str, task: str) -> str:
        return self._r("prompts", model, f"{task}.json")

    def activations(self, model: str, task: str) -> str:
        return self._r("activations", model, f"{task}.parquet")

    def predictions(self, model: str, task: str) -> str:
        return self._r("predictions", model, f"{task}.parquet")

    def sweep(self, model: str, task: str) -> str:
        return self._r("sweeps", model, f"{task}.parquet")

    def eval(self, model: str, task: str) -> str:
        return self._r("eval", model, f"{task}.parquet")

    def summary(self) -> str:
        return self._r("summary.csv")

    def summary_models(self) -> str:
        return self._r("summary_models.csv")

    def summary_provenance(self) -> str:
        return self._r("summary.provenance.json")

    # --- analyses --------------------------------------------------------------------------

    def analysis(self, name: str, model: str, item: str, part: str = "") -> str:
        """Raw output of an analysis model job for one task (or ``A__B`` pair): ``<item>.parquet``,
        ``<item>.<part>.parquet`` for a further part (GD's ``dist``), or ``<item>.<part>`` when the
        part carries its own extension (``fv.safetensors``)."""
        suffix = f".{part}" if part else ""
        return self._r(
            "analyses", name, model, f"{item}{suffix}" + ("" if "." in part else ".parquet")
        )

    def scores(self, name: str, model: str) -> str:
        """The documented score table of an analysis for one model."""
        return self._r("scores", name, f"{model}.parquet")

    # --- report, logs, benchmarks ----------------------------------------------------------

    def report_page(self) -> str:
        return str(Path(self.reports, "index.html"))

    def report_figures(self) -> str:
        return str(Path(self.reports, "figures"))

    def report_data(self) -> str:
        return str(Path(self.reports, "data"))

    def log(self, rule: str, *parts: str) -> str:
        return self._r("logs", rule, *parts[:-1], f"{parts[-1] if parts else 'all'}.log")

    def benchmark(self, rule: str, *parts: str) -> str:
        return self._r("benchmarks", rule, *parts[:-1], f"{parts[-1] if parts else 'all'}.tsv")


def conflict_item(task_a: str, task_b: str) -> str:
    """The file stem of a conflict pair: demonstrations of A, task vector of B."""
    return f"{task_a}__{task_b}"
