"""Reading task pairs from data files, refusing bad ones with an error that says where and why.

The shipped data (``data/linguistic``, ``data/knowledge``, ``data/translation``) and the user's own
tasks go through the same readers, so a typo in either is caught before any model runs. Supported:

* JSONL (``.jsonl``): one ``{"input": str, "output": str | [str, ...]}`` object per line;
* JSON (``.json``): a list of such objects, or one ``{input: output}`` object;
* CSV (``.csv``): header ``input,output``; several accepted answers separated by ``|``;
* TSV tables (``.tsv``): a header of column names and one row per word, cells holding
  ``|``-separated alternatives (first canonical); a task reads one column as input and another as
  output. An empty cell means "no entry in this column" and skips the row for that task.

Every string must be non-empty, without surrounding whitespace or line breaks. An input listed
twice must have the same answers both times (the repeat is then dropped). Given the prompt
template's literal pieces (``forbidden``, e.g. ``example:`` and ``->``), a string containing one is
refused too, since it would blur where a demonstration ends. A JSON record with keys besides
``input`` and ``output`` is read, and one :class:`TaskDataWarning` per file lists those keys.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from taskvectors.tasks.pairs import Pair, merge_answers, sorted_pairs

PAIR_FILE_SUFFIXES = (".jsonl", ".json", ".csv")
ALTERNATIVES_SEPARATOR = "|"
RECORD_KEYS = ("input", "output")


class TaskDataWarning(UserWarning):
    """Task data that is read, but probably not as the user meant (e.g. ignored record keys)."""


class TaskDataError(ValueError):
    """A task's data is unusable; the message names the task, file and line (when known)."""

    def __init__(
        self,
        reason: str,
        *,
        path: str | Path | None = None,
        where: str | None = None,
        task: str | None = None,
    ) -> None:
        self.reason = reason
        self.path = None if path is None else str(path)
        self.where = where
        self.task = task
        super().__init__(self._message())

    def _message(self) -> str:
        context = [f"task {self.task}"] if self.task else []
        context += [part for part in (self.path, self.where) if part]
        return f"{', '.join(context)}: {self.reason}" if context else self.reason

    def for_task(self, task: str) -> TaskDataError:
        """The same error, naming the task it belongs to."""
        return TaskDataError(self.reason, path=self.path, where=self.where, task=task)


class _PairCollector:
    """Accumulates validated pairs of one file and detects conflicting duplicates."""

    def __init__(self, path: Path, forbidden: Sequence[str] = ()) -> None:
        self.path = path
        self.forbidden = tuple(forbidden)
        self._pairs: dict[str, Pair] = {}
        self._first_seen: dict[str, str] = {}
        self._extra_keys: dict[str, str] = {}

    def note_extra_keys(self, keys: Sequence[str], where: str) -> None:
        for key in keys:
            self._extra_keys.setdefault(key, where)

    def warn_extra_keys(self) -> None:
        """One warning listing the record keys that were ignored, with where each first appeared."""
        if self._extra_keys:
            listed = ", ".join(
                f"{key!r} (first at {where})" for key, where in self._extra_keys.items()
            )
            warnings.warn(
                f"{self.path}: records have keys besides input and output, which are ignored: "
                f"{listed}",
                TaskDataWarning,
                stacklevel=3,
            )

    def error(self, where: str | None, reason: str) -> TaskDataError:
        return TaskDataError(reason, path=self.path, where=where)

    def text(self, value: Any, what: str, where: str) -> str:
        if not isinstance(value, str):
            raise self.error(
                where, f"{what} must be a string, got {type(value).__name__} {value!r}"
            )
        if not value:
            raise self.error(where, f"{what} is an empty string")
        if value != value.strip():
            raise self.error(where, f"{what} {value!r} has surrounding whitespace")
        if "\n" in value or "\r" in value:
            raise self.error(where, f"{what} {value!r} contains a line break")
        for marker in self.forbidden:
            if marker in value:
                raise self.error(
                    where,
                    f"{what} {value!r} contains {marker!r}, a literal piece of the prompt "
                    "template; it would blur where a demonstration ends",
                )
        return value

    def answers(self, value: Any, where: str) -> tuple[str, ...]:
        if isinstance(value, list):
            if not value:
                raise self.error(where, "output is an empty list")
            answers = tuple(self.text(v, f"output[{i}]", where) for i, v in enumerate(value))
        else:
            answers = (self.text(value, "output", where),)
        repeated = sorted({a for a in answers if answers.count(a) > 1})
        if repeated:
            raise self.error(where, f"output lists {repeated[0]!r} more than once")
        return answers

    def add(self, raw_input: Any, raw_output: Any, where: str) -> None:
        text = self.text(raw_input, "input", where)
        answers = self.answers(raw_output, where)
        self.add_pair(Pair(text, answers), where)

    def add_pair(self, pair: Pair, where: str) -> None:
        known = self._pairs.get(pair.input)
        if known is None:
            self._pairs[pair.input] = pair
            self._first_seen[pair.input] = where
        elif known.answers != pair.answers:
            raise self.error(
                where,
                f"duplicate input {pair.input!r} with a different answer "
                f"({list(pair.answers)} here, {list(known.answers)} at "
                f"{self._first_seen[pair.input]})",
            )

    def merge_pair(self, pair: Pair) -> None:
        """Add a pair, merging its answers into an earlier pair with the same input."""
        known = self._pairs.get(pair.input)
        answers = pair.answers if known is None else merge_answers(known.answers, pair.answers)
        self._pairs[pair.input] = Pair(pair.input, answers)

    def pairs(self) -> list[Pair]:
        return sorted_pairs(self._pairs.values())


def read_pairs_file(path: str | Path, forbidden: Sequence[str] = ()) -> list[Pair]:
    """The pairs of a ``.jsonl``, ``.json`` or ``.csv`` file, validated and sorted by input.

    ``forbidden``: substrings no input or answer may contain (the prompt template's markers).
    """
    path = Path(path)
    if path.suffix not in PAIR_FILE_SUFFIXES:
        raise TaskDataError(
            f"unsupported file type {path.suffix!r}; use one of {', '.join(PAIR_FILE_SUFFIXES)}",
            path=path,
        )
    text = _read_text(path)
    collector = _PairCollector(path, forbidden)
    readers = {".jsonl": _collect_jsonl, ".json": _collect_json, ".csv": _collect_csv}
    readers[path.suffix](text, collector)
    collector.warn_extra_keys()
    pairs = collector.pairs()
    if not pairs:
        raise TaskDataError("the file holds no pairs", path=path)
    return pairs


def read_table_pairs(
    path: str | Path, input_column: str, output_column: str, forbidden: Sequence[str] = ()
) -> list[Pair]:
    """Pairs from two columns of a TSV table; rows sharing an input merge their answers.

    The input is the first alternative of the input cell; the answers are all alternatives of the
    output cell. Rows with an empty cell in either column are skipped. ``forbidden`` as in
    :func:`read_pairs_file`.
    """
    path = Path(path)
    collector = _PairCollector(path, forbidden)
    rows = _table_rows(_read_text(path), collector)
    header = next(rows, None)
    if header is None:
        raise TaskDataError("the table is empty (no header line)", path=path)
    header_where, columns = header
    if len(set(columns)) != len(columns) or not all(columns):
        raise collector.error(header_where, f"column names must be unique and non-empty: {columns}")
    for column in (input_column, output_column):
        if column not in columns:
            raise collector.error(header_where, f"no column {column!r} in header {columns}")
    source, target = columns.index(input_column), columns.index(output_column)
    for where, cells in rows:
        if len(cells) != len(columns):
            raise collector.error(
                where, f"expected {len(columns)} tab-separated cells, got {len(cells)}"
            )
        if not cells[source] or not cells[target]:
            continue
        inputs = _alternatives(cells[source], f"{input_column} cell", where, collector)
        answers = _alternatives(cells[target], f"{output_column} cell", where, collector)
        collector.merge_pair(Pair(inputs[0], answers))
    pairs = collector.pairs()
    if not pairs:
        raise TaskDataError(f"no rows with both {input_column} and {output_column}", path=path)
    return pairs


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TaskDataError("file not found", path=path) from None
    except IsADirectoryError:
        raise TaskDataError("a folder, not a file", path=path) from None
    except OSError as error:  # no read permission, an I/O error: one line, not a traceback
        reason = error.strerror or type(error).__name__
        raise TaskDataError(f"cannot read the file ({reason})", path=path) from None
    except UnicodeDecodeError as error:
        raise TaskDataError(
            f"not UTF-8 text ({error.reason} at byte {error.start})", path=path
        ) from None


def _collect_jsonl(text: str, collector: _PairCollector) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise collector.error(
                where, f"not valid JSON ({error.msg}, column {error.colno})"
            ) from None
        _collect_record(record, where, collector)


class _JsonObject(dict):
    """A decoded JSON object that remembers every key/value in file order, repeats included."""

    def __init__(self, items: list[tuple[str, Any]]) -> None:
        super().__init__(items)
        self.items_in_file = items


def _collect_json(text: str, collector: _PairCollector) -> None:
    try:
        document = json.loads(text, object_pairs_hook=_JsonObject)
    except json.JSONDecodeError as error:
        raise collector.error(f"line {error.lineno}", f"not valid JSON ({error.msg})") from None
    if isinstance(document, list):
        for index, record in enumerate(document):
            _collect_record(record, f"entry {index + 1} (index {index})", collector)
    elif isinstance(document, _JsonObject):
        for index, (key, value) in enumerate(document.items_in_file):
            collector.add(key, value, f"entry {index + 1} (key {key!r})")
    else:
        raise collector.error(
            None,
            "expected a list of {input, output} objects or an {input: output} object, "
            f"got {type(document).__name__}",
        )


def _collect_record(record: Any, where: str, collector: _PairCollector) -> None:
    if not isinstance(record, dict):
        raise collector.error(
            where, f"expected an object with keys input and output, got {type(record).__name__}"
        )
    for key in RECORD_KEYS:
        if key not in record:
            raise collector.error(where, f"missing key {key!r}")
    if len(record) > len(RECORD_KEYS):
        collector.note_extra_keys([key for key in record if key not in RECORD_KEYS], where)
    collector.add(record["input"], record["output"], where)


def _collect_csv(text: str, collector: _PairCollector) -> None:
    reader = csv.reader(text.splitlines(keepends=True), strict=True)
    header_seen = False
    try:
        for row in reader:
            where = f"line {reader.line_num}"
            if not row or row == [""]:
                continue
            if not header_seen:
                if row != ["input", "output"]:
                    raise collector.error(where, f"expected the header 'input,output', got {row}")
                header_seen = True
                continue
            if len(row) != 2:
                raise collector.error(where, f"expected 2 fields (input,output), got {len(row)}")
            answers = _alternatives(row[1], "output", where, collector)
            collector.add_pair(Pair(collector.text(row[0], "input", where), answers), where)
    except csv.Error as error:
        raise collector.error(f"line {reader.line_num}", f"not valid CSV ({error})") from None
    if not header_seen:
        raise collector.error(None, "the file is empty (expected the header 'input,output')")


def _table_rows(text: str, collector: _PairCollector) -> Iterator[tuple[str, list[str]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield f"line {number}", line.split("\t")


def _alternatives(cell: str, what: str, where: str, collector: _PairCollector) -> tuple[str, ...]:
    """The ``|``-separated alternatives of a cell, each validated, in order."""
    parts = cell.split(ALTERNATIVES_SEPARATOR)
    alternatives = tuple(collector.text(part, what, where) for part in parts)
    repeated = sorted({a for a in alternatives if alternatives.count(a) > 1})
    if repeated:
        raise collector.error(where, f"{what} lists {repeated[0]!r} more than once")
    return alternatives
