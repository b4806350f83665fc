"""The bot's decision from the KB's hits: answer, did-you-mean, failed turn, hand over."""

from __future__ import annotations

from callcenter.bot.policy import Policy
from callcenter.kb.retrieval import Hit

POLICY = Policy(threshold=0.6, suggest_threshold=0.4, max_failed_turns=2)


def hit(entry_id: int, score: float, confidence: float | None = None) -> Hit:
    c = score if confidence is None else confidence
    return Hit(entry_id, score, c, score, score, f"q{entry_id}")


def test_confident_hit_is_answered_and_resets_the_failed_count():
    d = POLICY.decide([hit(7, 0.7, 0.9), hit(8, 0.3)], failed_turns=1)
    assert (d.kind, d.hit and d.hit.entry_id, d.failed_turns) == ("answer", 7, 0)


def test_exactly_the_threshold_answers():
    assert POLICY.decide([hit(1, 0.6)], 0).kind == "answer"


def test_middle_band_offers_the_close_hits_without_a_failure():
    hits = [hit(1, 0.5, 0.55), hit(2, 0.45), hit(3, 0.35), hit(4, 0.1)]
    d = POLICY.decide(hits, failed_turns=1)
    assert d.kind == "clarify"
    assert d.failed_turns == 1
    # 0.1 is under 60 % of the top score; 4 hits, at most 3 offered.
    assert [h.entry_id for h in d.suggestions] == [1, 2, 3]


def test_below_the_band_is_a_failed_turn_then_a_handoff():
    low = [hit(1, 0.2)]
    first = POLICY.decide(low, failed_turns=0)
    assert (first.kind, first.failed_turns) == ("unanswered", 1)
    second = POLICY.decide(low, failed_turns=first.failed_turns)
    assert (second.kind, second.reason, second.failed_turns) == ("handoff", "failed_turns", 2)


def test_no_hits_at_all_is_a_failed_turn():
    d = POLICY.decide([], failed_turns=0)
    assert (d.kind, d.failed_turns, d.hit) == ("unanswered", 1, None)


def test_zero_failed_turns_allowed_hands_over_at_once_for_low_confidence():
    strict = Policy(threshold=0.6, suggest_threshold=0.4, max_failed_turns=0)
    d = strict.decide([hit(1, 0.1)], failed_turns=0)
    assert (d.kind, d.reason) == ("handoff", "low_confidence")
    assert strict.decide([hit(1, 0.5)], 0).kind == "clarify"
