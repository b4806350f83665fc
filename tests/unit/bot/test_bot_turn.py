"""One turn of the bot over a stand-in knowledge base (the real one is exercised in
tests/api/test_bot_api.py): rule order, what is recorded for self-learning, and the
failed-turn count carried in and out."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.bot.bot import Bot, BotContext, Unanswered
from callcenter.bot.policy import Policy
from callcenter.kb.retrieval import Hit

ENTRIES = {
    1: {"id": 1, "question": "退款多久到账？", "answer": "**1–3** 个工作日。", "language": "zh"},
    2: {"id": 2, "question": "如何申请退货退款？", "answer": "在订单页申请。", "language": "zh"},
}


class ScriptedKb:
    """Answers every question with the hits it was given."""

    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits
        self.asked: list[tuple[str, str | None]] = []

    async def answer(
        self, question: str, language: str | None = None, *, limit: int = 5
    ) -> list[Hit]:
        self.asked.append((question, language))
        return self.hits[:limit]


def hit(entry_id: int, confidence: float) -> Hit:
    return Hit(entry_id, confidence, confidence, confidence, confidence, "")


def make(hits: list[Hit], sensitive: bool = False) -> tuple[Bot, ScriptedKb, list[Unanswered]]:
    kb = ScriptedKb(hits)
    recorded: list[Unanswered] = []

    async def entries(ids: list[int]) -> dict[int, dict[str, Any]]:
        return {i: ENTRIES[i] for i in ids if i in ENTRIES}

    async def record(question: Unanswered) -> None:
        recorded.append(question)

    async def listed(text: str, language: str) -> bool:
        return sensitive

    policy = Policy(threshold=0.6, suggest_threshold=0.4, max_failed_turns=2)
    bot = Bot(kb, entries, policy, record=record, sensitive=listed)  # type: ignore[arg-type]
    return bot, kb, recorded


async def test_an_answer_carries_the_entry_markdown_and_records_nothing():
    bot, kb, recorded = make([hit(1, 0.9)])
    reply = await bot.turn(BotContext(failed_turns=1), "退款几天到")
    assert (reply.kind, reply.text, reply.entry_id, reply.failed_turns) == (
        "answer", "**1–3** 个工作日。", 1, 0)  # fmt: skip
    assert kb.asked == [("退款几天到", "zh")] and recorded == []


async def test_did_you_mean_is_recorded_with_the_best_guess():
    bot, _, recorded = make([hit(1, 0.5), hit(2, 0.45)])
    reply = await bot.turn(BotContext(conversation_id="c1"), "钱啥时候退回来")
    assert reply.kind == "clarify" and [s.entry_id for s in reply.suggestions] == [1, 2]
    assert reply.text.splitlines() == ["您是不是想问：", "- 退款多久到账？", "- 如何申请退货退款？"]
    assert recorded == [Unanswered("钱啥时候退回来", "zh", 1, 0.5, "c1")]


@pytest.mark.parametrize(("language", "start"), [(None, "Sorry"), ("zh", "抱歉")])
async def test_a_failed_turn_speaks_the_conversations_language(language, start):
    bot, _, recorded = make([hit(1, 0.1)])
    reply = await bot.turn(BotContext(language=language), "what is the weather")
    assert (reply.kind, reply.failed_turns, reply.suggestions) == ("clarify", 1, ())
    assert reply.text.startswith(start) and len(recorded) == 1


async def test_the_second_failed_turn_hands_over_and_is_recorded():
    bot, _, recorded = make([])
    reply = await bot.turn(BotContext(failed_turns=1), "blah")
    assert (reply.kind, reply.handoff_reason, reply.failed_turns) == ("handoff", "failed_turns", 2)
    assert [r.best_entry_id for r in recorded] == [None]


async def test_requests_greetings_and_sensitive_phrases_skip_the_kb_and_are_not_learned():
    bot, kb, recorded = make([hit(1, 0.9)])
    assert (
        await bot.turn(BotContext(failed_turns=1), "转人工")
    ).handoff_reason == "asked_for_human"
    assert (await bot.turn(BotContext(), "hello!")).kind == "greeting"
    sensitive, _, _ = make([hit(1, 0.9)], sensitive=True)
    assert (await sensitive.turn(BotContext(), "退款")).handoff_reason == "sensitive"
    assert kb.asked == [] and recorded == []


async def test_a_trial_learns_nothing():
    bot, _, recorded = make([hit(1, 0.1)])
    await bot.turn(BotContext(), "blah", learn=False)
    assert recorded == []


async def test_choosing_a_suggestion_answers_with_it():
    bot, kb, _ = make([])
    reply = await bot.choose(BotContext(failed_turns=1), 2)
    assert (reply.kind, reply.entry_id, reply.failed_turns, reply.language) == (
        "answer",
        2,
        0,
        "zh",
    )
    gone = await bot.choose(BotContext(failed_turns=1), 99)
    assert (gone.kind, gone.handoff_reason) == ("handoff", "failed_turns")
    assert kb.asked == []
