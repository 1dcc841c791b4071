"""Run configuration: read strictly, validated against the schema, defaults filled.

A wrong key or value is refused at start-up with every problem listed by its path and the reason
(``evaluation.answer: 'greddy' is not one of ['first_token', 'greedy']``), before any job runs:

* config files are read again with a strict YAML loader (:func:`check_config_files`): Snakemake's
  own loader lets a duplicated key (two models with one alias) silently replace the first, and
  reports a syntax error without file or line; here both are one line with the file and line;
* ``--config`` values arrive from Snakemake as strings when nested (``'prompts={n_demos: 4}'``
  gives ``{'n_demos': '4'}``); :func:`normalize_overrides` turns them into the types the schema
  asks for, and dotted keys (``prompts.n_demos``) into nested ones. It is the one normalisation
  both ``taskvectors check`` and the Snakefile apply, so both see the same values: every key of
  type integer holds an ``int`` (``seed: 41.0`` is 41, as JSON Schema counts it an integer; the
  seed is hashed as text, so 41.0 would draw other prompts), and every path key (``format: path``
  in the schema) has a leading ``~`` and ``$VAR`` expanded (the run would otherwise write
  ``./~/...``), an unset variable refused;
* numbers are finite (:func:`nonfinite_problems`): ``.nan`` or ``.inf`` pass every ``minimum``;
* folders are checked (:func:`path_problems`): an empty path or the filesystem root would put
  results at ``/summary.csv``; a path that is an existing file cannot become a folder.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError, validators

from taskvectors.analyses import registry
from taskvectors.pipeline.strict_yaml import load_strict_yaml, yaml_problem

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"
# Folders the run writes into or reads from; model_cache_dir may be "" (the default location).
OUTPUT_DIRS = ("results_dir", "reports_dir")
FOLDER_KEYS = ("results_dir", "reports_dir", "data_dir", "model_cache_dir")
OPTIONAL_FOLDER_KEYS = ("model_cache_dir",)
MAX_FILE_NAME_BYTES = 255  # one file or folder name, on common file systems
INTEGER_TEXT = re.compile(r"[-+]?[0-9]+")
BOOLEAN_TEXT = {"true": True, "false": False}


class ConfigError(ValueError):
    """The configuration is unusable; the message lists every problem, one line each."""


def problems_error(problems: Iterable[str], headline: str = "invalid configuration") -> ConfigError:
    """One :class:`ConfigError`: ``headline: problem``, or ``headline:`` then one line each."""
    problems = list(problems)
    if len(problems) == 1:
        return ConfigError(f"{headline}: {problems[0]}")
    return ConfigError(f"{headline}:\n" + "\n".join(f"- {problem}" for problem in problems))


# --- strict reading of config files ----------------------------------------------------------


def _reject_duplicate_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}; the last would silently win, so remove one")
        seen[key] = value
    return seen


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A config file's mapping, read strictly; :class:`ConfigError` naming the file and line.

    YAML (and JSON, a subset of it) with no key written twice in a mapping, and a mapping at the
    top level. ``.json`` files are read as JSON, as Snakemake does.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the config file ({error})") from None
    if path.suffix == ".json":
        try:
            document = json.loads(text, object_pairs_hook=_reject_duplicate_pairs)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}, line {error.lineno}: not valid JSON: {error.msg}") from None
        except ValueError as error:
            raise ConfigError(f"{path}: {error}") from None
    else:
        try:
            document = load_strict_yaml(text)
        except yaml.YAMLError as error:
            raise ConfigError(yaml_problem(path, error)) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(
            f"{path}: a config file holds a mapping of keys, got a {type(document).__name__}"
        )
    return document


def check_config_files(paths: Iterable[str | Path]) -> None:
    """Read every config file strictly; one :class:`ConfigError` listing each file's problem."""
    problems = []
    for path in paths:
        try:
            read_config_file(path)
        except ConfigError as error:
            problems.append(str(error))
    if problems:
        raise problems_error(problems, "config file problems")


# --- command-line overrides --------------------------------------------------------------------


def normalize_overrides(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with dotted keys nested and override strings typed by the schema.

    ``{"prompts.n_demos": 4}`` becomes ``{"prompts": {"n_demos": 4}}`` (merged into an existing
    ``prompts`` mapping). A string where the schema allows no string but an integer, number,
    boolean or null is converted when it reads as one (``"4"``, ``"0.5"``, ``"true"``,
    ``"null"``); anything else is left for validation to refuse with its path. A whole float
    where the schema asks for an integer becomes an ``int`` (``41.0`` -> 41; ``41.5`` is left for
    validation to refuse), and a path key's leading ``~`` is expanded.
    """
    nested: dict[str, Any] = {}
    dotted = []
    for key, value in config.items():
        if isinstance(key, str) and "." in key:
            dotted.append((key, value))
        else:
            nested[key] = copy.deepcopy(value)
    for key, value in dotted:
        _set_dotted(nested, key.split("."), copy.deepcopy(value))
    return _coerce(nested, load_schema())


def _set_dotted(config: dict[str, Any], parts: list[str], value: Any) -> None:
    node = config
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def _schema_types(schema: Mapping[str, Any]) -> set[str]:
    """JSON types a (sub)schema admits, from ``type``, ``enum`` and ``oneOf``/``anyOf``."""
    if "type" in schema:
        kind = schema["type"]
        return {kind} if isinstance(kind, str) else set(kind)
    if "enum" in schema:
        return {_json_type(value) for value in schema["enum"]}
    branches = schema.get("oneOf", []) + schema.get("anyOf", [])
    return set().union(*(_schema_types(branch) for branch in branches)) if branches else set()


def _whole_number(value: float, types: set[str]) -> int | float:
    """``value`` as an ``int`` where the schema asks for an integer and it is whole."""
    if "integer" in types and "number" not in types and math.isfinite(value):
        return int(value) if value.is_integer() else value
    return value


def _coerce_text(text: str, types: set[str]) -> Any:
    if "string" in types or not types:
        return text
    if "integer" in types and INTEGER_TEXT.fullmatch(text.strip()):
        return int(text)
    if "integer" in types and "number" not in types:
        try:
            return _whole_number(float(text), types)
        except ValueError:
            pass
    if "number" in types:
        try:
            return float(text)
        except ValueError:
            pass
    if "boolean" in types and text.strip().lower() in BOOLEAN_TEXT:
        return BOOLEAN_TEXT[text.strip().lower()]
    if "null" in types and text.strip() in ("null", "~"):
        return None
    return text


def _object_branch(schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if "properties" in schema or "additionalProperties" in schema:
        return schema
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
        if branch.get("type") == "object" or "properties" in branch:
            return branch
    return None


def _array_items(schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if isinstance(schema.get("items"), Mapping):
        return schema["items"]
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
        if isinstance(branch.get("items"), Mapping):
            return branch["items"]
    return None


def _coerce(value: Any, schema: Mapping[str, Any], where: str = "") -> Any:
    if isinstance(value, str):
        value = _coerce_text(value, _schema_types(schema))
        if isinstance(value, str) and schema.get("format") == "path":
            return expand_path(value, where)
        return value
    if isinstance(value, float):
        return _whole_number(value, _schema_types(schema))
    if isinstance(value, dict) and (branch := _object_branch(schema)):
        properties = branch.get("properties", {})
        extra = branch.get("additionalProperties")
        return {
            key: _coerce(
                item,
                properties.get(key, extra if isinstance(extra, Mapping) else {}),
                f"{where}.{key}" if where else str(key),
            )
            for key, item in value.items()
        }
    if isinstance(value, list) and (items := _array_items(schema)):
        return [_coerce(item, items, f"{where}.{i}") for i, item in enumerate(value)]
    return value


UNSET_VARIABLE = re.compile(r"\$(\w+|\{\w+\})")


def expand_path(value: str, where: str) -> str:
    """A path setting with a leading ``~`` and ``$VAR``/``${VAR}`` expanded (``$SCRATCH/tv`` on a
    cluster); an unset variable is refused, since the run would write a literal ``./$SCRATCH``."""
    expanded = os.path.expandvars(os.path.expanduser(value))
    unset = UNSET_VARIABLE.search(expanded)
    if unset:
        name = unset.group(1).strip("{}")
        raise ConfigError(
            f"{where or 'path'}: {value!r} uses the environment variable {name}, which is not set"
        )
    return os.path.expanduser(expanded)


# --- validation --------------------------------------------------------------------------------


def _with_defaults(validator_class):
    """A validator that also fills ``default`` values into the instance as it validates."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def fill_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": fill_defaults})


def load_schema() -> dict[str, Any]:
    """The config schema, with each registered analysis's slice (its folder's ``schema.yaml``)
    under ``analyses``."""
    schema = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))
    analyses = schema["properties"]["analyses"]["properties"]
    for name, analysis in registry().items():
        analyses[name] = copy.deepcopy(analysis.schema)
    return schema


JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return "object" if isinstance(value, dict) else JSON_TYPES.get(type(value), "other")


def _schema_problems(error: ValidationError) -> list[str]:
    """``path: reason`` lines for one schema error, readable for ``oneOf`` and ``pattern``.

    A value failing a ``oneOf`` is explained by the branch of its own type (a template mapping by
    the mapping branch's errors), not by "not valid under any of the given schemas"; a ``pattern``
    mismatch quotes the key's description instead of the regular expression.
    """
    path = ".".join(map(str, error.absolute_path)) or "(top level)"
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator in ("oneOf", "anyOf") and error.context:
        value_type = _json_type(error.instance)
        fitting = [
            index
            for index, branch in enumerate(error.validator_value)
            if value_type in _schema_types(branch)
            or (value_type == "integer" and "number" in _schema_types(branch))
        ]
        if fitting:
            branch_errors = [e for e in error.context if e.relative_schema_path[0] == fitting[0]]
            return [problem for e in branch_errors for problem in _schema_problems(e)]
    if description and error.validator in ("oneOf", "anyOf", "pattern", "maxLength"):
        return [f"{path}: {shown(error.instance)} is not valid: {description}"]
    return [f"{path}: {error.message}"]


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters with the length said (a 300-character name)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return (
        f"{text[: limit - 1]}… ({len(value) if isinstance(value, str) else len(text)} characters)"
    )


def path_problems(config: Mapping[str, Any]) -> list[str]:
    """Why a folder setting is unusable, one line per key (empty: all fine).

    Refused: an empty or blank path (``model_cache_dir: ""`` alone means the default location),
    a folder name longer than a file system allows (255 bytes), the filesystem root (also when
    reached through ``..``), and a path that is an existing file.
    """
    problems = []
    for key in FOLDER_KEYS:
        value = config.get(key)
        if not isinstance(value, str) or (value == "" and key in OPTIONAL_FOLDER_KEYS):
            continue
        if not value.strip():
            problems.append(f"{key}: {value!r} is empty; name a folder, such as 'results/main'")
            continue
        folder = Path(value).expanduser()
        too_long = [part for part in folder.parts if len(part.encode()) > MAX_FILE_NAME_BYTES]
        if too_long:
            problems.append(
                f"{key}: the folder name {shown(too_long[0])} has {len(too_long[0].encode())} "
                f"bytes; file systems allow {MAX_FILE_NAME_BYTES}"
            )
            continue
        resolved = folder.resolve()
        if resolved == Path(resolved.anchor):
            problems.append(
                f"{key}: {value!r} is the filesystem root; name a folder below it, "
                "such as 'results/main'"
            )
        elif folder.is_file():
            problems.append(f"{key}: {value!r} is an existing file, not a folder")
    return problems


def nonfinite_problems(value: Any, path: str = "") -> list[str]:
    """``path: nan is not a finite number`` for every NaN or infinity anywhere in ``value``."""
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{path or '(top level)'}: {value} is not a finite number"]
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    prefix = f"{path}." if path else ""
    return [p for key, item in items for p in nonfinite_problems(item, f"{prefix}{key}")]


def with_quick_settings(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with, when it says ``quick: true``, every analysis's declared quick settings
    (``Analysis.quick_settings``) under what it writes for that analysis (nested settings merged
    key by key), so a quick config (config/smoke.yaml) need not name each analysis to size it
    down; other configs are returned as they are. Wrong types are left to the schema."""
    if config.get("quick") is not True:
        return config
    analyses = config.setdefault("analyses", {})
    if not isinstance(analyses, dict):
        return config
    for name, analysis in registry().items():
        written = analyses.get(name, {})
        if isinstance(written, Mapping):
            analyses[name] = _merged(analysis.quick_settings, written)
    return config


def _merged(base: Mapping[str, Any], written: Mapping[str, Any]) -> dict[str, Any]:
    """``written`` over ``base``, mappings merged key by key."""
    merged = copy.deepcopy(dict(base))
    for key, value in written.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with defaults filled in (and quick settings when it asks for them,
    :func:`with_quick_settings`); :class:`ConfigError` if anything is wrong."""
    filled = with_quick_settings(copy.deepcopy(dict(config)))
    validator = _with_defaults(Draft202012Validator)(load_schema())
    errors = sorted(validator.iter_errors(filled), key=lambda e: list(e.absolute_path))
    problems = [problem for error in errors for problem in _schema_problems(error)]
    problems += nonfinite_problems(filled)
    problems += path_problems(filled)
    if problems:
        raise problems_error(problems)
    return filled


def with_defaults(schema: Mapping[str, Any], section: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``section`` validated against ``schema`` (one slice of the config schema, such
    as an analysis's ``schema.yaml``) with its defaults filled in, so that code building settings
    from a partial section takes its defaults from the schema and from nowhere else."""
    filled = copy.deepcopy(dict(section))
    validator = _with_defaults(Draft202012Validator)(dict(schema))
    errors = sorted(validator.iter_errors(filled), key=lambda e: list(e.absolute_path))
    problems = [problem for error in errors for problem in _schema_problems(error)]
    if problems:
        raise problems_error(problems)
    return filled


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a config file strictly, normalize it and validate it (:class:`ConfigError`)."""
    try:
        return validate_config(normalize_overrides(read_config_file(path)))
    except ConfigError as error:
        raise naming_file(error, path) from None


def naming_file(error: ConfigError, path: str | Path) -> ConfigError:
    """``error`` with the config file's name in front, unless it names it already."""
    message = str(error)
    return error if str(path) in message else ConfigError(f"{path}: {message}")
