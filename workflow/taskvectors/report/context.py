"""What every section of the report needs: the results, the run's choices, where output goes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from taskvectors.analysis.reference import match_paper_model
from taskvectors.report.load import ResultsTree
from taskvectors.report.page import Output

REFERENCE_MAIN = "hendel2023_main_results.csv"
REFERENCE_LAYERS = "hendel2023_dev_accuracy_by_layer.csv"


def safe_is_correct(is_correct: Callable[[str, Sequence[str], str], bool]):
    """``is_correct`` that counts a prediction without any accepted answer as wrong."""

    def score(prediction: str, answers: Sequence[str], mode: str) -> bool:
        return bool(answers) and is_correct(prediction, answers, mode)

    return score


@dataclass
class Context:
    tree: ResultsTree
    out: Output
    config: Mapping[str, Any]
    column: str  # which prediction column counts (analysis.common.prediction_column)
    analyses: Mapping[str, bool]
    conflict_pairs: Sequence[tuple[str, str]]
    reference_dir: Path
    benchmarks_dir: Path
    is_correct: Callable[[str, Sequence[str], str], bool]
    paper_models: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for model in self.tree.models:
            record = self.tree.model_record(model)
            self.paper_models[model] = match_paper_model(
                model, record.get("name_or_path"), record.get("source")
            )

    @property
    def models(self) -> list[str]:
        return list(self.tree.models)

    @property
    def tasks(self) -> list[str]:
        return list(self.tree.tasks)

    def enabled(self, analysis: str) -> bool:
        """Whether an analysis ran: ``analyses[name]`` is a bool or a ``{enabled: ...}`` entry."""
        value = self.analyses.get(analysis, False)
        if isinstance(value, Mapping):
            value = value.get("enabled", True)
        return bool(value)

    def reference(self, name: str) -> pd.DataFrame | None:
        path = Path(self.reference_dir) / name
        return pd.read_csv(path) if path.exists() else None
