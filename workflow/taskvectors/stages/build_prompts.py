"""Stage ``build_prompts``: a task's filtered pairs, split into the examples every later stage uses.

Fixing the examples in a file (``prompts/{model}/{task}.json``) means extraction, patching and
evaluation all see the same queries, demonstrations and dummy queries, and a reader can check
exactly what the model was shown. The file is byte-identical for the same inputs in any process.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from taskvectors.prompts import PromptTemplate
from taskvectors.provenance import provenance
from taskvectors.splits import filter_pairs, make_examples, split_summary
from taskvectors.storage import write_json
from taskvectors.tasks.registry import TaskSpec, load_pairs

SETTING_KEYS = ("n_demos", "n_dev", "n_test", "n_dummy", "seed")


def prompt_settings(settings: Mapping[str, Any]) -> dict[str, int]:
    """The stage's settings (``n_demos, n_dev, n_test, n_dummy, seed``) as plain integers."""
    missing = [key for key in SETTING_KEYS if key not in settings]
    if missing:
        raise ValueError(f"build_prompts settings miss {missing}; expected {list(SETTING_KEYS)}")
    chosen = {key: settings[key] for key in SETTING_KEYS}
    for key, value in chosen.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"build_prompts setting {key} must be an integer, got {value!r}")
    return chosen


def build_prompts(
    task: TaskSpec,
    data_dir: Path,
    tokenizer: Any,
    template: PromptTemplate,
    settings: Mapping[str, Any],
    model_record: Mapping[str, Any],
    out_path: Path,
) -> dict[str, Any]:
    """Load, filter and split ``task`` for a model's tokenizer; write and return the prompt file."""
    chosen = prompt_settings(settings)
    pairs = load_pairs(task, data_dir)
    kept, filter_report = filter_pairs(pairs, tokenizer, template, task.filter)
    examples = make_examples(kept, **chosen, task_name=task.name, model=model_record.get("alias"))
    document = {
        "provenance": provenance(
            model=dict(model_record), task=task.name, template=template.to_dict(), **chosen
        ),
        "task": task.to_dict(),
        "template": template.to_dict(),
        "settings": chosen,
        "filter": filter_report,
        "splits": split_summary(examples),
        "examples": [example.to_dict() for example in examples],
    }
    write_json(out_path, document)
    return document
