"""Grouping unanswered questions: similar ones together, different ones apart, with
the real embedding model and with the lexical fallback; existing clusters grow but
never merge."""

from __future__ import annotations

import numpy as np
import pytest

from callcenter.bot import clustering
from callcenter.kb.embedding import E5Embedder
from callcenter.kb.text import tokens

QUESTIONS = [
    ("cod", "你们支持货到付款吗"),
    ("cod", "可以货到付款吗"),
    ("cod", "能不能收货以后再付钱"),
    ("invoice", "发票抬头开错了能改吗"),
    ("invoice", "发票抬头写错了怎么办"),
    ("weekend", "你们周末上班吗"),
    ("weekend", "周六周日有人上班吗"),
    ("canada", "do you ship to Canada"),
    ("canada", "can you deliver to canada"),
    ("canada", "is shipping available to Canada"),
    ("bitcoin", "can I pay with bitcoin"),
    ("sunday", "what are your opening hours on sunday"),
]


def _labels(groups: list[list[int]]) -> list[set[str]]:
    return [{QUESTIONS[i][0] for i in g} for g in groups]


@pytest.fixture(scope="module")
def semantic() -> clustering.Matrix:
    embedder = E5Embedder()
    vectors = embedder.embed([q for _, q in QUESTIONS])
    return clustering.semantic_similarity(vectors, embedder.calibration)


def test_the_model_groups_paraphrases_and_keeps_topics_apart(semantic):
    groups = clustering.agglomerate(semantic, clustering.SEMANTIC_THRESHOLD)
    labels = _labels(groups)
    assert all(len(label) == 1 for label in labels), labels  # no cluster mixes topics
    sizes = {next(iter(label)): len(g) for label, g in zip(labels, groups, strict=True)}
    assert sizes == {"cod": 3, "invoice": 2, "weekend": 2, "canada": 3, "bitcoin": 1,
                     "sunday": 1}  # fmt: skip


def test_the_representative_is_a_member_close_to_the_others(semantic):
    canada = [7, 8, 9]
    assert clustering.representative(semantic, canada) in canada


def test_lexical_fallback_groups_shared_words_only():
    similarity = clustering.lexical_similarity([tokens(q) for _, q in QUESTIONS])
    groups = clustering.agglomerate(similarity, clustering.LEXICAL_THRESHOLD)
    labels = _labels(groups)
    assert all(len(label) == 1 for label in labels), labels
    assert [0, 1] in groups and [3, 4] in groups


def test_fixed_clusters_grow_but_never_merge():
    s = np.array([[1, 0.9, 0.8], [0.9, 1, 0.8], [0.8, 0.8, 1]], dtype=np.float64)
    assert clustering.agglomerate(s, 0.5, fixed=[[0], [1]]) == [[0, 2], [1]]
    assert clustering.agglomerate(s, 0.5) == [[0, 1, 2]]
    assert clustering.agglomerate(s, 0.95) == [[0], [1], [2]]
    assert clustering.agglomerate(np.zeros((0, 0)), 0.5) == []
