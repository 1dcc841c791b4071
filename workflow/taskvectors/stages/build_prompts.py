"""Stage ``build_prompts``: a task's filtered pairs, split into the examples every later stage uses.

Fixing the examples in a file (``prompts/{model}/{task}.json``) means extraction, patching and
evaluation all see the same queries, demonstrations and dummy queries, and a reader can check
exactly what the model was shown. The file is byte-identical for the same inputs in any process.
The document itself is built by ``taskvectors.prompt_files``; this stage only writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from taskvectors.prompt_files import SETTING_KEYS, build_prompt_document, prompt_settings
from taskvectors.prompts import PromptTemplate
from taskvectors.storage import write_json
from taskvectors.tasks.registry import TaskSpec

__all__ = ["SETTING_KEYS", "build_prompts", "prompt_settings"]


def build_prompts(
    task: TaskSpec,
    data_dir: Path,
    tokenizer: Any,
    template: PromptTemplate,
    settings: Mapping[str, Any],
    model_record: Mapping[str, Any],
    out_path: Path,
) -> dict[str, Any]:
    """Build ``task``'s prompt document for a model's tokenizer; write and return it."""
    document = build_prompt_document(task, data_dir, tokenizer, template, settings, model_record)
    write_json(out_path, document)
    return document
