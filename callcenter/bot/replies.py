"""What the bot says besides KB answers, in the visitor's language."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "greeting": {
        "zh": "您好！我是智能客服，请问有什么可以帮您？需要人工服务请输入“人工”。",
        "en": "Hello! I'm the virtual assistant. How can I help? Type “agent” to reach a person.",
    },
    "clarify": {
        "zh": "您是不是想问：",
        "en": "Did you mean:",
    },
    "unanswered": {
        "zh": "抱歉，我没有找到这个问题的答案。请换个说法再问一次，或输入“人工”转人工客服。",
        "en": "Sorry, I couldn't find an answer to that. Please try other words, "
        "or type “agent” to reach a person.",
    },
    "handoff": {
        "zh": "正在为您转接人工客服，请稍候。",
        "en": "I'm connecting you to a person. Please wait a moment.",
    },
}


def say(what: str, language: str) -> str:
    return TEXTS[what]["zh" if language == "zh" else "en"]
