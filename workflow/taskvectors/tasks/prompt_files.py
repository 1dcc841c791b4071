"""The prompt file of a (model, task): what the model is shown, decided once and written down.

``build_prompt_document`` turns a task's pairs into the document the ``build_prompts`` stage
writes (``prompts/{model}/{task}.json``): the pairs the model's tokenizer can be scored on, under
the prompt spacing the task asks for (``auto`` decides per model, see
``taskvectors.tasks.splits.choose_spacing``), split into seeded dev/test examples, each with the
first token of every accepted answer in its own prompt (for the strict first-token score). It is
pure: it reads the task data and returns the document, so analyses (conflicting tasks) can reuse the
same filtered pairs through :func:`usable_pairs` without writing anything.

Spacing is chosen per task, most specific first: the config's ``prompts.spacing`` entry for the
task, then for its family, then its ``default``, then the task registry (the entry's own
``spacing``, else its family's). ``prompts.spacing`` may also be a single value for every task.

:func:`validate_task_file` and ``taskvectors.tasks.prompts.check_template`` are the model-free
checks a start-up preflight runs before any job: a task file whose records would break the prompt
(an input holding ``->`` or ``example:``) is refused with its file, line and reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from taskvectors.results.provenance import provenance
from taskvectors.tasks.files import read_pairs_file
from taskvectors.tasks.pairs import Pair
from taskvectors.tasks.prompts import SPACINGS, PromptTemplate, get_template
from taskvectors.tasks.registry import FAMILIES, TaskSpec, load_pairs
from taskvectors.tasks.splits import (
    SpacingChoice,
    answer_first_token_ids,
    choose_spacing,
    make_examples,
    split_summary,
)

SETTING_KEYS = ("n_demos", "n_dev", "n_test", "n_dummy", "seed")
SPACING_KEY = "spacing"
SPACING_DEFAULT_KEY = "default"


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


def resolve_spacing(spec: TaskSpec, spacing_config: str | Mapping[str, Any] | None) -> str:
    """The spacing setting (``auto``, ``none``, ``leading``) that applies to ``spec``.

    ``spacing_config`` is the config's ``prompts.spacing``: ``None``, one setting for every task,
    or ``{task | family | default: setting | None}`` (``None`` entries defer to the next level).
    """
    if spacing_config is None:
        return spec.spacing
    if isinstance(spacing_config, str):
        return _checked_spacing(spacing_config, "prompts.spacing")
    for key in (spec.name, spec.family, SPACING_DEFAULT_KEY):
        value = spacing_config.get(key)
        if value is not None:
            return _checked_spacing(value, f"prompts.spacing.{key}")
    return spec.spacing


def check_spacing_config(
    spacing_config: str | Mapping[str, Any] | None, task_names: Any = ()
) -> None:
    """Refuse a ``prompts.spacing`` value with an unknown key or setting (``ValueError``).

    ``task_names``: the tasks a mapping may name (besides families and ``default``).
    """
    if spacing_config is None:
        return
    if isinstance(spacing_config, str):
        _checked_spacing(spacing_config, "prompts.spacing")
        return
    if not isinstance(spacing_config, Mapping):
        raise ValueError(
            f"prompts.spacing is a setting ({', '.join(SPACINGS)}) or a mapping of task, family "
            f"or default to a setting; got {type(spacing_config).__name__}"
        )
    known = {SPACING_DEFAULT_KEY, *FAMILIES, *task_names}
    unknown = sorted(str(key) for key in spacing_config if key not in known)
    if unknown:
        raise ValueError(
            f"prompts.spacing: unknown keys {unknown}; use task names, families "
            f"({', '.join(FAMILIES)}) or {SPACING_DEFAULT_KEY}"
        )
    for key, value in spacing_config.items():
        if value is not None:
            _checked_spacing(value, f"prompts.spacing.{key}")


def prompt_format(
    spec: TaskSpec, data_dir: Path, tokenizer: Any, template: PromptTemplate, spacing: str
) -> SpacingChoice:
    """The task's pairs filtered for ``tokenizer`` under the spacing ``spacing`` asks for.

    The result holds the chosen template (spaced or not), the kept pairs and both forms' counts.
    """
    pairs = load_pairs(spec, data_dir, forbidden=template.markers())
    return choose_spacing(pairs, tokenizer, template, spec.filter, spacing)


def usable_pairs(
    spec: TaskSpec, data_dir: Path, tokenizer: Any, template: PromptTemplate, spacing: str
) -> list[Pair]:
    """The task's pairs after its own filter and spacing (canonical answer first)."""
    return prompt_format(spec, data_dir, tokenizer, template, spacing).pairs


def build_prompt_document(
    spec: TaskSpec,
    data_dir: Path,
    tokenizer: Any,
    template: PromptTemplate,
    settings: Mapping[str, Any],
    model_record: Mapping[str, Any],
) -> dict[str, Any]:
    """Load, filter, space and split ``spec`` for a model's tokenizer; the prompt file's document.

    ``settings``: ``n_demos, n_dev, n_test, n_dummy, seed`` and optionally ``spacing`` (the
    config's ``prompts.spacing``). The document's ``template`` is the one the examples use (the
    spaced form when spacing chose it); ``spacing`` records the setting, the choice and the pairs
    each form keeps; every example carries ``answer_first_token_ids``.
    """
    chosen = prompt_settings(settings)
    spacing = resolve_spacing(spec, settings.get(SPACING_KEY))
    choice = prompt_format(spec, data_dir, tokenizer, template, spacing)
    examples = make_examples(
        choice.pairs, **chosen, task_name=spec.name, model=model_record.get("alias")
    )
    first_ids = answer_first_token_ids(tokenizer, choice.template, examples)
    used = choice.template.to_dict()
    return {
        "provenance": provenance(
            model=dict(model_record), task=spec.name, template=used, spacing=spacing, **chosen
        ),
        "task": spec.to_dict(),
        "template": used,
        "settings": chosen,
        "spacing": {
            **choice.to_dict(),
            "templates": {"none": template.to_dict(), "leading": template.spaced().to_dict()},
        },
        "filter": choice.filter_report,
        "splits": split_summary(examples),
        "examples": [
            replace(example, answer_first_token_ids=tuple(ids)).to_dict()
            for example, ids in zip(examples, first_ids, strict=True)
        ],
    }


class PromptTooLongError(ValueError):
    """A task's prompts do not fit the model's context; the message is one line."""


def context_problem(
    tokenizer: Any,
    template: PromptTemplate,
    examples: Sequence[Any],
    limit: int | None,
    new_tokens: int,
    where: str,
) -> str:
    """Why the longest ICL prompt of ``examples`` (query or dummy) plus ``new_tokens`` answer
    tokens does not fit a context of ``limit`` tokens (empty: it fits, or no limit is known)."""
    if not limit:
        return ""
    longest, worst = 0, None
    for example in examples:
        for x in (example.query, *example.dummies):
            n_tokens = len(tokenizer(template.icl_prompt(list(example.demos), x))["input_ids"])
            if n_tokens > longest:
                longest, worst = n_tokens, example
    if worst is None or longest + new_tokens <= limit:
        return ""
    return (
        f"{where}: the prompt of {worst.split} example {worst.example_id} has {longest} tokens, "
        f"and with {new_tokens} answer tokens it exceeds the model's context of {limit} tokens "
        "(max_position_embeddings); shorten the task's inputs and answers or lower prompts.n_demos"
    )


def validate_task_file(
    path: str | Path, template: str | Mapping[str, Any] | PromptTemplate
) -> None:
    """Refuse a user's task file that cannot build prompts under ``template``, before any job.

    Raises ``TaskDataError`` (a ``ValueError``) naming the file, the line and the reason: the
    file's own format errors, and any input or answer holding a literal piece of the template.
    Record keys besides input/output give a ``TaskDataWarning``. Needs no tokenizer.
    """
    read_pairs_file(path, forbidden=get_template(template).markers())


def _checked_spacing(value: Any, where: str) -> str:
    if value not in SPACINGS:
        raise ValueError(f"{where}: unknown spacing {value!r}; expected one of {SPACINGS}")
    return value
