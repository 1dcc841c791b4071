"""YAML read strictly: a key written twice in one mapping is an error, not a silent overwrite.

PyYAML's ``yaml.safe_load`` (and Snakemake's config loader) keep the last of two equal keys, so a
second model with one alias, or a second task entry with one name in ``data/tasks.yaml``, replaces
the first without a word. Config files and the task registry are read with this loader, and its
errors are one line with the file, line and column (:func:`yaml_problem`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

YAML_MERGE_TAG = "tag:yaml.org,2002:merge"


class StrictLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key written twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == YAML_MERGE_TAG:
                continue  # `<<: *anchor` merges are meant to be overridden
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                earlier = first_line.get(key)
                first_line.setdefault(key, line)
            except TypeError:
                continue  # an unhashable key; the base class reports it
            if earlier is not None:  # also on one line: {a: 1, a: 2}
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first at line {earlier}); the last would silently "
                    "win, so remove one",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def yaml_problem(path: Path, error: yaml.YAMLError) -> str:
    """``file, line L, column C: reason (while ... at line K)`` from a PyYAML error."""
    mark = getattr(error, "problem_mark", None)
    where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    reason = getattr(error, "problem", None) or str(error).replace("\n", " ")
    context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context:
        reason += f" ({context}" + (f" at line {context_mark.line + 1})" if context_mark else ")")
    return f"{path}{where}: {reason}"


def load_strict_yaml(text: str) -> Any:
    """The document in ``text``; ``yaml.YAMLError`` for a syntax error or a duplicated key."""
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass


__all__ = ["StrictLoader", "load_strict_yaml", "yaml_problem"]
