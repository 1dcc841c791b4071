"""Geometry of task vectors (paper §4): are vectors of one task close, and far from other tasks?

The paper extracts many vectors per task from varied demonstrations and dummy queries and shows
(i) a t-SNE map where each task forms its own cluster and (ii) histograms of cosine distance in
which pairs from the same task are closer than pairs from different tasks. Both tell whether θ
encodes the task rather than the particular demos.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TSNE_RANDOM_STATE = 41  # the paper's seed for its t-SNE


def cosine_distances(vectors: np.ndarray, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Cosine distance (1 − cosine similarity) of every unordered pair of distinct vectors.

    Args:
        vectors: ``(n, d_model)`` array.
        labels: the task of each vector, length ``n``.

    Returns:
        ``(within, across)``: distances of pairs from the same task, and from different tasks.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    labels = np.asarray(labels)
    if vectors.shape[0] != labels.shape[0]:
        raise ValueError(f"{vectors.shape[0]} vectors but {labels.shape[0]} labels")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1.0, norms)
    distance = 1.0 - np.clip(unit @ unit.T, -1.0, 1.0)
    upper_i, upper_j = np.triu_indices(len(labels), k=1)
    same = labels[upper_i] == labels[upper_j]
    pairs = distance[upper_i, upper_j]
    return pairs[same], pairs[~same]


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
