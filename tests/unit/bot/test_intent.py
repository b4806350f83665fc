"""Requests for a person, greetings and language, told from messages that only
mention the words."""

from __future__ import annotations

import pytest

from callcenter.bot.intent import detect_language, is_greeting, wants_person


@pytest.mark.parametrize(
    "text",
    ["人工", "转人工", "我要人工！", "人工客服", "请转人工谢谢", "找客服", "客服在吗", "真人",
     "我想跟真人聊", "agent", "Agent please", "I want to talk to a human",
     "can I speak to a real person?", "let me talk to someone", "representative",
     "I need a human", "get me a representative now", "connect me with customer service"],
)  # fmt: skip
def test_requests_for_a_person(text):
    assert wants_person(text)


@pytest.mark.parametrize(
    "text",
    ["客服热线是多少", "人工智能是什么", "我想投诉客服态度", "退款多久到账",
     "my travel agent booked the wrong date", "human resources contact",
     "how do I become an agent", "what is the customer service number", "refund please"],
)  # fmt: skip
def test_mentions_are_not_requests(text):
    assert not wants_person(text)


@pytest.mark.parametrize("text", ["你好", "您好！", "在吗？", "早上好呀", "hi", "Hello there!",
                                  "hey, good morning", "anyone there?"])  # fmt: skip
def test_greetings(text):
    assert is_greeting(text)


@pytest.mark.parametrize(
    "text", ["你好，我的快递呢", "hi, where is my refund?", "hello kitty phone case", "", "？"]
)
def test_a_greeting_with_a_question_is_a_question(text):
    assert not is_greeting(text)


def test_language_is_chinese_with_any_han_character():
    assert detect_language("我的WiFi坏了") == "zh"
    assert detect_language("my wifi is down") == "en"
