"""What every section of the report needs: the loaded inputs, the run's choices, the output."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from taskvectors.analyses import registry
from taskvectors.report.inputs import RunTables
from taskvectors.report.page import Output
from taskvectors.report.reference import match_paper_model


@dataclass
class Context:
    """The run as the sections see it: tables, output, models and tasks in display order."""

    tables: RunTables
    out: Output
    config: Mapping[str, Any]
    models: list[str]
    tasks: list[str]
    paper_models: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for model in self.models:
            record = self.tables.model_records[model]
            self.paper_models[model] = match_paper_model(
                model, record.get("name_or_path"), record.get("source")
            )

    def scores(self, analysis: str, model: str) -> pd.DataFrame:
        """The analysis's score table of one model."""
        frame = self.tables.scores[analysis]
        return frame[frame["model"] == model]

    def pairs(self, analysis: str) -> set[tuple[str, str]]:
        """The ``(A, B)`` pairs of an analysis's ``pairs`` setting whose tasks are in the run."""
        pairs = (self.config.get("analyses") or {}).get(analysis, {}).get("pairs", [])
        return {(a, b) for a, b in pairs if a in self.tasks and b in self.tasks and a != b}

    def has(self, analysis: str) -> bool:
        """Whether the analysis ran (its score tables are among the declared inputs)."""
        return analysis in self.tables.scores

    @property
    def answer(self) -> str:
        """Which score is the headline (``evaluation.answer``)."""
        return str((self.config.get("evaluation") or {}).get("answer", "first_token"))

    def switched_off(self) -> list[str]:
        """The analyses this run did not compute."""
        return [name for name in registry() if not self.has(name)]
