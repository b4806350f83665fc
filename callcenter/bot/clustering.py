"""Grouping similar questions: average-linkage agglomerative clustering over a
similarity matrix, with clusters that already exist allowed to grow but never to merge
with each other (an admin may be looking at them). Pure and small: the matrices are
the unanswered questions of one language since the last run, plus open clusters.

Similarity is the embedding cosine stretched by the model's calibration (the same
[0, 1] scale retrieval uses), or, with the semantic model off, the Jaccard overlap of
the questions' words (jieba for Chinese): weaker, but it still groups "退款多久到账"
with "退款几天到账".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from callcenter.kb.retrieval import Calibration, Vector

Matrix = npt.NDArray[np.float64]

# Calibrated cosine: e5 paraphrases sit around 0.9 and more, unrelated questions of one
# shop under 0.5 (checked by tests/unit/bot/test_clustering.py with the real model).
SEMANTIC_THRESHOLD = 0.5
LEXICAL_THRESHOLD = 0.3


def semantic_similarity(vectors: Vector, calibration: Calibration) -> Matrix:
    cosine = (vectors @ vectors.T).astype(np.float32)
    return calibration.scale(cosine)


def lexical_similarity(words: Sequence[Sequence[str]]) -> Matrix:
    sets = [frozenset(w) for w in words]
    n = len(sets)
    out = np.eye(n, dtype=np.float64)
    for i in range(n):
        for j in range(i + 1, n):
            union = len(sets[i] | sets[j])
            out[i, j] = out[j, i] = len(sets[i] & sets[j]) / union if union else 0.0
    return out


def agglomerate(
    similarity: Matrix, threshold: float, fixed: Sequence[Sequence[int]] = ()
) -> list[list[int]]:
    """Clusters of row indexes. `fixed` are existing clusters (disjoint index lists):
    they absorb new rows and never merge with each other. Clusters merge while the
    best average similarity between two of them is at least `threshold`. The fixed
    clusters come first in the result, in their order, then the new ones.

    Average links are kept in a matrix and updated on each merge (Lance-Williams), so a
    run is a few hundred numpy argmaxes, not a rescan of every pair of members."""
    n = similarity.shape[0]
    placed = {i for group in fixed for i in group}
    clusters: list[list[int]] = [list(g) for g in fixed]
    clusters += [[i] for i in range(n) if i not in placed]
    k = len(clusters)
    if k == 0:
        return []
    sizes = np.array([len(c) for c in clusters], dtype=np.float64)
    link = np.empty((k, k), dtype=np.float64)
    for a in range(k):
        link[a] = [similarity[np.ix_(clusters[a], c)].mean() for c in clusters]
    np.fill_diagonal(link, -np.inf)
    fixed_count = len(fixed)
    link[:fixed_count, :fixed_count] = -np.inf
    alive = np.ones(k, dtype=bool)
    is_fixed = np.arange(k) < fixed_count
    while True:
        flat = int(np.argmax(link))
        a, b = divmod(flat, k)
        if link[a, b] < threshold:
            break
        a, b = min(a, b), max(a, b)  # the lower index keeps its place (fixed ones first)
        merged = (sizes[a] * link[a] + sizes[b] * link[b]) / (sizes[a] + sizes[b])
        clusters[a] += clusters[b]
        sizes[a] += sizes[b]
        is_fixed[a] = is_fixed[a] or is_fixed[b]
        alive[b] = False
        link[a], link[:, a] = merged, merged
        link[b], link[:, b] = -np.inf, -np.inf
        link[a, a] = -np.inf
        link[a, ~alive] = link[~alive, a] = -np.inf
        if is_fixed[a]:
            link[a, is_fixed] = link[is_fixed, a] = -np.inf
    return [clusters[i] for i in range(k) if alive[i]]


def representative(similarity: Matrix, members: Sequence[int]) -> int:
    """The member most similar on average to the others (the medoid)."""
    block = similarity[np.ix_(list(members), list(members))]
    return list(members)[int(np.argmax(block.mean(axis=1)))]
