"""What every section of the report needs: the loaded inputs, the run's choices, the output."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from taskvectors.analysis.reference import match_paper_model
from taskvectors.report.inputs import RunTables
from taskvectors.report.page import Output

ANALYSIS_TITLES = {
    "geometry": "geometry of task vectors",
    "top_tokens": "top tokens",
    "conflicts": "conflicting tasks",
    "order": "order sensitivity",
    "prompt_format": "prompt-format sensitivity",
    "gd": "ICL versus gradient descent",
}


@dataclass
class Context:
    """The run as the sections see it: tables, output, models and tasks in display order."""

    tables: RunTables
    out: Output
    config: Mapping[str, Any]
    models: list[str]
    tasks: list[str]
    conflict_pairs: Sequence[tuple[str, str]]
    paper_models: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for model in self.models:
            record = self.tables.model_records[model]
            self.paper_models[model] = match_paper_model(
                model, record.get("name_or_path"), record.get("source")
            )

    def has(self, analysis: str) -> bool:
        """Whether the analysis ran (its score tables are among the declared inputs)."""
        return analysis in self.tables.scores

    @property
    def answer(self) -> str:
        """Which score is the headline (``evaluation.answer``)."""
        return str((self.config.get("evaluation") or {}).get("answer", "first_token"))

    def switched_off(self) -> list[str]:
        """The analyses this run did not compute."""
        return [name for name in ANALYSIS_TITLES if not self.has(name)]
