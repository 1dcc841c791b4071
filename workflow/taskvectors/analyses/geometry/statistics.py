"""Geometry of task vectors (paper §4): are vectors of one task close, and far from other tasks?

The paper extracts many vectors per task from varied demonstrations and dummy queries and shows
(i) a t-SNE map where each task forms its own cluster and (ii) histograms of cosine distance in
which pairs from the same task are closer than pairs from different tasks. Both tell whether θ
encodes the task rather than the particular demos.

Two things make those pictures into evidence. Residual streams share a large common direction, so
raw cosine distances are all small; distances here are taken on **centred** vectors (the mean of
all tasks' vectors at the layer subtracted). And a cluster needs a number with a null: leave-one-out
nearest-neighbour task classification and the silhouette, each against the same statistic under
random relabellings (label-permutation null). The same numbers restricted to pairs of tasks that
share their inputs (``SHARED_INPUT_PAIRS``) show whether vectors separate tasks whose prompts look
alike, i.e. whether the clusters are more than the surface form of the queries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from taskvectors.seeding import derived_seed

TSNE_RANDOM_STATE = 41  # the paper's seed for its t-SNE
N_PERMUTATIONS = 200
NULL_QUANTILE = 95

# Pairs of tasks whose queries come from the same input space. Letters: next/prev letter both
# take lowercase letters; to_upper/to_lower share the alphabet but not the case (lower vs upper
# inputs), so that pair is the weakest control, and next_letter/to_upper is added as a pair with
# identical inputs. Lists: list_first/list_last draw the same lists. Translation: English words.
# Linguistic: present-simple verbs.
SHARED_INPUT_PAIRS: tuple[tuple[str, str], ...] = (
    ("algorithmic_next_letter", "algorithmic_prev_letter"),
    ("algorithmic_to_upper", "algorithmic_to_lower"),
    ("algorithmic_next_letter", "algorithmic_to_upper"),
    ("algorithmic_list_first", "algorithmic_list_last"),
    ("translation_en_fr", "translation_en_es"),
    ("linguistic_present_simple_gerund", "linguistic_present_simple_past_simple"),
)


class NullTest(NamedTuple):
    """An observed statistic beside its label-permutation null: the null's mean and 95th
    percentile, and the one-sided p-value ``(1 + #{null >= value}) / (1 + n_permutations)``."""

    value: float
    null_mean: float
    null_p95: float
    p_value: float
    n_permutations: int


# -- distances ---------------------------------------------------------------------------------


def centre_vectors(vectors: np.ndarray) -> np.ndarray:
    """``(n, d_model)`` vectors minus their mean over all ``n`` (all tasks' vectors at one
    layer), as float64."""
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors - vectors.mean(axis=0, keepdims=True)


def cosine_distance_matrix(vectors: np.ndarray) -> np.ndarray:
    """``(n, n)`` cosine distances (1 − cosine similarity, in [0, 2]) of ``(n, d_model)``
    vectors; a zero vector has similarity 0 to everything."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1.0, norms)
    return 1.0 - np.clip(unit @ unit.T, -1.0, 1.0)


def cosine_distances(vectors: np.ndarray, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Cosine distance (1 − cosine similarity) of every unordered pair of distinct vectors.

    The vectors are used as given; pass ``centre_vectors(vectors)`` for centred distances.

    Args:
        vectors: ``(n, d_model)`` array.
        labels: the task of each vector, length ``n``.

    Returns:
        ``(within, across)``: distances of pairs from the same task, and from different tasks.
    """
    labels = _labels(vectors, labels)
    distance = cosine_distance_matrix(vectors)
    upper_i, upper_j = np.triu_indices(len(labels), k=1)
    same = labels[upper_i] == labels[upper_j]
    pairs = distance[upper_i, upper_j]
    return pairs[same], pairs[~same]


def _labels(vectors: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    labels = np.asarray(labels)
    if np.shape(vectors)[0] != labels.shape[0]:
        raise ValueError(f"{np.shape(vectors)[0]} vectors but {labels.shape[0]} labels")
    return labels


# -- cluster statistics ------------------------------------------------------------------------


def nearest_neighbours(distance: np.ndarray) -> np.ndarray:
    """``(n,)`` index of each point's nearest other point in an ``(n, n)`` distance matrix
    (leave-one-out: a point is never its own neighbour; ties go to the lowest index)."""
    masked = np.array(distance, dtype=np.float64)
    np.fill_diagonal(masked, np.inf)
    return masked.argmin(axis=1)


def nearest_neighbour_accuracy(distance: np.ndarray, codes: np.ndarray) -> float:
    """Leave-one-out 1-NN classification accuracy: the fraction of points whose nearest other
    point has the same integer label ``codes[i]``."""
    codes = np.asarray(codes)
    return float(np.mean(codes == codes[nearest_neighbours(distance)]))


def silhouette(distance: np.ndarray, codes: np.ndarray) -> float:
    """Mean silhouette of integer labels ``codes`` under an ``(n, n)`` distance matrix.

    Per point, ``a`` = mean distance to the other points of its label, ``b`` = the smallest mean
    distance to another label's points, ``s = (b − a) / max(a, b)``; a point alone in its label
    scores 0 (sklearn's convention). NaN unless there are 2 to ``n − 1`` labels.
    """
    codes = np.asarray(codes)
    n = len(codes)
    labels, codes = np.unique(codes, return_inverse=True)
    if not 2 <= len(labels) <= n - 1:
        return float("nan")
    onehot = np.eye(len(labels))[codes]  # (n, k)
    counts = onehot.sum(axis=0)  # (k,)
    sums = np.asarray(distance, dtype=np.float64) @ onehot  # (n, k); the diagonal adds 0
    own_count = counts[codes]
    with np.errstate(divide="ignore", invalid="ignore"):
        a = sums[np.arange(n), codes] / (own_count - 1)
        others = sums / counts
        others[np.arange(n), codes] = np.inf
        b = others.min(axis=1)
        s = (b - a) / np.maximum(a, b)
    s = np.where((own_count > 1) & np.isfinite(s), s, 0.0)
    return float(s.mean())


def permutation_null(
    statistic: Callable[[np.ndarray], float],
    codes: np.ndarray,
    *,
    n_permutations: int = N_PERMUTATIONS,
    seed: int,
) -> NullTest:
    """``statistic(codes)`` against ``statistic`` of ``n_permutations`` random shuffles of the
    labels (which keep every task's number of vectors)."""
    codes = np.asarray(codes)
    value = float(statistic(codes))
    rng = np.random.default_rng(seed)
    null = np.array([statistic(rng.permutation(codes)) for _ in range(n_permutations)])
    if null.size == 0 or not np.isfinite(value):
        return NullTest(value, np.nan, np.nan, np.nan, n_permutations)
    p_value = (1 + int(np.sum(null >= value))) / (1 + n_permutations)
    return NullTest(
        value,
        float(null.mean()),
        float(np.percentile(null, NULL_QUANTILE)),
        p_value,
        n_permutations,
    )


def shared_input_pairs(
    tasks: Iterable[str], pairs: Sequence[tuple[str, str]] = SHARED_INPUT_PAIRS
) -> list[tuple[str, str]]:
    """The ``pairs`` whose two tasks are both among ``tasks``, in the order of ``pairs``."""
    present = set(tasks)
    return [(a, b) for a, b in pairs if a in present and b in present]


def geometry_statistics(
    vectors: np.ndarray,
    labels: Sequence[str],
    *,
    n_permutations: int = N_PERMUTATIONS,
    seed: int,
    pairs: Sequence[tuple[str, str]] = SHARED_INPUT_PAIRS,
) -> pd.DataFrame:
    """Do task vectors cluster by task? Over all tasks and over each pair sharing inputs.

    The vectors are centred over all of them (``centre_vectors``), then compared by cosine
    distance. For the scope ``all`` (every task) and for each of ``pairs`` present in ``labels``
    (the pair's vectors only, still centred on all tasks' mean): leave-one-out 1-NN task
    classification accuracy and silhouette, each against a label-permutation null of
    ``n_permutations`` shuffles within the scope (seeded with ``derived_seed(seed, "geometry",
    scope)``), and the mean centred cosine distance within and across tasks.

    Args:
        vectors: ``(n, d_model)`` task vectors of one model at one layer.
        labels: the task of each vector, length ``n``.

    Returns:
        Two rows per scope (``statistic`` = ``nn_accuracy``, ``silhouette``): ``scope`` (``all``
        or ``task_a|task_b``), ``task_a, task_b`` (empty for ``all``), ``n_vectors, n_tasks,
        statistic, value, null_mean, null_p95, p_value, n_permutations, within_mean,
        across_mean``.
    """
    labels = _labels(vectors, labels)
    distance = cosine_distance_matrix(centre_vectors(vectors))
    scopes = [("all", "", "", np.arange(len(labels)))]
    for a, b in shared_input_pairs(labels.tolist(), pairs):
        scopes.append((f"{a}|{b}", a, b, np.flatnonzero((labels == a) | (labels == b))))
    records = []
    for scope, task_a, task_b, index in scopes:
        sub = distance[np.ix_(index, index)]
        _, codes = np.unique(labels[index], return_inverse=True)
        within, across = _within_across(sub, codes)
        for name, statistic in (
            ("nn_accuracy", nearest_neighbour_accuracy),
            ("silhouette", silhouette),
        ):
            test = permutation_null(
                lambda c, f=statistic, d=sub: f(d, c),
                codes,
                n_permutations=n_permutations,
                seed=derived_seed(seed, "geometry", scope),
            )
            records.append(
                {
                    "scope": scope,
                    "task_a": task_a,
                    "task_b": task_b,
                    "n_vectors": len(index),
                    "n_tasks": int(codes.max() + 1) if len(codes) else 0,
                    "statistic": name,
                    **test._asdict(),
                    "within_mean": within,
                    "across_mean": across,
                }
            )
    return pd.DataFrame(records)


def _within_across(distance: np.ndarray, codes: np.ndarray) -> tuple[float, float]:
    """Mean distance over unordered pairs of distinct points with the same / different label."""
    upper_i, upper_j = np.triu_indices(len(codes), k=1)
    same = codes[upper_i] == codes[upper_j]
    pairs = distance[upper_i, upper_j]
    within = float(pairs[same].mean()) if same.any() else float("nan")
    across = float(pairs[~same].mean()) if (~same).any() else float("nan")
    return within, across


def tsne_perplexity(n_samples: int) -> float:
    """A perplexity suited to ``n_samples`` points: sklearn's 30 when there are enough, else
    about a third of the sample (t-SNE needs perplexity < n_samples)."""
    return float(max(1.0, min(30.0, (n_samples - 1) / 3)))


def tsne_embedding(vectors: np.ndarray, random_state: int = TSNE_RANDOM_STATE) -> np.ndarray:
    """A 2-D t-SNE embedding of ``(n, d_model)`` vectors, deterministic for a given seed."""
    from sklearn.manifold import TSNE

    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.shape[0] < 4:
        raise ValueError(f"t-SNE needs at least 4 vectors, got {vectors.shape[0]}")
    tsne = TSNE(
        n_components=2,
        perplexity=tsne_perplexity(vectors.shape[0]),
        init="pca",
        learning_rate="auto",
        random_state=random_state,
    )
    return tsne.fit_transform(vectors)
