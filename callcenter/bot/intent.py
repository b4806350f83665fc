"""What a visitor's message is, before the knowledge base is asked: a request for a
person, or a greeting and nothing else. Cheap rules, pure, in both languages.

A word like 客服 or "agent" is a request only when the message is about getting one
("转人工", "talk to an agent", just "agent"), not when it merely names the thing
("客服热线是多少", "my travel agent", "人工智能"): those go to the knowledge base, which
may well have the answer.
"""

from __future__ import annotations

import re

from callcenter.kb.text import detect_language

__all__ = ["detect_language", "is_greeting", "wants_person"]

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)

# Chinese: phrases that ask for a person wherever they stand in the message.
_ZH_ASK = re.compile(
    r"(转|找|要|接|换|叫|联系|呼叫|我要|给我)(个|一个|一下)?(人工|真人|客服|坐席|座席)"
    r"|人工(客服|服务|坐席|座席|接待|回复)"
    r"|真人(客服|服务|回复|聊)"
    r"|(和|跟|同|与)(真人|人工|客服)(聊|说|谈|对话|沟通)"
    r"|客服(人员|小姐姐|小哥哥)?(在吗|在不在|呢|出来|快来)"
)
# Polite filler around a bare word: "人工！", "请转人工谢谢", "人工呢？".
_ZH_FILLER = re.compile(
    r"请|麻烦|帮我|给我|我要|我想|需要|谢谢|好吗|可以吗|吧|呢|啊|呀|哦|吗|嘛|快点|一下|！"
)
_ZH_BARE = frozenset({"人工", "真人", "客服", "人工人工", "人工客服", "客服客服", "坐席"})
_ZH_NOT = ("人工智能", "人工费", "人工成本")

_EN_PERSON = (
    r"(human|person|agent|representative|rep|operator|someone|somebody|people|staff"
    r"|customer service|support)"
)
_EN_ASK = re.compile(
    r"\b(talk|speak|chat|connect|transfer|put|get)( me)?( through)? (to|with) "
    r"(a |an |the |some |your |one of your )?(real |live |actual )?" + _EN_PERSON + r"\b"
    r"|\b(real|live|actual) (human|person|agent|representative)\b"
    r"|\b(want|need|get|give me|request) (a |an |to )?(human|agent|representative|operator)\b"
    r"|\b(human|agent|representative|operator) (please|pls|plz|now)\b"
)
_EN_BARE = frozenset({"human", "agent", "representative", "rep", "operator", "person",
                      "customer service", "a human", "an agent", "a person", "live agent",
                      "human agent", "real person"})  # fmt: skip
_EN_FILLER = re.compile(
    r"\b(please|pls|plz|i want|i need|can i have|can i get|give me|now|ok|hi|hello)\b"
)
_EN_NOT = ("human resources", "travel agent", "estate agent", "user agent", "agent fee")

_GREETING_ZH = re.compile(
    r"(你好|您好|嗨|哈喽|哈啰|哈罗|在吗|在不在|有人吗|有人在吗|早上好|中午好|下午好|晚上好|早安|喂"
    r"|早|hi|hello|hey)+(啊|呀|哦|哈|吖)?"
)
_GREETING_EN = re.compile(
    r"((hi|hello|hey|hiya|howdy|yo|greetings|good (morning|afternoon|evening|day)"
    r"|(is )?any(one|body) (there|here|around)|hi there|hello there)( there)?( ?,? ?)?)+"
)


def _squash(text: str) -> str:
    return _PUNCT.sub("", text)


def wants_person(text: str) -> bool:
    """Whether the visitor asks to be handed to a person (人工, "agent", …)."""
    lowered = text.lower().strip()
    if detect_language(lowered) == "zh":
        squashed = _squash(lowered)
        if any(word in squashed for word in _ZH_NOT):
            return False
        if _ZH_ASK.search(squashed):
            return True
        return _ZH_FILLER.sub("", squashed) in _ZH_BARE
    if any(phrase in lowered for phrase in _EN_NOT):
        return False
    words = " ".join(re.findall(r"[a-z']+", lowered))
    if _EN_ASK.search(words):
        return True
    return " ".join(_EN_FILLER.sub(" ", words).split()) in _EN_BARE


def is_greeting(text: str) -> bool:
    """A greeting and nothing else ("你好", "hi there!"): answered with a greeting, not
    searched (the KB would find whatever mentions "hello")."""
    lowered = text.lower().strip()
    if detect_language(lowered) == "zh":
        squashed = _squash(lowered)
        return bool(squashed) and _GREETING_ZH.fullmatch(squashed) is not None
    words = " ".join(re.findall(r"[a-z']+", lowered))
    return bool(words) and _GREETING_EN.fullmatch(words) is not None
