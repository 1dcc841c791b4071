"""Start-up check that every task's prompts can fit each model's context, where the model's
tokenizer is already on this machine.

The model job refuses a too-long prompt exactly (``prompt_files.context_problem``), but only when
it runs; here the same question is asked before any job, from the worst case the sampling could
draw: the task's ``n_demos`` longest pairs as demonstrations and its longest input as the query
(``n_demos`` is the larger of ``prompts.n_demos`` and an enabled conflicts analysis's). The
context comes from the model folder's ``config.json``. A token covers at least one byte of text
(byte-level BPE, SentencePiece with byte fallback, WordPiece), so a prompt of ``b`` UTF-8 bytes
has at most ``b + TOKEN_SLACK`` tokens (BOS, a prefix-space token): the tokenizer is loaded only
for a task whose byte bound does not fit (loading Gemma's 262k-token ``tokenizer.json`` costs
seconds; the bound costs nothing), with the ``tokenizers`` library (no torch, no transformers;
once per process). A model not on this machine yet (a hub model before its download), or without
a ``tokenizer.json``, is left to the job's check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from taskvectors.engine.resources import local_folder
from taskvectors.tasks.pairs import Pair
from taskvectors.tasks.prompts import PromptTemplate, get_template

#: Tokens a prompt may have beyond its UTF-8 bytes (BOS, a prefix-space token, margin).
TOKEN_SLACK = 8
#: ``config.json`` keys that hold a model's context length, in the order they are tried.
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "n_ctx", "seq_length")


def context_length(folder: Path) -> int | None:
    """The context a model folder's ``config.json`` declares (None when it declares none)."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for part in (config, config.get("text_config") or {}):
        for key in CONTEXT_KEYS:
            if isinstance(part.get(key), int):
                return part[key]
    return None


@cache
def _tokenizer(path: Path, mtime_ns: int):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path))


def folder_tokenizer(folder: Path):
    """The fast tokenizer of a model folder, or None without ``tokenizer.json``."""
    path = folder / "tokenizer.json"
    if not path.is_file():
        return None
    try:
        return _tokenizer(path, path.stat().st_mtime_ns)
    except Exception:  # noqa: BLE001 - an unreadable tokenizer is the job's to report
        return None


def worst_case_prompt(template: PromptTemplate, pairs: Sequence[Pair], n_demos: int, lengths):
    """The longest prompt sampling could draw: the ``n_demos`` pairs longest in tokens as
    demonstrations (``lengths[i]``: tokens of pair ``i`` as one demonstration) and the longest
    input as the query."""
    order = sorted(range(len(pairs)), key=lambda i: lengths[i], reverse=True)
    demos = [(pairs[i].input, pairs[i].output) for i in order[:n_demos]]
    query = max((pair.input for pair in pairs), key=len)
    return template.icl_prompt(demos, query)


def byte_bound(template: PromptTemplate, pairs: Sequence[Pair], n_demos: int) -> int:
    """An upper bound of the worst-case prompt's tokens from its UTF-8 bytes (no tokenizer)."""
    if not pairs:
        return 0
    lengths = [len(template.icl_prompt([(p.input, p.output)], "").encode()) for p in pairs]
    prompt = worst_case_prompt(template, pairs, n_demos, lengths)
    return len(prompt.encode()) + TOKEN_SLACK


def task_prompt_tokens(tokenizer, template: PromptTemplate, pairs: Sequence[Pair], n_demos: int):
    """Tokens of the worst-case prompt of one task (0 without pairs)."""
    if not pairs:
        return 0
    shown = [template.icl_prompt([(p.input, p.output)], "") for p in pairs]
    lengths = [len(e.ids) for e in tokenizer.encode_batch(shown)]
    prompt = worst_case_prompt(template, pairs, n_demos, lengths)
    return len(tokenizer.encode(prompt).ids) + 1  # the BOS token a model job adds


def context_problems(
    config: Mapping[str, Any], pairs_by_task: Mapping[str, Sequence[Pair]]
) -> list[str]:
    """One line per (model, task) whose worst-case prompt plus its answer tokens cannot fit."""
    template = get_template(config["prompts"]["template"])
    n_demos = config["prompts"]["n_demos"]
    conflicts = config["analyses"].get("conflicts", {})
    if conflicts.get("enabled"):
        n_demos = max(n_demos, conflicts.get("n_demos", 0))
    new_tokens = config["evaluation"]["max_answer_tokens"]
    cache_dir = Path(config["model_cache_dir"]).expanduser() if config["model_cache_dir"] else None
    problems = []
    for alias, entry in config["models"].items():
        folder = local_folder({"alias": alias, **entry}, cache_dir)
        limit = context_length(folder) if folder else None
        if not limit:
            continue
        for task, pairs in pairs_by_task.items():
            if byte_bound(template, pairs, n_demos) + new_tokens <= limit:
                continue  # fits whatever the tokenizer
            tokenizer = folder_tokenizer(folder)
            if tokenizer is None:
                break
            tokens = task_prompt_tokens(tokenizer, template, pairs, n_demos)
            if tokens + new_tokens > limit:
                problems.append(
                    f"task {task}: its prompts can reach {tokens} tokens (its {n_demos} longest "
                    f"pairs as demonstrations, its longest input as the query) + "
                    f"evaluation.max_answer_tokens ({new_tokens}), but model {alias} reads "
                    f"{limit} (max_position_embeddings); shorten the task's longest inputs and "
                    "answers or lower prompts.n_demos"
                )
    return problems
