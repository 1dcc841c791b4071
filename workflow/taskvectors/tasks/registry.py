"""The task registry: which tasks exist, where their pairs come from and how they are scored.

The 27 tasks of the paper's code are declared in ``data/tasks.yaml`` (data, not code, so adding a
task needs no Python), beside the ``novel`` family (``taskvectors.tasks.novel``: generated
mappings for telling task learning from task recognition, none of them default); a run's config
may add its own tasks from pair files (``user_tasks``).
Everything is validated when the registry loads, so a typo fails before any model is loaded.

Each task also carries its prompt *spacing* (``auto``, ``none``, ``leading``; see
``taskvectors.tasks.prompts``): an entry's own ``spacing``, else its family's from the registry's
``families`` section (the paper's code: ``auto`` for translation and linguistic, ``none`` for the
rest). A user task defaults to ``auto`` when it keeps single-token answers, else ``none``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from taskvectors.pipeline.strict_yaml import load_strict_yaml, yaml_problem
from taskvectors.results.layout import MAX_NAME_LENGTH
from taskvectors.tasks.algorithmic import GENERATORS, generate_pairs
from taskvectors.tasks.files import (
    PAIR_FILE_SUFFIXES,
    TaskDataError,
    read_pairs_file,
    read_table_pairs,
)
from taskvectors.tasks.novel import WORD_GENERATORS
from taskvectors.tasks.pairs import Pair

__all__ = [
    "DEFAULT_TASKS",
    "FAMILIES",
    "FILTER_POLICIES",
    "REGISTRY_FILE",
    "Pair",
    "TaskSpec",
    "default_tasks",
    "load_pairs",
    "load_registry",
]

REGISTRY_FILE = "tasks.yaml"
FAMILIES = ("algorithmic", "translation", "linguistic", "knowledge", "novel", "custom")
FILTER_POLICIES = ("single_token", "first_token", "none")
# The modes taskvectors.scoring.answers implements. Spelled out here rather than imported: the model
# stages import this module, and Snakemake reruns a stage when any module it imports changes, so
# importing scoring/answers.py would make a scoring edit rerun every model stage (tests check the
# two lists agree).
SCORING_MODES = ("exact", "any_of", "prefix")
# Spelled out for the same reason (taskvectors.tasks.prompts.SPACINGS; tests check they agree).
SPACINGS = ("auto", "none", "leading")
TASK_FIELDS = ("family", "source", "scoring", "filter", "default", "description")
OPTIONAL_TASK_FIELDS = ("spacing",)
FAMILY_FIELDS = ("spacing",)
UNSPACED = "none"
GENERATOR_PARAMS = ("n_lists", "sample_seed", "shift")
# A word generator's inputs: a column of a TSV table under the data folder (read like a
# translation table: the first alternative of each non-empty cell).
WORD_PARAMS = ("words", "words_column")
WORDS_SUFFIX = ".tsv"
TASK_NAME_PATTERN = re.compile(r"[A-Za-z0-9]+(_[A-Za-z0-9]+)*")

# The paper's 18 evaluated tasks (TASKS_TO_EVALUATE), in registry order; tests check that this
# matches the entries marked ``default: true`` in data/tasks.yaml.
DEFAULT_TASKS: tuple[str, ...] = (
    "algorithmic_next_letter",
    "algorithmic_prev_letter",
    "algorithmic_list_first",
    "algorithmic_list_last",
    "algorithmic_to_upper",
    "algorithmic_to_lower",
    "translation_fr_en",
    "translation_es_en",
    "translation_en_fr",
    "translation_en_es",
    "linguistic_present_simple_gerund",
    "linguistic_present_simple_past_simple",
    "linguistic_plural_singular",
    "linguistic_antonyms",
    "knowledge_country_capital",
    "knowledge_person_language",
    "knowledge_location_continent",
    "knowledge_location_religion",
)

USER_TASK_DEFAULTS: Mapping[str, Any] = {
    "family": "custom",
    "scoring": "exact",
    "filter": "single_token",
    "default": False,
    "description": "",
}
USER_TASK_OPTIONAL = ("spacing",)


@dataclass(frozen=True)
class TaskSpec:
    """One task: its name, family, data source, scoring mode and token filter."""

    name: str
    family: str
    source: Mapping[str, Any]
    scoring: str
    filter: str
    default: bool
    description: str
    spacing: str = UNSPACED

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (plain dicts), as stored in prompt files."""
        return {
            "name": self.name,
            "family": self.family,
            "source": dict(self.source),
            "scoring": self.scoring,
            "filter": self.filter,
            "default": self.default,
            "description": self.description,
            "spacing": self.spacing,
        }


def load_registry(
    data_dir: Path,
    user_tasks: Mapping[str, Mapping] | None = None,
    base_dir: Path | None = None,
) -> dict[str, TaskSpec]:
    """All tasks: ``data_dir/tasks.yaml`` in file order, then the user's tasks in config order.

    Args:
        data_dir: the folder holding ``tasks.yaml`` and the data files it names.
        user_tasks: ``{name: {file, family?, scoring?, filter?, description?, default?}}`` from the
            config. Relative ``file`` paths are resolved against ``base_dir`` (default: the current
            directory, i.e. where Snakemake runs) and stored absolute.
    """
    registry_path = Path(data_dir) / REGISTRY_FILE
    try:
        document = load_strict_yaml(registry_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaskDataError("task registry not found", path=registry_path) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise TaskDataError(
            f"cannot read the task registry ({reason})", path=registry_path
        ) from None
    except yaml.YAMLError as error:  # a syntax error or a task written twice, with its line
        raise TaskDataError(yaml_problem(registry_path, error)) from None
    entries = document.get("tasks") if isinstance(document, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise TaskDataError(
            "expected a top-level 'tasks' mapping of name -> entry", path=registry_path
        )
    family_spacing = _family_spacing(document.get("families", {}), registry_path)
    registry = {
        name: _task_spec(name, entry, registry_path, family_spacing)
        for name, entry in entries.items()
    }
    for name, entry in (user_tasks or {}).items():
        if name in registry:
            raise TaskDataError(
                "a user task cannot reuse the name of a registry task; rename it",
                path="config user_tasks",
                task=name,
            )
        registry[name] = _user_task_spec(name, entry, Path(base_dir or Path.cwd()))
    return registry


def default_tasks(registry: Mapping[str, TaskSpec]) -> list[str]:
    """Names of the registry's default tasks (the paper's 18), in registry order."""
    return [name for name, spec in registry.items() if spec.default]


def load_pairs(spec: TaskSpec, data_dir: Path, forbidden: Sequence[str] = ()) -> list[Pair]:
    """The task's pairs, validated and sorted by input; errors name the task and file.

    ``forbidden``: substrings no input or answer may contain (the prompt template's markers, see
    ``taskvectors.tasks.prompts.template_markers``); file errors name the line.
    """
    source = spec.source
    try:
        if "generator" in source:
            params = {
                key: value
                for key, value in source.items()
                if key != "generator" and key not in WORD_PARAMS
            }
            if "words" in source:
                params["words"] = _words(source, data_dir, forbidden)
            pairs = generate_pairs(source["generator"], **params)
            _check_generated(pairs, forbidden, source["generator"])
            return pairs
        if "file" in source:
            return read_pairs_file(Path(data_dir) / source["file"], forbidden)
        return read_table_pairs(
            Path(data_dir) / source["table"], source["input"], source["output"], forbidden
        )
    except TaskDataError as error:
        raise error.for_task(spec.name) from None
    except ValueError as error:
        raise TaskDataError(str(error), task=spec.name) from None


def _words(source: Mapping[str, Any], data_dir: Path, forbidden: Sequence[str]) -> list[str]:
    """The words a word generator reads: the first alternative of each cell of its column."""
    path = Path(source["words"])
    path = path if path.is_absolute() else Path(data_dir) / path
    column = source["words_column"]
    return [pair.input for pair in read_table_pairs(path, column, column, forbidden)]


def _check_generated(pairs: Sequence[Pair], forbidden: Sequence[str], generator: str) -> None:
    for pair in pairs:
        for text in (pair.input, *pair.answers):
            marker = next((marker for marker in forbidden if marker in text), None)
            if marker is not None:
                raise TaskDataError(
                    f"generator {generator} writes {text!r}, which contains {marker!r}, a literal "
                    "piece of the prompt template; it would blur where a demonstration ends"
                )


def _family_spacing(section: Any, where: Path) -> dict[str, str]:
    """``{family: spacing}`` from the registry's optional ``families`` section."""
    if not isinstance(section, Mapping):
        raise TaskDataError("'families' must map a family to {spacing}", path=where)
    spacing = {}
    for family, entry in section.items():

        def fail(reason: str, family: Any = family) -> TaskDataError:
            return TaskDataError(f"families.{family}: {reason}", path=where)

        _check_choice(family, "family", FAMILIES, fail)
        if not isinstance(entry, Mapping) or set(entry) - set(FAMILY_FIELDS):
            raise fail(f"expected a mapping of {', '.join(FAMILY_FIELDS)}, got {entry!r}")
        _check_choice(entry.get("spacing", UNSPACED), "spacing", SPACINGS, fail)
        spacing[family] = entry.get("spacing", UNSPACED)
    return spacing


def _task_spec(
    name: Any, entry: Any, where: Path | str, family_spacing: Mapping[str, str] | None = None
) -> TaskSpec:
    def fail(reason: str) -> TaskDataError:
        return TaskDataError(reason, path=where, task=_short(name))

    _check_name(name, fail)
    if not isinstance(entry, Mapping):
        raise fail(f"expected a mapping of {', '.join(TASK_FIELDS)}, got {type(entry).__name__}")
    missing = [field for field in TASK_FIELDS if field not in entry]
    unknown = sorted(set(entry) - set(TASK_FIELDS) - set(OPTIONAL_TASK_FIELDS))
    if missing or unknown:
        raise fail(f"missing fields {missing}, unknown fields {unknown}")
    _check_choice(entry["family"], "family", FAMILIES, fail)
    _check_choice(entry["scoring"], "scoring", SCORING_MODES, fail)
    _check_choice(entry["filter"], "filter", FILTER_POLICIES, fail)
    spacing = entry.get("spacing", (family_spacing or {}).get(entry["family"], UNSPACED))
    _check_choice(spacing, "spacing", SPACINGS, fail)
    if not isinstance(entry["default"], bool):
        raise fail(f"default must be true or false, got {entry['default']!r}")
    if not isinstance(entry["description"], str):
        raise fail(f"description must be a string, got {entry['description']!r}")
    return TaskSpec(
        name=name,
        family=entry["family"],
        source=_checked_source(entry["source"], fail),
        scoring=entry["scoring"],
        filter=entry["filter"],
        default=entry["default"],
        description=entry["description"],
        spacing=spacing,
    )


def _user_task_spec(name: Any, entry: Any, base_dir: Path) -> TaskSpec:
    where = "config user_tasks"
    _check_name(name, lambda reason: TaskDataError(reason, path=where, task=_short(name)))
    if not isinstance(entry, Mapping):
        raise TaskDataError(
            f"expected a mapping, got {type(entry).__name__}", path=where, task=name
        )
    allowed = {"file", *USER_TASK_DEFAULTS, *USER_TASK_OPTIONAL}
    unknown = sorted(set(entry) - allowed)
    if unknown or "file" not in entry:
        raise TaskDataError(
            f"a user task needs 'file' and may set {sorted(allowed - {'file'})}; "
            f"unknown fields {unknown}" + ("" if "file" in entry else ", 'file' is missing"),
            path=where,
            task=name,
        )
    if not isinstance(entry["file"], str | Path) or not str(entry["file"]):
        raise TaskDataError(f"file must be a path, got {entry['file']!r}", path=where, task=name)
    path = Path(entry["file"])
    path = path if path.is_absolute() else (base_dir / path).resolve()
    if not path.is_file():
        raise TaskDataError("file not found", path=path, task=name)
    fields = {**USER_TASK_DEFAULTS, **{k: v for k, v in entry.items() if k != "file"}}
    fields.setdefault("spacing", "auto" if fields["filter"] == "single_token" else UNSPACED)
    return _task_spec(name, {**fields, "source": {"file": str(path)}}, where)


def _check_name(name: Any, fail) -> None:
    if (
        not isinstance(name, str)
        or not TASK_NAME_PATTERN.fullmatch(name)
        or len(name) > MAX_NAME_LENGTH
    ):
        raise fail(
            f"a task name must be letters, digits and single underscores, at most "
            f"{MAX_NAME_LENGTH} characters (it names files, and '__' separates task pairs), got "
            f"{_shown(name)}"
        )


def _short(name: Any) -> str:
    """A task name to head an error with: a long one cut to its first 40 characters."""
    text = str(name)
    return text if len(text) <= 60 else f"{text[:40]}…"


def _shown(name: Any, limit: int = 60) -> str:
    """``repr(name)``, cut to ``limit`` characters with the length said."""
    text = repr(name)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(str(name))} characters)"


def _check_choice(value: Any, field: str, choices: tuple[str, ...], fail) -> None:
    if value not in choices:
        raise fail(f"unknown {field} {value!r}; expected one of {', '.join(choices)}")


def _check_generator_source(source: Mapping[str, Any], fail) -> None:
    """A generator known by name, integer parameters, and a word list exactly when it reads one."""
    generator = source["generator"]
    if generator not in GENERATORS:
        raise fail(f"unknown generator {generator!r}; known: {', '.join(GENERATORS)}")
    for key, value in source.items():
        if key == "generator" or key in WORD_PARAMS:
            continue
        if key not in GENERATOR_PARAMS or isinstance(value, bool) or not isinstance(value, int):
            raise fail(
                f"generator parameters are integers {GENERATOR_PARAMS} (and {WORD_PARAMS} for "
                f"a word generator), got {key}={value!r}"
            )
    given = [key for key in WORD_PARAMS if key in source]
    if generator not in WORD_GENERATORS:
        if given:
            raise fail(f"generator {generator} reads no word list; remove {given}")
        return
    words, column = source.get("words"), source.get("words_column")
    if not (isinstance(words, str) and isinstance(column, str) and words and column):
        raise fail(
            f"generator {generator} reads its inputs from a table: give words (a {WORDS_SUFFIX} "
            f"file under the data folder) and words_column, got words={words!r}, "
            f"words_column={column!r}"
        )
    if Path(words).suffix != WORDS_SUFFIX:
        raise fail(f"words {words!r} must be a {WORDS_SUFFIX} table")


def _checked_source(source: Any, fail) -> dict[str, Any]:
    if not isinstance(source, Mapping):
        raise fail(f"source must be a mapping, got {type(source).__name__}")
    kinds = [kind for kind in ("generator", "file", "table") if kind in source]
    if len(kinds) != 1:
        raise fail(f"source needs exactly one of generator, file or table, got {sorted(source)}")
    source = dict(source)
    if kinds == ["generator"]:
        _check_generator_source(source, fail)
    elif kinds == ["file"]:
        if set(source) != {"file"} or not isinstance(source["file"], str):
            raise fail(f"a file source is {{file: path}}, got {source}")
        if Path(source["file"]).suffix not in PAIR_FILE_SUFFIXES:
            raise fail(
                f"file {source['file']!r} must end in one of {', '.join(PAIR_FILE_SUFFIXES)}"
            )
    else:
        if set(source) != {"table", "input", "output"} or not all(
            isinstance(value, str) for value in source.values()
        ):
            raise fail(
                f"a table source is {{table: path, input: column, output: column}}, got {source}"
            )
    return source
