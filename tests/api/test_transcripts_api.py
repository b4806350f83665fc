"""Transcripts on the real app: segments stored by the store the live pipeline calls,
pushed on /ws/events to the call's agent and supervisors only, read with the call's
visibility, searched in English and Chinese, and told in the call's ticket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.calls.service import NewCall
from callcenter.clock import FixedClock
from callcenter.speech.engine import Utterance
from tests.support.app import app_client, bearer
from tests.support.tickets import add_groups

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
USERS = [("sup", "supervisor"), ("amy", "agent"), ("bob", "agent")]


def _sensitive(text: str, language: str) -> list[tuple[int, int]]:
    """Marks 'refund' wherever it is said: what the sensitive-word checker plugs in."""
    at = text.lower().find("refund")
    return [(at, at + 6)] if at >= 0 else []


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    """Call A answered by amy, call B by bob, both in progress."""
    with app_client(tmp_path, USERS, FixedClock(START)) as c:
        services = c.app.state.services  # type: ignore[attr-defined]
        services.transcripts.highlighter = _sensitive
        c.calls = {  # type: ignore[attr-defined]
            name: c.portal.call(_call, services, f"ch-{name}", c.ids[agent])  # type: ignore[attr-defined]
            for name, agent in (("a", "amy"), ("b", "bob"))
        }
        yield c


async def _call(services: Any, channel: str, agent: int) -> int:
    call = await services.calls.start(NewCall(channel, "+8613800138000", "", "4008001000"))
    await services.calls.answered(call.id)
    await services.calls.connected(call.id, agent, ring_seconds=1.0)
    return int(call.id)


def _say(client: TestClient, call: str, speaker: str, at: float, text: str,
         agent: str | None = None) -> None:  # fmt: skip
    services = client.app.state.services  # type: ignore[attr-defined]
    agent_id = client.ids[agent] if agent else None  # type: ignore[attr-defined]
    said = Utterance(start=at, end=at + 2.0, text=text, confidence=0.8)
    call_id = str(client.calls[call])  # type: ignore[attr-defined]
    client.portal.call(services.transcripts.add, call_id, speaker, agent_id, START, said)


def _socket(client: TestClient, who: str) -> Any:
    token = bearer(client, who)["Authorization"][7:]
    return client.websocket_connect(f"/ws/events?types=call.transcript&token={token}")


def test_a_segment_reaches_the_calls_agent_and_supervisors_within_a_second(client):
    a, b = client.calls["a"], client.calls["b"]
    with _socket(client, "amy") as amy, _socket(client, "bob") as bob, \
            _socket(client, "sup") as sup:  # fmt: skip
        for ws in (amy, bob, sup):
            assert ws.receive_json()["type"] == "hello"
        began = time.monotonic()
        _say(client, "a", "caller", 2.0, "I want a refund for this order")
        heard = amy.receive_json()
        assert time.monotonic() - began < 1.0
        assert heard["type"] == "call.transcript"
        segment = heard["data"]["segment"]
        assert (heard["data"]["call_id"], segment["speaker"], segment["start"], segment["end"]) \
            == (a, "caller", 2.0, 4.0)  # fmt: skip
        assert segment["text"] == "I want a refund for this order"
        assert (segment["confidence"], segment["highlights"]) == (0.8, [[9, 15]])
        assert sup.receive_json()["data"]["segment"]["id"] == segment["id"]
        # Bob handles B: A's line never reached him, B's is the next thing he hears.
        _say(client, "b", "agent", 1.0, "Thank you for calling", agent="bob")
        theirs = bob.receive_json()
        assert (theirs["data"]["call_id"], theirs["data"]["segment"]["speaker"]) == (b, "agent")
        assert sup.receive_json()["data"]["call_id"] == b


def test_a_transcript_is_read_with_the_calls_visibility(client):
    a = client.calls["a"]
    _say(client, "a", "agent", 1.0, "Hello, this is Amy", agent="amy")
    _say(client, "a", "caller", 0.5, "Hi, about my refund")
    r = client.get(f"/api/calls/{a}/transcript", headers=bearer(client, "amy"))
    assert r.status_code == 200, r.text
    segments = r.json()["segments"]
    assert [(s["speaker"], s["start"]) for s in segments] == [("caller", 0.5), ("agent", 1.0)]
    assert segments[0]["highlights"] == [[13, 19]]
    assert segments[1]["agent_id"] == client.ids["amy"]
    assert client.get(f"/api/calls/{a}/transcript", headers=bearer(client, "sup")).status_code \
        == 200  # fmt: skip
    assert client.get(f"/api/calls/{a}/transcript", headers=bearer(client, "bob")).status_code \
        == 404  # fmt: skip
    assert client.get("/api/calls/99999/transcript", headers=bearer(client, "sup")).status_code \
        == 404  # fmt: skip


def test_search_in_english_and_chinese_agents_their_own_calls(client):
    a, b = client.calls["a"], client.calls["b"]
    _say(client, "a", "caller", 1.0, "我想查询一下我的账单余额")
    _say(client, "b", "caller", 1.0, "我的银行卡被冻结了，账单也没收到")
    _say(client, "b", "agent", 4.0, "Your new BILL is on its way", agent="bob")

    def search(who: str, **params: Any) -> Any:
        return client.get("/api/transcripts/search", params=params, headers=bearer(client, who))

    everything = search("sup", q="账单").json()["items"]
    assert {item["call_id"] for item in everything} == {a, b}
    [mine] = search("amy", q="账单").json()["items"]
    assert (mine["call_id"], mine["speaker"]) == (a, "caller")
    assert [mine["snippet"][x:y] for x, y in mine["marks"]] == ["账单"]
    assert search("bob", q="账单余额").json()["items"] == []  # amy's call, not his
    [frozen] = search("sup", q="银行卡冻结").json()["items"]
    assert frozen["call_id"] == b
    [bill] = search("bob", q="bill").json()["items"]
    assert (bill["speaker"], bill["snippet"], bill["marks"]) == (
        "agent", "Your new BILL is on its way", [[9, 13]])  # fmt: skip
    assert bill["spoken_at"] == (START + timedelta(seconds=4)).isoformat()
    assert [i["call_id"] for i in search("sup", q="账单", agent_id=client.ids["bob"]).json()
            ["items"]] == [b]  # fmt: skip
    later = (START + timedelta(hours=1)).isoformat()
    assert search("sup", q="账单", **{"from": later}).json()["items"] == []


@pytest.mark.parametrize(
    ("who", "params", "field"),
    [
        ("sup", {"q": " ,。!"}, "q"),
        ("sup", {}, "q"),
        ("sup", {"q": "x" * 201}, "q"),
        ("sup", {"q": "bill", "from": "2026-11-30T10:00:00Z", "to": "2026-11-30T09:00:00Z"}, "to"),
        ("sup", {"q": "bill", "from": "yesterday"}, "from"),
        ("sup", {"q": "bill", "limit": 0}, "limit"),
        ("amy", {"q": "bill", "agent_id": 3}, "agent_id"),
    ],
)
def test_a_bad_search_is_refused_naming_the_field(client, who, params, field):
    r = client.get("/api/transcripts/search", params=params, headers=bearer(client, who))
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["detail"]] == [["query", field]]


def test_a_ticket_from_the_call_tells_its_key_sentences_and_links_the_transcript(client):
    add_groups(client, {"support": ["amy"]})
    a = client.calls["a"]
    _say(client, "a", "agent", 0.5, "Hello, thank you for calling", agent="amy")
    _say(client, "a", "caller", 2.0, "Yes hello")
    _say(client, "a", "caller", 4.0, "My internet router keeps rebooting every ten minutes")
    _say(client, "a", "caller", 9.0, "Okay thank you")
    r = client.post(f"/api/calls/{a}/ticket", json={}, headers=bearer(client, "amy"))
    assert r.status_code == 201, r.text
    lines = r.json()["description"].splitlines()
    assert f"Transcript: /api/calls/{a}/transcript" in lines
    start = lines.index("Key sentences:")
    assert lines[start + 1] == "  Caller: My internet router keeps rebooting every ten minutes"
    assert "  Caller: Okay thank you" not in lines
