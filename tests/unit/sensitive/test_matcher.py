"""The matcher: word boundaries in English and (with jieba) Chinese, offsets into the
original text, and transcripts as recognizers write them (lowercase, no punctuation,
spaces between Chinese characters)."""

from __future__ import annotations

import pytest

from callcenter.sensitive.matcher import Match, Matcher, Phrase, normal_phrase

EN = [
    Phrase(1, "ass", "en"),
    Phrase(2, "son of a bitch", "en"),
    Phrase(3, "refund", "en"),
    Phrase(4, "lawsuit", "en"),
    Phrase(5, "sue", "en"),
    Phrase(6, "copy", "en"),
]
ZH = [
    Phrase(11, "退款", "zh"),
    Phrase(12, "操", "zh"),
    Phrase(13, "骗子公司", "zh"),
    Phrase(14, "投诉", "zh"),
    Phrase(15, "死", "zh"),
    Phrase(16, "傻逼", "zh"),
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher([*EN, *ZH])


def found(matcher: Matcher, text: str, language: str) -> list[tuple[str, str]]:
    """(phrase, the text it was found at), so a wrong offset shows in the assertion."""
    return [(m.phrase, text[m.start : m.end]) for m in matcher.find(text, language)]


def test_english_offsets_point_into_the_original_text(matcher):
    text = "Well, I want a REFUND. Now!"
    assert matcher.find(text, "en") == [Match(3, "refund", 15, 21)]


@pytest.mark.parametrize(
    "text",
    ["this class is great", "pass the assessment", "embassy", "suede shoes", "issue", "pursue"],
)
def test_english_never_matches_inside_a_longer_word(matcher, text):
    assert matcher.find(text, "en") == []


def test_english_ignores_case_and_takes_plural_and_possessive(matcher):
    text = "Two COPIES of the refund's form, three refunds and the lawsuits"
    assert found(matcher, text, "en") == [
        ("copy", "COPIES"),
        ("refund", "refund's"),
        ("refund", "refunds"),
        ("lawsuit", "lawsuits"),
    ]


def test_a_multi_word_phrase_matches_across_any_whitespace_or_punctuation(matcher):
    text = "you Son-of-a...\nBITCH, I will sue"
    assert found(matcher, text, "en") == [
        ("son of a bitch", "Son-of-a...\nBITCH"),
        ("sue", "sue"),
    ]
    assert matcher.find("a son of a nice family", "en") == []


def test_a_speech_transcript_lowercase_without_punctuation(matcher):
    text = "i want my refund or i will sue you you son of a bitch"
    assert [p for p, _ in found(matcher, text, "en")] == ["refund", "sue", "son of a bitch"]


def test_chinese_phrases_match_as_words_with_offsets(matcher):
    text = "你好，我要退款！你们是骗子公司吗？"
    assert found(matcher, text, "zh") == [("退款", "退款"), ("骗子公司", "骗子公司")]
    assert matcher.find(text, "zh")[0] == Match(11, "退款", 5, 7)


def test_chinese_phrase_followed_by_another_word_matches(matcher):
    # A contact center wants 退款 in 退款单号 (a refund slip's number) and 不退款: the
    # customer is talking about refunds. jieba segments them 退款/单号, 不/退款.
    assert found(matcher, "退款单号是多少", "zh") == [("退款", "退款")]
    assert found(matcher, "为什么不退款", "zh") == [("退款", "退款")]


@pytest.mark.parametrize(
    "text",
    [
        "系统操作很简单",  # 操 (vulgar) inside 操作 (operate)
        "电脑死机了",  # 死 (die) inside 死机 (crash)
        "我要投篮",  # 投 of 投诉 is not enough
    ],
)
def test_chinese_never_matches_inside_a_longer_word(matcher, text):
    assert matcher.find(text, "zh") == []


def test_a_chinese_transcript_with_spaces_between_characters(matcher):
    text = "我 要 退 款 你 们 是 骗 子 公 司"
    assert found(matcher, text, "zh") == [("退款", "退 款"), ("骗子公司", "骗 子 公 司")]


def test_a_phrase_jieba_would_split_is_added_to_its_dictionary():
    # Without help jieba cuts 傻逼 into 傻/逼 and 骗子公司 into 骗子/公司; listed, they
    # segment as words, and a listed single character matches where it stands alone.
    matcher = Matcher([Phrase(1, "傻逼", "zh"), Phrase(2, "操", "zh")])
    assert found(matcher, "他是个傻逼", "zh") == [("傻逼", "傻逼")]
    assert found(matcher, "我操你", "zh") == [("操", "操")]


def test_overlapping_phrases_are_all_reported():
    matcher = Matcher([Phrase(1, "退款", "zh"), Phrase(2, "我要退款", "zh")])
    assert [m.phrase for m in matcher.find("我要退款", "zh")] == ["我要退款", "退款"]


def test_each_language_has_its_own_list(matcher):
    assert matcher.find("退款 refund", "en") == [Match(3, "refund", 3, 9)]
    assert matcher.find("我要退款", "en") == []
    assert matcher.find("refund", "fr") == []


def test_normal_phrase_is_the_duplicate_key():
    assert normal_phrase("  Son  of A\tBitch ", "en") == "son of a bitch"
    assert normal_phrase("退 款", "zh") == "退款"
    assert normal_phrase("   ", "en") == ""


def test_latin_words_in_a_chinese_phrase_keep_their_space():
    matcher = Matcher([Phrase(1, "iphone pro 退货", "zh")])
    text = "我的 iPhone Pro 退货了"
    assert found(matcher, text, "zh") == [("iphone pro 退货", "iPhone Pro 退货")]
    assert matcher.find("iphonepro退货", "zh") == []


def test_a_phrase_taken_off_the_lists_stops_being_a_word():
    with_longer = Matcher([Phrase(1, "退款", "zh"), Phrase(2, "我要退款", "zh")])
    assert [m.phrase for m in with_longer.find("我要退款", "zh")] == ["我要退款", "退款"]
    without = Matcher([Phrase(1, "退款", "zh")])
    assert [m.phrase for m in without.find("我要退款", "zh")] == ["退款"]
