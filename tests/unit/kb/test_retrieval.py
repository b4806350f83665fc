"""Retrieval on its own: BM25 over jieba and English words, the fused score, the
language filter. Vectors come from a tiny hand-made table (pure logic: the real model is
tested in test_retrieval_floor.py)."""

from __future__ import annotations

import numpy as np
import pytest

from callcenter.kb.retrieval import Calibration, Document, Index, Weights
from callcenter.kb.text import detect_language, tokens

DOCS = [
    Document(1, "zh", ("如何重置登录密码", "忘记密码怎么办"), "在登录页点击忘记密码。"),
    Document(2, "zh", ("退款多久到账", "退款什么时候到"), "原路返回，1-3 个工作日。"),
    Document(3, "zh", ("宽带断网了怎么办", "家里宽带上不了网"), "请重启光猫和路由器。"),
    Document(4, "en", ("How do I reset my password?", "I forgot my password"),
             "Use Forgot password."),
    Document(5, "en", ("How long does a refund take?", "When will I get my refund?"),
             "Refunds take 1-3 business days."),
    Document(6, "en", ("My internet is down", "Home internet not working"), "Restart the modem."),
]  # fmt: skip


def test_chinese_is_cut_by_jieba_and_english_lowercased_and_stemmed():
    assert "宽带" in tokens("我家宽带怎么断了")
    assert "的" not in tokens("我的宽带")
    assert tokens("My REFUNDS haven't arrived") == ["refund", "haven't", "arriv"]
    assert tokens("WiFi连不上") == ["wifi", "连不上"]
    assert detect_language("我要退款 refund") == "zh"
    assert detect_language("refund please") == "en"


@pytest.mark.parametrize(
    ("question", "language", "expected"),
    [
        ("密码忘了登录不上", "zh", 1),
        ("退款几天能到账", "zh", 2),
        ("宽带又断网了", "zh", 3),
        ("forgot my password, need to reset it", "en", 4),
        ("how many days for my refund", "en", 5),
        ("internet not working since morning", "en", 6),
    ],
)
def test_lexical_search_finds_rephrasings_in_both_languages(question, language, expected):
    index = Index(DOCS, tokens)
    hits = index.search(question, language=language, limit=3)
    assert hits[0].entry_id == expected
    assert 0 < hits[0].score <= 1
    assert all(h.entry_id in {d.entry_id for d in DOCS if d.language == language} for h in hits)


def test_an_unrelated_question_scores_low_and_an_exact_one_high():
    index = Index(DOCS, tokens)
    assert index.search("如何重置登录密码", language="zh")[0].score > 0.9
    unrelated = index.search("今天天气怎么样", language="zh")
    assert not unrelated or unrelated[0].score < 0.2


def _vectors() -> dict[int, np.ndarray]:
    """Entry i's texts point along axis i: a 'model' that knows what each entry means."""
    out = {}
    for d in DOCS:
        v = np.zeros((len(d.questions), 8), dtype=np.float32)
        v[:, d.entry_id] = 1.0
        out[d.entry_id] = v
    return out


def test_semantic_scores_rank_by_meaning_when_no_word_is_shared():
    index = Index(DOCS, tokens, _vectors(), Calibration(0.0, 1.0), Weights(semantic=0.6))
    query = np.zeros(8, dtype=np.float32)
    query[2] = 1.0  # "the money you owe me" means entry 2, though no word matches
    hits = index.search("钱还没回来", query, language="zh", limit=2)
    assert hits[0].entry_id == 2
    assert hits[0].semantic == 1.0
    assert hits[0].score == pytest.approx(0.6 + 0.4 * hits[0].lexical)
    assert hits[0].matched == "退款多久到账"
    semantic_only = index.search("钱还没回来", query, language="zh", mode="semantic")
    assert semantic_only[0].score == 1.0
    lexical_only = index.search("钱还没回来", query, language="zh", mode="lexical")
    assert not lexical_only or lexical_only[0].semantic == 0.0


def test_hybrid_without_a_question_vector_is_lexical_and_unknown_language_finds_nothing():
    index = Index(DOCS, tokens, _vectors(), Calibration(0.0, 1.0))
    assert index.search("refund days", language="en")[0].entry_id == 5
    assert index.search("refund days", language="fr") == []
    assert Index([], tokens).search("anything") == []


def test_calibration_stretches_the_model_band_to_zero_one():
    cal = Calibration(0.8, 0.95)
    scaled = cal.scale(np.array([0.7, 0.8, 0.875, 0.95, 0.99], dtype=np.float32))
    assert scaled.tolist() == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.0], abs=1e-6)
