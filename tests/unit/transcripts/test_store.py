"""The transcript store on SQLite (FTS5) and PostgreSQL (tsvector): segments placed on
the call's timeline, published as ids, searched in English and Chinese (jieba words),
ranked, filtered and snippeted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.calls.service import CallService, NewCall
from callcenter.clock import FixedClock
from callcenter.events.memory import InMemoryBus
from callcenter.speech.engine import Utterance
from callcenter.transcripts.search import Filters
from callcenter.transcripts.store import BadQuery, TranscriptStore, make_snippet
from tests.support.reports import seed_agents

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def store(database, clock) -> TranscriptStore:
    bus = InMemoryBus()
    return TranscriptStore(database, bus, CallService(database, bus, clock), clock)


async def _call(store: TranscriptStore, channel: str, agent: int | None) -> int:
    call = await store.calls.start(NewCall(channel, "+8613800138000", "", "400"))
    assert call.id is not None
    await store.calls.answered(call.id)
    if agent is not None:
        await store.calls.connected(call.id, agent, ring_seconds=1.0)
    return call.id


def _said(start: float, text: str, confidence: float = 0.9) -> Utterance:
    return Utterance(start=start, end=start + 2.0, text=text, confidence=confidence)


async def test_a_segment_is_placed_on_the_calls_timeline_and_published(store, clock):
    [amy] = await seed_agents(store.db, ["amy"])
    call_id = await _call(store, "ch-1", amy)
    events = store.bus.subscribe("call.transcript")
    # The agent side's stream began 3 s after the answer; the utterance 1.5 s into it.
    began = START + timedelta(seconds=3)
    await store.add(str(call_id), "agent", amy, began, _said(1.5, "  Hello, how can I help?  "))
    await store.add("ch-1", "caller", None, began, _said(4.0, "My card was blocked"))  # by channel
    await store.add(str(call_id), "caller", None, began, _said(7.0, "   "))  # nothing heard
    await store.add("999999", "caller", None, began, _said(1.0, "lost"))  # no such call: dropped

    agent, caller = await store.of_call(call_id)
    assert (agent.speaker, agent.agent_id, agent.start, agent.end) == ("agent", amy, 4.5, 6.5)
    assert agent.text == "Hello, how can I help?"
    assert (caller.speaker, caller.start, caller.source) == ("caller", 7.0, "live")
    assert caller.spoken_at == began + timedelta(seconds=4)
    first = await events.get()
    assert first.data == {"call_id": call_id, "segment_id": agent.id, "agent_id": amy}
    assert (await events.get()).data["segment_id"] == caller.id
    pushed = await store.segment(caller.id)
    assert pushed is not None and pushed["text"] == "My card was blocked"


async def test_search_finds_english_and_chinese_words_ranked_and_filtered(store, clock):
    amy, bob = await seed_agents(store.db, ["amy", "bob"])
    first = await _call(store, "ch-1", amy)
    second = await _call(store, "ch-2", bob)
    t0 = START
    await store.add(str(first), "caller", None, t0, _said(1, "I want to check my BILL balance"))
    await store.add(str(first), "caller", None, t0, _said(5, "我想查询一下我的账单余额"))
    await store.add(str(second), "caller", None, t0 + timedelta(days=1),
                    _said(1, "我的银行卡被冻结了，账单也没收到"))  # fmt: skip
    await store.add(str(second), "agent", bob, t0 + timedelta(days=1),
                    _said(3, "The bill will be sent again, bill by email"))  # fmt: skip

    english = await store.search("Bill", Filters())
    # Two "bill"s in the shorter segment rank it first; case does not matter.
    assert [h.segment.text for h in english] == [
        "The bill will be sent again, bill by email",
        "I want to check my BILL balance",
    ]
    snippet, marks = english[1].snippet, english[1].marks
    assert [snippet[a:b] for a, b in marks] == ["BILL"]

    chinese = await store.search("账单", Filters())
    assert {h.segment.call_id for h in chinese} == {first, second}
    # Every word must match: 账单 and 余额 are both in the first call's line only.
    [both] = await store.search("账单余额", Filters())
    assert both.segment.call_id == first
    assert [both.snippet[a:b] for a, b in both.marks] == ["账单余额"]
    # A word inside a longer one is found (search-mode indexing: 银行卡 -> 银行).
    assert [h.segment.call_id for h in await store.search("银行", Filters())] == [second]

    assert [h.segment.call_id for h in await store.search("账单", Filters(agent_id=bob))] == [
        second]  # fmt: skip
    later = Filters(since=t0 + timedelta(hours=12))
    assert [h.segment.call_id for h in await store.search("账单", later)] == [second]
    earlier = Filters(until=t0 + timedelta(hours=12))
    assert [h.segment.call_id for h in await store.search("账单", earlier)] == [first]
    assert await store.search("nothing-like-this", Filters()) == []
    # Search syntax in a query is text, not operators.
    assert await store.search('bill OR "x" NEAR(y)', Filters()) == []
    with pytest.raises(BadQuery):
        await store.search(" ?! ", Filters())


def test_a_snippet_is_cut_around_the_first_match():
    text = "x" * 100 + " the refund arrived " + "y" * 100
    snippet, marks = make_snippet(text, ["refund"])
    assert snippet.startswith("…") and snippet.endswith("…")
    assert [snippet[a:b] for a, b in marks] == ["refund"]
    assert make_snippet("short", ["none"]) == ("short", [])
