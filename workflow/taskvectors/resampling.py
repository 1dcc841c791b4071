"""Fresh examples drawn from a task's pairs, for the analyses that need more or other prompts than
the prompt file holds (geometry's varied demonstrations, the conflicting-task prompts).

Every draw is seeded with SHA-256 of the seed and the draw's name, so it is the same in any process.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from taskvectors.results import Example, PromptDocument
from taskvectors.seeding import derived_seed

Pair = tuple[str, str]


def demo_pool(document: PromptDocument) -> list[Pair]:
    """Every ``(x, y)`` the prompt file uses as a demonstration, deduplicated and sorted."""
    return sorted({demo for example in document.examples for demo in example.demos})


def sample_examples(
    pool: Sequence[Pair], n: int, n_demos: int, n_dummy: int, seed: int, *key: object
) -> list[Example]:
    """``n`` examples, each with ``n_demos`` demonstrations, a query and ``n_dummy`` dummy
    queries drawn without replacement from ``pool`` (split ``geometry``)."""
    size = n_demos + 1 + n_dummy
    if len(pool) < size:
        raise ValueError(f"{len(pool)} pairs cannot make prompts of {size} distinct pairs")
    rng = np.random.default_rng(derived_seed(seed, *key))
    examples = []
    for i in range(n):
        picked = [pool[j] for j in rng.choice(len(pool), size=size, replace=False)]
        examples.append(
            Example(
                example_id=i,
                split="geometry",
                query=picked[n_demos][0],
                answers=(picked[n_demos][1],),
                demos=tuple(picked[:n_demos]),
                dummies=tuple(x for x, _ in picked[n_demos + 1 :]),
            )
        )
    return examples
