"""From a task's pairs to the examples a model sees: token filtering, then seeded dev/test splits.

Filtering depends on the tokenizer (the paper keeps only answers that are one token, since it
scores the first generated token), so it happens per model. Sampling is seeded from
``sha256(f"{seed}:{task}")`` and works on pairs sorted by input, never on sets or ``hash()``, so
the same settings give the same examples in every process (the paper's code did not: it sampled
from Python sets, whose order follows ``PYTHONHASHSEED``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from taskvectors.prompts import PromptTemplate
from taskvectors.tasks.algorithmic import derived_seed
from taskvectors.tasks.pairs import Pair, sorted_pairs
from taskvectors.tasks.registry import FILTER_POLICIES

PROBE_INPUT = "a"
SPLITS = ("dev", "test")


@dataclass(frozen=True)
class Example:
    """One prompt's worth of data: a query, its answers, its demonstrations and dummy queries."""

    example_id: int
    split: str
    query: str
    answers: tuple[str, ...]
    demos: tuple[tuple[str, str], ...]
    dummies: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: lists instead of tuples."""
        return {
            "example_id": self.example_id,
            "split": self.split,
            "query": self.query,
            "answers": list(self.answers),
            "demos": [[x, y] for x, y in self.demos],
            "dummies": list(self.dummies),
        }


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids of ``text`` with the tokenizer's default special tokens (e.g. a BOS)."""
    encoded = tokenizer.encode(text)
    return list(getattr(encoded, "ids", encoded))


def answer_token_ids(tokenizer: Any, template: PromptTemplate, answer: str) -> list[int] | None:
    """The tokens ``answer`` adds after a query, or ``None`` if it merges with the query's end.

    Computed as ``tokenize(query + answer_prefix + answer)`` minus ``tokenize(query)`` for a fixed
    probe query; ``None`` when the query's tokens are not a prefix of the full tokenization.
    """
    query = template.query(PROBE_INPUT)
    return _continuation_ids(
        tokenizer, encode(tokenizer, query), query + template.answer_prefix, answer
    )


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
    else:
        query = template.query(PROBE_INPUT)
        query_ids = encode(tokenizer, query)
        prefix = query + template.answer_prefix

        def ids(answer: str) -> list[int] | None:
            return _continuation_ids(tokenizer, query_ids, prefix, answer)

        if policy == "single_token":
            kept = [kept_pair for pair in pairs if (kept_pair := _single_token_pair(pair, ids))]
        else:
            kept = [pair for pair in pairs if ids(pair.answers[0])]
    return kept, {"policy": policy, "n_pairs": len(pairs), "n_kept": len(kept)}


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
    ``model`` only names the model in error messages.
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


def _continuation_ids(
    tokenizer: Any, query_ids: list[int], prefix: str, answer: str
) -> list[int] | None:
    full = encode(tokenizer, prefix + answer)
    if full[: len(query_ids)] != query_ids:
        return None
    return full[len(query_ids) :]


def _single_token_pair(pair: Pair, ids) -> Pair | None:
    single = [answer for answer in pair.answers if (tokens := ids(answer)) and len(tokens) == 1]
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
