"""Typed readers and writers of the result files (the contract in docs/outputs.md).

Stages hand each other files, never Python objects, so every hand-off goes through here: the prompt
document as a typed :class:`PromptDocument`, and every Parquet table checked against its kind's
columns. A file that is truncated, has the wrong columns, or was written under other settings than
the reader expects is refused with one :class:`ResultFileError` naming the file, the reason and the
fix, never a pyarrow traceback. ``taskvectors verify`` runs the same checks over a whole run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from taskvectors.results.storage import PROVENANCE_KEY, write_json, write_table

# fmt: off
#: Per kind: the rule that writes its tables (for the fix message) and the columns every table of
#: the kind must have (a writer that selects its columns takes them in this order). An analysis's
#: score table (``scores/{analysis}/{model}.parquet``) has the columns its declaration names
#: (``Analysis.score_columns``): ``score_analysis`` writes it through :func:`write_score_table`,
#: which refuses a table without one of them, and the report reads it through
#: :func:`read_score_table`.
TABLE_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "activations": ("run_task", ("example_id", "split", "layer", "hidden")),
    "predictions": (
        "run_task",
        ("example_id", "split", "condition", "layer", "token_id", "first_token", "answer"),
    ),
    "sweep": (
        "evaluate",
        ("split", "layer", "n", "successes", "accuracy", "low", "high", "is_best"),
    ),
    "eval": (
        "evaluate",
        ("example_id", "query", "answers", "condition", "layer", "correct", "correct_full"),
    ),
}
# fmt: on
#: The rule that writes every score table (for the fix message).
SCORE_RULE = "score_analysis"


def table_columns(kind: str) -> tuple[str, ...]:
    """The columns every table of ``kind`` has (``KeyError`` for an unknown kind)."""
    return TABLE_KINDS[kind][1]


class ResultFileError(RuntimeError):
    """A result file is unreadable, incomplete or from another run; the message says the fix."""

    def __init__(self, path: str | Path, reason: str, rule: str | None = None) -> None:
        fix = f"rerun with --forcerun {rule}" if rule else "rerun the rule that wrote it"
        super().__init__(
            f"{path}: {reason}. Delete this file (or {fix}) so that the next run rebuilds it."
        )
        self.path = str(path)
        self.reason = reason


# --- the prompt document ---------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One prompt: demonstrations S, the query x, its accepted answers and the dummy queries x′.

    ``taskvectors.tasks.splits.make_examples`` draws them; ``answer_first_token_ids`` (per accepted
    answer, its first token in the prompt) is set when the prompt file is built.
    """

    example_id: int
    split: str
    query: str
    answers: tuple[str, ...]
    demos: tuple[tuple[str, str], ...]
    dummies: tuple[str, ...]
    answer_first_token_ids: tuple[int, ...] = ()

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> Example:
        return cls(
            example_id=int(entry["example_id"]),
            split=str(entry["split"]),
            query=str(entry["query"]),
            answers=tuple(entry["answers"]),
            demos=tuple((str(x), str(y)) for x, y in entry["demos"]),
            dummies=tuple(entry.get("dummies", ())),
            answer_first_token_ids=tuple(int(t) for t in entry.get("answer_first_token_ids", ())),
        )

    def to_dict(self) -> dict[str, Any]:
        entry = asdict(self)
        entry["answers"] = list(self.answers)
        entry["demos"] = [list(d) for d in self.demos]
        entry["dummies"] = list(self.dummies)
        entry["answer_first_token_ids"] = list(self.answer_first_token_ids)
        return entry


@dataclass(frozen=True)
class PromptDocument:
    """``prompts/{model}/{task}.json``: a task's prompts for one model's tokenizer."""

    task: dict[str, Any]
    template: Any
    settings: dict[str, Any]
    filter: dict[str, Any]
    splits: dict[str, Any]
    examples: tuple[Example, ...]
    spacing: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def task_name(self) -> str:
        return str(self.task["name"])

    @property
    def scoring(self) -> str:
        return str(self.task["scoring"])

    def split(self, name: str) -> list[Example]:
        return [example for example in self.examples if example.split == name]

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> PromptDocument:
        return cls(
            task=dict(document["task"]),
            template=document["template"],
            settings=dict(document["settings"]),
            filter=dict(document.get("filter", {})),
            splits=dict(document.get("splits", {})),
            examples=tuple(Example.from_dict(e) for e in document["examples"]),
            spacing=dict(document.get("spacing") or {}),
            provenance=dict(document.get("provenance", {})),
        )

    def to_dict(self) -> dict[str, Any]:
        document = {
            "task": self.task,
            "template": self.template,
            "settings": self.settings,
            "filter": self.filter,
            "splits": self.splits,
            "spacing": self.spacing,
            "examples": [example.to_dict() for example in self.examples],
        }
        if self.provenance:
            document["provenance"] = self.provenance
        return document


def write_prompt_document(path: str | Path, document: PromptDocument) -> None:
    write_json(path, document.to_dict())


def read_json_result(path: str | Path, rule: str | None = None) -> dict[str, Any]:
    """A JSON result file, or :class:`ResultFileError` if it is missing or not valid JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultFileError(path, "the file is missing", rule) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ResultFileError(path, f"not valid JSON (truncated?): {error}", rule) from None


def read_prompt_document(
    path: str | Path, expect_settings: Mapping[str, Any] | None = None
) -> PromptDocument:
    """The prompt document at ``path``; refused if it was built with other prompt settings."""
    raw = read_json_result(path, "run_task")
    try:
        document = PromptDocument.from_dict(raw)
    except (KeyError, TypeError, ValueError) as error:
        raise ResultFileError(path, f"not a prompt document ({error!r})", "run_task") from None
    if expect_settings is not None:
        _check_settings(path, document.settings, expect_settings, "run_task")
    return document


# --- Parquet tables --------------------------------------------------------------------------


def _check_settings(
    path: str | Path, found: Mapping[str, Any], expected: Mapping[str, Any], rule: str | None
) -> None:
    wrong = [key for key, value in expected.items() if found.get(key) != value]
    if wrong:
        detail = ", ".join(f"{k}={found.get(k)!r} (expected {expected[k]!r})" for k in wrong)
        raise ResultFileError(path, f"written under other settings: {detail}", rule)


def table_provenance(path: str | Path, rule: str | None = None) -> dict[str, Any]:
    """The provenance block of a Parquet result file."""
    try:
        metadata = pq.read_schema(path).metadata or {}
    except FileNotFoundError:
        raise ResultFileError(path, "the file is missing", rule) from None
    except (pa.ArrowException, OSError) as error:
        raise ResultFileError(
            path, f"not a readable Parquet file (truncated?): {error}", rule
        ) from None
    if PROVENANCE_KEY not in metadata:
        raise ResultFileError(path, "no taskvectors provenance in its metadata", rule)
    return json.loads(metadata[PROVENANCE_KEY])


def read_result_table(
    path: str | Path,
    kind: str | None = None,
    *,
    expect_settings: Mapping[str, Any] | None = None,
    columns: Iterable[str] | None = None,
) -> pd.DataFrame:
    """A Parquet result file as a DataFrame, checked against its ``kind`` (``TABLE_KINDS``).

    Args:
        path: the file.
        kind: one of ``TABLE_KINDS`` (its required columns are checked), or None for any table.
        expect_settings: keys that the file's ``provenance.settings`` must hold with these values.
        columns: read only these columns.
    """
    rule, required = TABLE_KINDS.get(kind, (None, ())) if kind else (None, ())
    block = table_provenance(path, rule)
    if expect_settings is not None:
        _check_settings(path, block.get("settings", {}), expect_settings, rule)
    try:
        table = pq.read_table(path, columns=list(columns) if columns else None)
    except (pa.ArrowException, OSError) as error:
        raise ResultFileError(path, f"unreadable (truncated?): {error}", rule) from None
    missing = sorted(set(required) - set(table.column_names)) if not columns else []
    if missing:
        raise ResultFileError(path, f"missing columns {missing} (an older layout?)", rule)
    return table.to_pandas()


def write_result_table(
    path: str | Path, table: pd.DataFrame, kind: str, provenance: dict[str, Any]
) -> None:
    """Write ``table`` as a result file of ``kind``, refusing one that lacks a column of its kind
    (``ValueError``: a writer that drifted from ``TABLE_KINDS``, which every reader checks)."""
    missing = [column for column in table_columns(kind) if column not in table.columns]
    if missing:
        raise ValueError(f"{path}: a {kind} table needs columns {missing}")
    write_table(path, table, provenance)


def write_score_table(
    path: str | Path, table: pd.DataFrame, columns: Sequence[str], provenance: dict[str, Any]
) -> None:
    """Write an analysis's score table, refusing one that lacks a declared column."""
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise ValueError(f"{path}: this score table needs columns {missing}")
    write_table(path, table, provenance)


def read_score_table(path: str | Path, columns: Sequence[str]) -> pd.DataFrame:
    """An analysis's score table, checked against its declared ``columns``."""
    table = read_result_table(path)
    missing = sorted(set(columns) - set(table.columns))
    if missing:
        raise ResultFileError(path, f"missing columns {missing} (an older layout?)", SCORE_RULE)
    return table


def best_layer(sweep: pd.DataFrame) -> int | None:
    """A task's best layer from its sweep table (the dev argmax ``evaluate`` marked
    ``is_best``), None when no layer is best (no patched answer beat the others)."""
    best = sweep.loc[sweep["is_best"], "layer"]
    return int(best.iloc[0]) if len(best) else None


def check_result_file(path: str | Path, kind: str | None = None) -> str | None:
    """None if ``path`` reads as a valid result file of ``kind``, else the reason."""
    try:
        if str(path).endswith(".json"):
            read_json_result(path)
        elif str(path).endswith(".parquet"):
            read_result_table(path, kind)
        elif not Path(path).exists():
            return "the file is missing"
    except ResultFileError as error:
        return error.reason
    return None
