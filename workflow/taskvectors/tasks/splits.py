"""From a task's pairs to the examples a model sees: token filtering, then seeded dev/test splits.

Filtering depends on the tokenizer (the paper keeps only answers that are one token, since it
scores the first generated token), so it happens per model. All texts of a filter are tokenized
in one batch call, which keeps a task's filtering well under a second on a 262k-token vocabulary.

Spacing follows the paper's code: ``auto`` filters the pairs under the template as it is and
under its spaced form (``example: {x}-> {y}``) and uses the spaced form whenever it keeps at
least ``SPACED_SHARE`` (70%) as many pairs; ``none`` and ``leading`` force one form. Both counts
are reported either way (:func:`choose_spacing`).

Each example also records, per accepted answer, the answer's first token *in context*: the first
token of ``tokenize(prompt + answer)`` after ``tokenize(prompt)`` (``NO_TOKEN`` when the answer
merges with the prompt's end), which the strict first-token score compares predictions with.

Sampling is seeded from ``sha256(f"{seed}:{task}")`` and works on pairs sorted by input, never on
sets or ``hash()``, so the same settings give the same examples in every process (the paper's code
did not: it sampled from Python sets, whose order follows ``PYTHONHASHSEED``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from taskvectors.results.files import Example
from taskvectors.seeding import derived_seed
from taskvectors.tasks.pairs import Pair, sorted_pairs
from taskvectors.tasks.prompts import SPACINGS, PromptTemplate
from taskvectors.tasks.registry import FILTER_POLICIES

PROBE_INPUT = "a"
SPLITS = ("dev", "test")
SPACED_SHARE = 0.7  # the paper's code: the spaced pairs are used if they keep >= 70% as many
NO_TOKEN = -1  # an answer that merges with the prompt's last token has no first token of its own


@dataclass(frozen=True)
class SpacingChoice:
    """The outcome of the spacing rule for one task and tokenizer.

    ``setting`` is what was asked (``auto``, ``none``, ``leading``), ``chosen`` the form used
    (``none`` or ``leading``), ``n_kept`` the pairs each form keeps, ``template`` the template of
    the chosen form and ``pairs``/``filter_report`` the filter's result under it.
    """

    setting: str
    chosen: str
    n_kept: dict[str, int]
    template: PromptTemplate
    pairs: list[Pair]
    filter_report: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The record kept in the prompt file."""
        return {
            "setting": self.setting,
            "chosen": self.chosen,
            "n_kept": dict(self.n_kept),
            "spaced_share": SPACED_SHARE,
        }


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids of ``text`` with the tokenizer's default special tokens (e.g. a BOS)."""
    encoded = tokenizer.encode(text)
    return list(getattr(encoded, "ids", encoded))


def encode_batch(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text, as :func:`encode` gives them, in one call where the tokenizer can.

    Works with ``transformers`` tokenizers (called on the list), ``tokenizers.Tokenizer``
    (``encode_batch``) and anything with ``encode`` alone (one call per text).
    """
    texts = list(texts)
    if not texts:
        return []
    if hasattr(tokenizer, "encode_batch"):
        return [list(encoding.ids) for encoding in tokenizer.encode_batch(texts)]
    if callable(tokenizer):
        return [list(ids) for ids in tokenizer(texts)["input_ids"]]
    return [encode(tokenizer, text) for text in texts]


def continuations(
    tokenizer: Any, prompts: Sequence[str], completions: Sequence[str]
) -> list[list[int] | None]:
    """Per (prompt, completion): the tokens ``completion`` adds after ``prompt``, batched.

    ``None`` where ``prompt``'s own tokens are not a prefix of ``prompt + completion``'s (the
    completion merges with the prompt's last token).
    """
    unique_prompts = list(dict.fromkeys(prompts))
    prompt_ids = dict(zip(unique_prompts, encode_batch(tokenizer, unique_prompts), strict=True))
    full_ids = encode_batch(tokenizer, [p + c for p, c in zip(prompts, completions, strict=True)])
    result: list[list[int] | None] = []
    for prompt, full in zip(prompts, full_ids, strict=True):
        head = prompt_ids[prompt]
        result.append(full[len(head) :] if full[: len(head)] == head else None)
    return result


def answer_token_ids(tokenizer: Any, template: PromptTemplate, answer: str) -> list[int] | None:
    """The tokens ``answer`` adds after a query, or ``None`` if it merges with the query's end.

    Computed as ``tokenize(query + answer_prefix + answer)`` minus ``tokenize(query)`` for a fixed
    probe query; ``None`` when the query's tokens are not a prefix of the full tokenization.
    """
    return _probe_answer_tokens(tokenizer, template, {answer})[answer]


def filter_pairs(
    pairs: Sequence[Pair], tokenizer: Any, template: PromptTemplate, policy: str
) -> tuple[list[Pair], dict[str, Any]]:
    """The pairs a model can be scored on under ``policy``, and a report of the counts.

    The report is ``{policy, n_pairs, n_kept}``.

    * ``single_token``: keep pairs with an accepted answer that is exactly one token in context;
      that answer becomes the canonical one (first), so demonstrations show an answer the model can
      give in one token. The other answers stay accepted, in their order.
    * ``first_token``: keep pairs whose canonical answer has a well-defined first token.
    * ``none``: keep every pair (the tokenizer is not used).
    """
    if policy not in FILTER_POLICIES:
        raise ValueError(
            f"unknown filter policy {policy!r}; expected one of {', '.join(FILTER_POLICIES)}"
        )
    if policy == "none":
        kept = list(pairs)
    elif policy == "single_token":
        tokens = _probe_answer_tokens(tokenizer, template, {a for p in pairs for a in p.answers})
        kept = [kept_pair for pair in pairs if (kept_pair := _single_token_pair(pair, tokens))]
    else:
        tokens = _probe_answer_tokens(tokenizer, template, {pair.answers[0] for pair in pairs})
        kept = [pair for pair in pairs if tokens[pair.answers[0]]]
    return kept, {"policy": policy, "n_pairs": len(pairs), "n_kept": len(kept)}


def choose_spacing(
    pairs: Sequence[Pair], tokenizer: Any, template: PromptTemplate, policy: str, setting: str
) -> SpacingChoice:
    """Filter ``pairs`` under ``template`` and its spaced form; pick the form ``setting`` asks.

    ``auto`` (the paper's rule) picks the spaced form when it keeps at least ``SPACED_SHARE`` as
    many pairs as the unspaced one; ``none``/``leading`` force a form. A template that already
    spaces both places (``qa``) has one form, reported as ``none``.
    """
    if setting not in SPACINGS:
        raise ValueError(f"unknown spacing {setting!r}; expected one of {', '.join(SPACINGS)}")
    forms = {"none": template, "leading": template.spaced()}
    filtered = {name: filter_pairs(pairs, tokenizer, form, policy) for name, form in forms.items()}
    n_kept = {name: report["n_kept"] for name, (_, report) in filtered.items()}
    if forms["leading"] == template:
        chosen = "none"
    elif setting == "auto":
        chosen = "leading" if n_kept["leading"] >= SPACED_SHARE * n_kept["none"] else "none"
    else:
        chosen = setting
    kept, report = filtered[chosen]
    return SpacingChoice(setting, chosen, n_kept, forms[chosen], kept, report)


def answer_first_token_ids(
    tokenizer: Any, template: PromptTemplate, examples: Sequence[Example]
) -> list[list[int]]:
    """Per example, per accepted answer: its first token in the example's ICL prompt.

    Computed as the first token of ``tokenize(prompt + answer_prefix + answer)`` after
    ``tokenize(prompt)``; ``NO_TOKEN`` when the answer merges with the prompt's end.
    """
    prompts, completions = [], []
    for example in examples:
        prompt = template.icl_prompt(example.demos, example.query)
        for answer in example.answers:
            prompts.append(prompt)
            completions.append(template.answer_prefix + answer)
    tokens = iter(continuations(tokenizer, prompts, completions))
    return [[_first_token(next(tokens)) for _ in example.answers] for example in examples]


def make_examples(
    pairs: Sequence[Pair],
    *,
    n_demos: int,
    n_dev: int,
    n_test: int,
    n_dummy: int,
    seed: int,
    task_name: str,
    model: str | None = None,
) -> list[Example]:
    """Seeded dev then test examples; ``example_id`` runs 0..n_dev-1 (dev), then on (test).

    Dev and test never share a query. With at least ``n_dev + n_test`` pairs every example has its
    own query. With fewer (the letter tasks have 25 inputs; the paper still runs 50 + 50 prompts),
    the pairs are split into a dev and a test pool in proportion to ``n_dev : n_test`` and each
    split cycles through its pool, so a query recurs with different demonstrations
    (:func:`split_summary` reports how many distinct queries each split has). Each example draws
    its own demonstrations and dummy queries, all distinct and different from its query.
    ``model`` only names the model in error messages. The examples' ``answer_first_token_ids``
    stay empty: they need the tokenizer and the template (:func:`answer_first_token_ids`).
    """
    sizes = {"n_demos": n_demos, "n_dev": n_dev, "n_test": n_test, "n_dummy": n_dummy}
    for key, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(
                f"task {task_name}: {key} must be a non-negative integer, got {value!r}"
            )
    pairs = sorted_pairs(pairs)
    inputs = [pair.input for pair in pairs]
    if len(set(inputs)) != len(inputs):
        raise ValueError(f"task {task_name}: pairs must have distinct inputs")
    _check_enough_pairs(len(pairs), task_name, model, **sizes)
    rng = np.random.default_rng(derived_seed(seed, task_name))
    dev_queries, test_queries = _draw_queries(len(pairs), n_dev, n_test, rng)
    examples = []
    for example_id, query in enumerate(dev_queries + test_queries):
        others = np.delete(np.arange(len(pairs)), query)
        drawn = rng.choice(others, size=n_demos + n_dummy, replace=False).tolist()
        examples.append(
            Example(
                example_id=example_id,
                split="dev" if example_id < n_dev else "test",
                query=pairs[query].input,
                answers=pairs[query].answers,
                demos=tuple((pairs[i].input, pairs[i].output) for i in drawn[:n_demos]),
                dummies=tuple(pairs[i].input for i in drawn[n_demos:]),
            )
        )
    return examples


def split_summary(examples: Sequence[Example]) -> dict[str, dict[str, int]]:
    """Per split: how many examples, and how many distinct queries they use."""
    return {
        split: {
            "n_examples": sum(1 for example in examples if example.split == split),
            "n_queries": len({example.query for example in examples if example.split == split}),
        }
        for split in SPLITS
    }


def _draw_queries(
    n_pairs: int, n_dev: int, n_test: int, rng: np.random.Generator
) -> tuple[list[int], list[int]]:
    """Indices of the dev and test queries: distinct if possible, else cycled through two pools."""
    order = rng.permutation(n_pairs).tolist()
    if n_pairs >= n_dev + n_test:
        return order[:n_dev], order[n_dev : n_dev + n_test]
    n_dev_pool = round(n_pairs * n_dev / (n_dev + n_test))
    if n_dev and n_test:
        n_dev_pool = min(max(n_dev_pool, 1), n_pairs - 1)
    return (
        _cycle(order[:n_dev_pool], n_dev, rng),
        _cycle(order[n_dev_pool:], n_test, rng),
    )


def _cycle(pool: list[int], count: int, rng: np.random.Generator) -> list[int]:
    """``count`` items from ``pool``: rounds of shuffled passes, so uses differ by at most one."""
    drawn: list[int] = []
    while len(drawn) < count:
        drawn += [pool[i] for i in rng.permutation(len(pool)).tolist()]
    return drawn[:count]


def _probe_answer_tokens(
    tokenizer: Any, template: PromptTemplate, answers: set[str]
) -> dict[str, list[int] | None]:
    """Each answer's tokens after the probe query (see :func:`answer_token_ids`), batched."""
    ordered = sorted(answers)
    query = template.query(PROBE_INPUT)
    completions = [template.answer_prefix + answer for answer in ordered]
    tokens = continuations(tokenizer, [query] * len(ordered), completions)
    return dict(zip(ordered, tokens, strict=True))


def _first_token(tokens: list[int] | None) -> int:
    return tokens[0] if tokens else NO_TOKEN


def _single_token_pair(pair: Pair, tokens: dict[str, list[int] | None]) -> Pair | None:
    single = [answer for answer in pair.answers if (ids := tokens[answer]) and len(ids) == 1]
    if not single:
        return None
    answers = (single[0], *(answer for answer in pair.answers if answer != single[0]))
    return Pair(pair.input, answers)


def _check_enough_pairs(
    n_pairs: int,
    task_name: str,
    model: str | None,
    *,
    n_demos: int,
    n_dev: int,
    n_test: int,
    n_dummy: int,
) -> None:
    survive = f"task {task_name}: {n_pairs} pairs survive filtering" + (
        f" for model {model}" if model else ""
    )
    if n_dev + n_test == 0:
        return
    n_pools = (n_dev > 0) + (n_test > 0)
    if n_pairs < n_pools:
        raise ValueError(
            f"{survive}, but dev and test (n_dev = {n_dev}, n_test = {n_test}) need at least one "
            "query each, and never the same one"
        )
    per_example = 1 + n_demos + n_dummy
    if n_pairs < per_example:
        raise ValueError(
            f"{survive}, but each example needs 1 query + n_demos ({n_demos}) + n_dummy "
            f"({n_dummy}) = {per_example} distinct pairs; lower n_demos/n_dummy or use a "
            "model/filter that keeps more pairs"
        )
