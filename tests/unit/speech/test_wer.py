from __future__ import annotations

import pytest

from callcenter.speech.wer import cer, corpus_wer, edit_distance, tokens, wer


def test_normalisation_drops_case_and_punctuation():
    assert tokens("Hello, World! Don't") == ["hello", "world", "dont"]
    assert wer("Hello, world.", "hello world") == 0.0


@pytest.mark.parametrize(
    ("said", "heard", "expected"),
    [
        ("go forward ten meters", "go forward ten years", 0.25),  # one substitution
        ("go forward ten meters", "go forward", 0.5),  # two deletions
        ("go forward", "go go forward now", 1.0),  # two insertions
        ("a b c", "", 1.0),
        ("", "", 0.0),
    ],
)
def test_wer_counts_substitutions_deletions_insertions(said, heard, expected):
    assert wer(said, heard) == pytest.approx(expected)


def test_chinese_is_compared_by_characters():
    assert tokens("我要投诉，谢谢") == ["我", "要", "投", "诉", "谢", "谢"]
    assert wer("我要投诉", "我要头诉") == pytest.approx(0.25)
    assert tokens("call 客服 now") == ["call", "客", "服", "now"]


def test_korean_words_and_characters():
    assert wer("주문을 취소하고 싶습니다", "주문을 취소하고 싶어요") == pytest.approx(1 / 3)
    assert cer("감사합니다", "감사 합니다") == 0.0
    assert cer("감사합니다", "감사함니다") == pytest.approx(0.2)


def test_corpus_wer_weighs_by_words_said():
    pairs = [("a b c d", "a b c d"), ("e f", "x f")]
    assert corpus_wer(pairs) == pytest.approx(1 / 6)
    assert edit_distance(["a"], ["b", "a"]) == 1
