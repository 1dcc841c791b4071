"""Orders of a prompt's demonstrations, shared by every analysis that permutes them.

ICL is known to depend on the order of its demonstrations; the order analysis (ICL and task
vectors) and the gradient-descent stage (one demonstration per step) must present the *same*
orders, or their spreads are not comparable. One seeded function gives them: the identity first
(order 0, the prompt file's own order), then distinct non-identity permutations drawn from a
generator seeded with ``sha256(seed : "order" : task)`` (never Python's ``hash()``), so every
process and every stage gets the same orders.
"""

from __future__ import annotations

import math

import numpy as np

from taskvectors.seeding import derived_seed


def demo_permutations(
    seed: int, task: str, n_demos: int, n_permutations: int
) -> list[tuple[int, ...]]:
    """``n_permutations`` distinct orders of ``n_demos`` demonstrations, the identity first.

    Order ``k`` lists demonstration indices: demos ``[demos[j] for j in order]``. Orders 1.. are
    distinct and never the identity. Raises ``ValueError`` when ``n_permutations`` exceeds the
    ``n_demos!`` orders that exist.
    """
    if n_demos < 1 or n_permutations < 1:
        raise ValueError(
            f"need n_demos >= 1 and n_permutations >= 1, got {n_demos}, {n_permutations}"
        )
    if n_permutations > math.factorial(n_demos):
        raise ValueError(
            f"task {task}: {n_permutations} orders requested, but {n_demos} demonstrations "
            f"have only {math.factorial(n_demos)}"
        )
    identity = tuple(range(n_demos))
    rng = np.random.default_rng(derived_seed(seed, "order", task))
    orders = [identity]
    seen = {identity}
    while len(orders) < n_permutations:
        order = tuple(int(j) for j in rng.permutation(n_demos))
        if order not in seen:
            seen.add(order)
            orders.append(order)
    return orders
