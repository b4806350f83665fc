"""Key sentences of a fixed transcript: the caller's first substantive line, then the
most informative well-heard ones, in the order spoken; fillers and courtesies never."""

from __future__ import annotations

from callcenter.transcripts.summary import Said, content_words, key_sentences, lines, score

CALL = [
    Said("agent", 0.5, "Hello, thank you for calling, how can I help?", 0.9),
    Said("caller", 2.0, "Yes, hello", 0.95),
    Said("caller", 3.5, "My router keeps rebooting since Monday", 0.8),
    Said("agent", 9.0, "Okay", 0.99),
    Said("agent", 10.0, "Which model is it and what lights are blinking on the front", 0.85),
    Said("caller", 15.0, "It is the TP-Link Archer C7, the orange WAN light blinks twice", 0.2),
    Said("caller", 20.0, "The orange internet light blinks and the router restarts alone", 0.9),
    Said("agent", 30.0, "I will send a technician tomorrow morning between nine and twelve", 0.9),
    Said("caller", 40.0, "Okay thank you, bye", 0.9),
]


def test_the_callers_first_substantive_line_then_the_most_informative_in_order():
    picked = key_sentences(CALL, count=3)
    assert [s.start for s in picked] == [3.5, 20.0, 30.0]
    # With one pick it is why the caller called, though others score higher.
    assert score(CALL[2]) < score(CALL[6])
    assert [s.start for s in key_sentences(CALL, count=1)] == [3.5]


def test_fillers_and_poorly_heard_lines_are_never_picked():
    picked = key_sentences(CALL, count=20)
    starts = {s.start for s in picked}
    assert not starts & {0.5, 2.0, 9.0, 40.0}  # courtesies and fillers
    assert 15.0 not in starts  # confidence 0.2: probably not what was said
    assert content_words("嗯，好的，谢谢") == set()
    assert content_words("我的银行卡被冻结了") >= {"银行卡", "冻结"}


def test_chinese_lines_and_speaker_names():
    call = [Said("caller", 1.0, "喂，你好", 0.9), Said("caller", 2.0, "我的银行卡被冻结了", 0.9)]
    [said] = key_sentences(call)
    assert [(line.speaker, line.text) for line in lines([said], "zh")] == [
        ("客户", "我的银行卡被冻结了")]  # fmt: skip
    assert key_sentences([]) == []
