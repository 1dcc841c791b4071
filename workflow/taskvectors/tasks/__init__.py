"""The tasks: their registry, data files, generators and the pairs they are made of."""

from taskvectors.tasks.files import (
    TaskDataError,
    TaskDataWarning,
    read_pairs_file,
    read_table_pairs,
)
from taskvectors.tasks.registry import (
    DEFAULT_TASKS,
    FAMILIES,
    FILTER_POLICIES,
    Pair,
    TaskSpec,
    default_tasks,
    load_pairs,
    load_registry,
)

__all__ = [
    "DEFAULT_TASKS",
    "FAMILIES",
    "FILTER_POLICIES",
    "Pair",
    "TaskDataError",
    "TaskDataWarning",
    "TaskSpec",
    "default_tasks",
    "load_pairs",
    "load_registry",
    "read_pairs_file",
    "read_table_pairs",
]
