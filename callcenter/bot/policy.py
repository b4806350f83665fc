"""The bot's decision on one question, from the knowledge base's hits: answer, offer
"did you mean", count a failed turn, or hand over. Pure, so each rule is unit-tested.

- confidence >= the KB threshold: answer with the top entry (the failed count resets:
  N failed turns means N in a row, as customers experience it).
- confidence >= `suggest_threshold` (the middle band): "did you mean" with the likely
  entries; not a failure, the visitor has something to click.
- lower: a failed turn; at `max_failed_turns` in a row, hand over. With 0 the first
  question the KB cannot answer is handed over at once (`low_confidence`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from callcenter.kb.retrieval import Hit

DecisionKind = Literal["answer", "clarify", "unanswered", "handoff"]
HandoffReason = Literal["asked_for_human", "low_confidence", "failed_turns", "sensitive"]


@dataclass(frozen=True, slots=True)
class Decision:
    kind: DecisionKind
    failed_turns: int  # after this turn
    hit: Hit | None = None  # the answer (answer), or the best there was
    suggestions: tuple[Hit, ...] = ()  # clarify: the entries offered
    reason: HandoffReason | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    threshold: float  # the knowledge base's answer threshold
    suggest_threshold: float  # the bottom of the "did you mean" band
    max_failed_turns: int
    max_suggestions: int = 3
    # A suggestion scoring under this share of the top hit's score is noise next to it.
    suggestion_share: float = 0.6

    def decide(self, hits: Sequence[Hit], failed_turns: int) -> Decision:
        top = hits[0] if hits else None
        confidence = top.confidence if top else 0.0
        if top is not None and confidence >= self.threshold:
            return Decision("answer", 0, hit=top)
        if top is not None and confidence >= self.suggest_threshold:
            floor = top.score * self.suggestion_share
            offered = tuple(h for h in hits[: self.max_suggestions] if h.score >= floor)
            return Decision("clarify", failed_turns, hit=top, suggestions=offered)
        failed = failed_turns + 1
        if self.max_failed_turns == 0:
            return Decision("handoff", failed, hit=top, reason="low_confidence")
        if failed >= self.max_failed_turns:
            return Decision("handoff", failed, hit=top, reason="failed_turns")
        return Decision("unanswered", failed, hit=top)
