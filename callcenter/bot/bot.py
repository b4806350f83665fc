"""The bot's turn: one visitor message in, one reply out. Transport-free: the chat
channel (or `POST /api/bot/try`) hands in the conversation's context and gets a
`BotReply` to send, and the next context's `failed_turns` from it.

Order of the rules: a request for a person is honoured before anything (never make a
visitor argue with a bot); a listed sensitive phrase goes to a person too; a bare
greeting is greeted; everything else is asked of the knowledge base (policy.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from callcenter.bot.intent import detect_language, is_greeting, wants_person
from callcenter.bot.policy import HandoffReason, Policy
from callcenter.bot.replies import say
from callcenter.kb.knowledge import KnowledgeBase
from callcenter.kb.retrieval import Hit

ReplyKind = Literal["answer", "clarify", "handoff", "greeting"]
# entry id -> the entry ({"question", "answer", ...}), or None when it is gone.
EntryReader = Callable[[list[int]], Awaitable[dict[int, dict[str, Any]]]]
# (text, language) -> whether it holds a listed sensitive phrase.
SensitiveCheck = Callable[[str, str], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class BotContext:
    """What the bot knows of the conversation. `language` None: the message's own."""

    conversation_id: str | None = None
    language: str | None = None
    failed_turns: int = 0
    customer_id: int | None = None
    visitor_id: str | None = None


@dataclass(frozen=True, slots=True)
class Suggestion:
    entry_id: int
    question: str
    score: float


@dataclass(frozen=True, slots=True)
class BotReply:
    kind: ReplyKind
    text: str  # Markdown for answers (the entry's own)
    language: str
    failed_turns: int  # the conversation's count after this turn
    entry_id: int | None = None
    confidence: float | None = None
    suggestions: tuple[Suggestion, ...] = ()
    handoff_reason: HandoffReason | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "text": self.text, "language": self.language,
            "failed_turns": self.failed_turns, "entry_id": self.entry_id,
            "confidence": self.confidence, "handoff_reason": self.handoff_reason,
            "suggestions": [{"entry_id": s.entry_id, "question": s.question, "score": s.score}
                            for s in self.suggestions],
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Unanswered:
    """A question the bot could not answer outright, for self-learning."""

    text: str
    language: str
    best_entry_id: int | None
    best_score: float
    conversation_id: str | None


Recorder = Callable[[Unanswered], Awaitable[None]]


@dataclass
class Bot:
    kb: KnowledgeBase
    entries: EntryReader
    policy: Policy
    record: Recorder | None = None  # stores unanswered questions (learning.py)
    sensitive: SensitiveCheck | None = None

    async def turn(self, conversation: BotContext, text: str, *, learn: bool = True) -> BotReply:
        """Reply to `text`. `learn` False (an admin's trial) stores nothing."""
        text = text.strip()
        language = conversation.language or detect_language(text)
        failed = conversation.failed_turns
        if wants_person(text):
            return self._handoff(language, failed, "asked_for_human")
        if self.sensitive is not None and await self.sensitive(text, language):
            return self._handoff(language, failed, "sensitive")
        if is_greeting(text):
            return BotReply("greeting", say("greeting", language), language, failed)
        hits = await self.kb.answer(text, language, limit=self.policy.max_suggestions + 1)
        decision = self.policy.decide(hits, failed)
        if decision.kind != "answer" and learn and text and self.record is not None:
            best = decision.hit
            await self.record(Unanswered(
                text[:500], language, best.entry_id if best else None,
                best.confidence if best else 0.0, conversation.conversation_id))  # fmt: skip
        if decision.kind == "answer":
            assert decision.hit is not None
            found = await self.entries([decision.hit.entry_id])
            entry = found.get(decision.hit.entry_id)
            if entry is not None:  # deleted since the index was built: not answered
                return BotReply(
                    "answer", entry["answer"], language, 0,
                    entry_id=entry["id"], confidence=decision.hit.confidence,
                )  # fmt: skip
            return self._unanswered(language, failed + 1, None)
        if decision.kind == "clarify":
            offered = await self._suggestions(decision.suggestions)
            if offered:
                lines = [say("clarify", language)] + [f"- {s.question}" for s in offered]
                return BotReply(
                    "clarify", "\n".join(lines), language, decision.failed_turns,
                    confidence=_confidence(decision.hit), suggestions=offered,
                )  # fmt: skip
            return self._unanswered(language, failed + 1, decision.hit)
        if decision.kind == "handoff":
            assert decision.reason is not None
            return self._handoff(language, decision.failed_turns, decision.reason,
                                 _confidence(decision.hit))  # fmt: skip
        return self._unanswered(language, decision.failed_turns, decision.hit)

    async def choose(self, conversation: BotContext, entry_id: int) -> BotReply:
        """The visitor clicked a "did you mean" suggestion: answer with that entry, not
        with whatever its question text would match (it may even read as a request for
        a person, as "人工客服怎么联系？" does)."""
        found = await self.entries([entry_id])
        entry = found.get(entry_id)
        language = conversation.language or (entry["language"] if entry else "zh")
        if entry is None:  # deleted or deactivated since it was offered
            return self._unanswered(language, conversation.failed_turns + 1, None)
        return BotReply("answer", entry["answer"], language, 0, entry_id=entry_id, confidence=1.0)

    def _unanswered(self, language: str, failed: int, best: Hit | None) -> BotReply:
        if failed >= self.policy.max_failed_turns:
            reason: HandoffReason = (
                "failed_turns" if self.policy.max_failed_turns else "low_confidence"
            )
            return self._handoff(language, failed, reason, _confidence(best))
        return BotReply("clarify", say("unanswered", language), language, failed,
                        confidence=_confidence(best))  # fmt: skip

    @staticmethod
    def _handoff(
        language: str, failed: int, reason: HandoffReason, confidence: float | None = None
    ) -> BotReply:
        return BotReply("handoff", say("handoff", language), language, failed,
                        confidence=confidence, handoff_reason=reason)  # fmt: skip

    async def _suggestions(self, hits: tuple[Hit, ...]) -> tuple[Suggestion, ...]:
        found = await self.entries([h.entry_id for h in hits])
        return tuple(Suggestion(h.entry_id, found[h.entry_id]["question"], h.score)
                     for h in hits if h.entry_id in found)  # fmt: skip


def _confidence(hit: Hit | None) -> float | None:
    return hit.confidence if hit is not None else None
