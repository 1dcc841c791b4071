"""Run configuration: validated against ``workflow/schemas/config.schema.yaml``, defaults filled.

A wrong key or value is refused at start-up with every problem listed by its path and the reason
(``evaluation.answer: 'greddy' is not one of ['first_token', 'greedy']``), before any job runs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """The configuration does not match the schema; the message lists every problem."""


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
    return yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with defaults filled in; :class:`ConfigError` if anything is wrong."""
    filled = copy.deepcopy(dict(config))
    validator = _with_defaults(Draft202012Validator)(load_schema())
    errors = sorted(validator.iter_errors(filled), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [
            f"- {'.'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}" for e in errors
        ]
        raise ConfigError("invalid configuration:\n" + "\n".join(lines))
    return filled


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file and validate it."""
    return validate_config(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})
