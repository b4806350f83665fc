"""Quality review (质检) on the real app, no telephony: scorecards and their versions,
the score with its critical rule, who may read and acknowledge which review, the
review queue, and per-agent summaries counted in the center's time zone (Shanghai)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, insert

from callcenter.agents.models import AgentStateSpanRow
from callcenter.api.app import create_app
from callcenter.clock import FixedClock
from callcenter.config import Settings
from tests.support.app import bearer, seed_users
from tests.support.quality import CARD, finished_call

# Monday 30 November 2026, 10:00 in Shanghai (UTC+8).
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
USERS = [("boss", "admin"), ("sup", "supervisor"), ("sup2", "supervisor"),
         ("amy", "agent"), ("bob", "agent"), ("cat", "agent"), ("dan", "agent")]  # fmt: skip


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def _seed(services: Any) -> dict[str, Any]:
    ids = await seed_users(services, USERS)
    amy, bob, cat, dan = ids["amy"], ids["bob"], ids["cat"], ids["dan"]
    calls = {
        "amy1": await finished_call(services, "amy-1", at=_utc(2026, 11, 20, 3), agent=amy,
                                    talk=100, wrap_up=20, recording=True),
        "amy2": await finished_call(services, "amy-2", at=_utc(2026, 11, 21, 3), agent=amy,
                                    talk=60, recording=True),
        "amy_live": await finished_call(services, "amy-3", at=_utc(2026, 11, 30, 1), agent=amy,
                                        end=False),
        "bob1": await finished_call(services, "bob-1", at=_utc(2026, 11, 24, 2), agent=bob,
                                    talk=50, recording=True),
        "dan1": await finished_call(services, "dan-1", at=_utc(2026, 11, 26, 3), agent=dan,
                                    talk=40, recording=True),
        "dan2": await finished_call(services, "dan-2", at=_utc(2026, 11, 27, 3), agent=dan,
                                    talk=40, recording=True),
        "nobody": await finished_call(services, "lost-1", at=_utc(2026, 11, 24, 3)),
        # cat's week, for the summary: Sunday 17:00 UTC is already Monday in Shanghai.
        "cat_monday": await finished_call(services, "cat-1", at=_utc(2026, 11, 22, 17),
                                          agent=cat, talk=120, hold=30, wrap_up=30,
                                          recording=True),
        "cat_week_before": await finished_call(services, "cat-2", at=_utc(2026, 11, 18, 3),
                                               agent=cat, talk=200, wrap_up=40, recording=True),
        "cat_unrecorded": await finished_call(services, "cat-3", at=_utc(2026, 11, 25, 3),
                                              agent=cat, talk=80),
        "cat_before_period": await finished_call(services, "cat-4", at=_utc(2026, 11, 15, 3),
                                                 agent=cat, talk=999, recording=True),
    }  # fmt: skip
    spans = [  # cat: (state, start, end)
        ("available", _utc(2026, 11, 23, 0), _utc(2026, 11, 23, 4)),  # 4 h
        ("on_call", _utc(2026, 11, 23, 4), _utc(2026, 11, 23, 4, 30)),  # 0.5 h
        ("offline", _utc(2026, 11, 23, 4, 30), _utc(2026, 11, 23, 10)),  # not online
        # Sunday 23:00 to Monday 01:00 in Shanghai: the hour after midnight counts.
        ("break", _utc(2026, 11, 15, 15), _utc(2026, 11, 15, 17)),
        ("available", _utc(2026, 11, 30, 0), _utc(2026, 11, 30, 1)),  # after the period
    ]
    rows = [{"agent_id": cat, "state": state, "reason": "", "started_at": start,
             "ended_at": end} for state, start, end in spans]  # fmt: skip

    def store(conn: Connection) -> None:
        conn.execute(insert(AgentStateSpanRow.__table__), rows)  # type: ignore[attr-defined]

    await services.db.write(store)
    return {**ids, "calls": calls}


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    settings = Settings(_env_file=None, env="test", data_dir=tmp_path_factory.mktemp("qa"),  # type: ignore[call-arg]
                        timezone="Asia/Shanghai")  # fmt: skip
    app = create_app(settings, with_pbx=False, clock=FixedClock(NOW))
    with TestClient(app) as c:
        c.ids = c.portal.call(_seed, app.state.services)  # type: ignore[attr-defined]
        yield c


def _card(client: TestClient, **changes: Any) -> dict[str, Any]:
    r = client.post("/api/quality/scorecards", json={**CARD, **changes},
                    headers=bearer(client, "sup"))  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()


def _review(client, user: str, call: str, card: int, points: dict[str, int], **extra: Any):
    items = [{"key": k, "points": p, "comment": f"{k} ok"} for k, p in points.items()]
    body = {"call_id": client.ids["calls"][call], "scorecard_id": card, "items": items, **extra}
    return client.post("/api/quality/reviews", json=body, headers=bearer(client, user))


FULL = {"greeting": 5, "solution": 3, "identity": 1}


def test_the_score_is_a_weighted_percentage_and_a_critical_zero_fails_it(client):
    card = _card(client, name="Formula")
    r = _review(client, "sup", "amy1", card["id"], FULL, comment="Good call")
    assert r.status_code == 201, r.text
    review = r.json()
    # (1·5/5 + 3·3/5 + 1·1/1) / (1 + 3 + 1) · 100 = 3.8 / 5 · 100
    assert (review["score"], review["critical_failed"]) == (76.0, False)
    assert review["agent"]["id"] == client.ids["amy"]  # the call's agent, not chosen
    assert review["reviewer"]["name"] == "sup"
    assert review["scorecard"]["version"] == 1
    assert [(c["key"], c["points"]) for c in review["criteria"]] == list(FULL.items())
    assert review["criteria"][1]["label"]["zh"] == "解决问题"
    assert review["call"]["recording_url"] == f"/api/calls/{client.ids['calls']['amy1']}/recording"
    failed = _review(client, "sup", "amy2", card["id"], {**FULL, "solution": 5, "identity": 0})
    assert (failed.json()["score"], failed.json()["critical_failed"]) == (0.0, True)


def test_editing_a_used_scorecard_makes_a_new_version_and_old_reviews_keep_theirs(client):
    card = _card(client, name="Versioned")
    sup = bearer(client, "sup")
    review = _review(client, "sup2", "bob1", card["id"], FULL).json()
    # Renaming changes nothing a score means: the same version, in place.
    name = "Versioned (renamed)"
    url = f"/api/quality/scorecards/{card['id']}"
    renamed = client.put(url, json={**CARD, "name": name}, headers=sup).json()
    assert (renamed["id"], renamed["version"]) == (card["id"], 1)
    # New weights on a used scorecard: version 2, a new id; version 1 stays as it was.
    heavier = {**CARD, "name": name, "criteria": [{**c, "weight": 2} for c in CARD["criteria"]]}
    r = client.put(url, json=heavier, headers=sup)
    assert r.status_code == 200, r.text
    v2 = r.json()
    assert (v2["version"], v2["family_id"], v2["current"]) == (2, card["id"], True)
    assert v2["id"] != card["id"]
    old = client.get(url, headers=sup).json()
    assert (old["current"], old["criteria"][0]["weight"]) == (False, 1)
    assert [v["version"] for v in old["versions"]] == [1, 2]
    again = client.get(f"/api/quality/reviews/{review['id']}", headers=sup).json()
    assert (again["scorecard"]["id"], again["scorecard"]["version"]) == (card["id"], 1)
    assert again["score"] == review["score"] == 76.0
    # The old version takes no new reviews and no edits; the same reviewer cannot
    # review the call again with the new version either (one per call and scorecard).
    stale = _review(client, "sup", "bob1", card["id"], FULL)
    assert stale.status_code == 422 and stale.json()["detail"][0]["loc"] == ["body", "scorecard_id"]
    assert client.put(url, json=CARD, headers=sup).status_code == 409
    assert _review(client, "sup2", "bob1", v2["id"], FULL).status_code == 409
    names = [c["name"] for c in client.get("/api/quality/scorecards", headers=sup).json()]
    assert names.count(name) == 1
    # A used scorecard is not deleted (its reviews need it); an unused one is.
    assert client.delete(f"/api/quality/scorecards/{v2['id']}", headers=sup).status_code == 409
    unused = _card(client, name="Unused")
    assert client.delete(f"/api/quality/scorecards/{unused['id']}", headers=sup).status_code == 204
    assert client.get(f"/api/quality/scorecards/{unused['id']}", headers=sup).status_code == 404


def _criteria(*changes: dict[str, Any]) -> dict[str, Any]:
    base = {"key": "greeting", "weight": 1, "max_points": 5}
    return {**CARD, "criteria": [{**base, **change} for change in changes]}


@pytest.mark.parametrize(("body", "loc"), [
    (_criteria({"weight": 0}), ["body", "criteria", 0, "weight"]),
    (_criteria({"weight": -2}), ["body", "criteria", 0, "weight"]),
    (_criteria({}, {"weight": 2}), ["body", "criteria", 1, "key"]),  # the key twice
    (_criteria({"key": "Bad Key"}), ["body", "criteria", 0, "key"]),
    (_criteria({"max_points": 0}), ["body", "criteria", 0, "max_points"]),
    ({**CARD, "criteria": []}, ["body", "criteria"]),
    ({**CARD, "name": ""}, ["body", "name"]),
])  # fmt: skip
def test_a_bad_scorecard_gets_a_field_level_422(client, body, loc):
    r = client.post("/api/quality/scorecards", json=body, headers=bearer(client, "sup"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc


@pytest.mark.parametrize(("points", "loc"), [
    ({"greeting": 5, "solution": 3, "identity": 1, "extra": 1}, ["body", "items", 3, "key"]),
    ({"greeting": 5, "solution": 3}, ["body", "items"]),  # identity not scored
    ({"greeting": 6, "solution": 3, "identity": 1}, ["body", "items", 0, "points"]),
    ({"greeting": -1, "solution": 3, "identity": 1}, ["body", "items", 0, "points"]),
])  # fmt: skip
def test_a_bad_review_gets_a_field_level_422(client, points, loc):
    card = _card(client, name="Checked")
    r = _review(client, "sup", "amy2", card["id"], points)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc


def test_only_finished_calls_an_agent_took_are_reviewed(client):
    card = _card(client, name="Calls")["id"]
    nobody = _review(client, "sup", "nobody", card, FULL)
    assert nobody.status_code == 422 and nobody.json()["detail"][0]["loc"] == ["body", "call_id"]
    body = {"call_id": 99999, "scorecard_id": card, "items": [{"key": "greeting", "points": 1}]}
    r = client.post("/api/quality/reviews", json=body, headers=bearer(client, "sup"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "call_id"]
    assert _review(client, "sup", "amy_live", card, FULL).status_code == 409
    off = _card(client, name="Retired", active=False)["id"]
    r = _review(client, "sup", "amy1", off, FULL)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "scorecard_id"]


def test_agents_read_and_acknowledge_their_own_reviews_only(client):
    card = _card(client, name="Private")["id"]
    review = _review(client, "sup", "amy1", card, FULL, comment="Nice greeting").json()
    url = f"/api/quality/reviews/{review['id']}"
    amy, bob, sup, sup2 = (bearer(client, n) for n in ("amy", "bob", "sup", "sup2"))
    assert client.get(url, headers=amy).json()["comment"] == "Nice greeting"
    assert client.get(url, headers=bob).status_code == 404  # not even "forbidden"
    mine = client.get("/api/quality/reviews", headers=amy).json()["items"]
    assert review["id"] in [r["id"] for r in mine]
    assert {r["agent"]["id"] for r in mine} == {client.ids["amy"]}
    theirs = client.get("/api/quality/reviews", params={"agent_id": client.ids["amy"]},
                        headers=bob).json()  # fmt: skip
    assert theirs["total"] == 0
    # amy may play the recording of her own reviewed call; bob may not.
    recording = review["call"]["recording_url"]
    played = client.get(recording, headers=amy)
    assert (played.status_code, played.headers["content-type"]) == (200, "audio/wav")
    assert client.get(recording, headers=bob).status_code == 404
    # Acknowledging: the agent only, once (the first time is kept).
    assert client.post(f"{url}/acknowledge", headers=bob).status_code == 404
    assert client.post(f"{url}/acknowledge", headers=sup).status_code == 403
    acked = client.post(f"{url}/acknowledge", headers=amy)
    assert acked.status_code == 200 and acked.json()["acknowledged_at"] is not None
    # Its author amends it: the score follows, the acknowledgement is cleared.
    items = [{"key": k, "points": p} for k, p in {**FULL, "greeting": 0}.items()]
    assert client.put(url, json={"items": items}, headers=sup2).status_code == 403
    amended = client.put(url, json={"items": items, "comment": "Greet first"}, headers=sup).json()
    assert (amended["score"], amended["acknowledged_at"]) == (56.0, None)
    # Agents neither review nor see the queue, others' summaries or the team's.
    assert _review(client, "amy", "bob1", card, FULL).status_code == 403
    assert client.post("/api/quality/scorecards", json=CARD, headers=amy).status_code == 403
    assert client.get("/api/quality/queue", headers=amy).status_code == 403
    assert client.get("/api/quality/agents", headers=amy).status_code == 403
    bob_id, amy_id = client.ids["bob"], client.ids["amy"]
    assert client.get(f"/api/quality/agents/{bob_id}/summary", headers=amy).status_code == 403
    assert client.get(f"/api/quality/agents/{amy_id}/summary", headers=amy).status_code == 200
    assert client.get("/api/quality/agents/99999/summary", headers=sup).status_code == 404


def test_the_review_queue_lists_recorded_calls_an_agent_took(client):
    sup = bearer(client, "sup")
    period = {"from": "2026-11-16", "to": "2026-11-29"}
    everything = client.get("/api/quality/queue", params=period, headers=sup).json()
    channels = [c["channel_id"] for c in everything["items"]]
    # Newest first; no unrecorded call, none without an agent, none outside the period.
    assert channels == ["dan-2", "dan-1", "bob-1", "cat-1", "amy-2", "amy-1", "cat-2"]
    assert everything["total"] == 7
    assert everything["items"][0]["agent_name"] == "dan"
    cat = {**period, "agent_id": client.ids["cat"], "limit": 1, "offset": 1}
    page = client.get("/api/quality/queue", params=cat, headers=sup).json()
    assert (page["total"], [c["channel_id"] for c in page["items"]]) == (2, ["cat-2"])
    card = _card(client, name="Queue")["id"]
    assert _review(client, "sup", "dan1", card, FULL).status_code == 201
    dan = {**period, "agent_id": client.ids["dan"]}
    both = client.get("/api/quality/queue", params=dan, headers=sup).json()["items"]
    assert [(c["channel_id"], c["reviews"]) for c in both] == [("dan-2", 0), ("dan-1", 1)]
    todo = client.get("/api/quality/queue", params={**dan, "unreviewed": "true"},
                      headers=sup).json()  # fmt: skip
    assert [c["channel_id"] for c in todo["items"]] == ["dan-2"]
    bad = client.get("/api/quality/queue", params={"from": "2026-11-20", "to": "2026-11-19"},
                     headers=sup)  # fmt: skip
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "from"]


def test_an_agents_summary_counts_in_the_centers_time_zone(client):
    card = _card(client, name="Summary")["id"]
    # The week before: a critical failure; the Monday (in Shanghai) call: 100.
    reviews = [("sup2", "cat_week_before", {**FULL, "identity": 0}),
               ("sup2", "cat_monday", {"greeting": 5, "solution": 5, "identity": 1}),
               ("boss", "cat_monday", {"greeting": 4, "solution": 5, "identity": 1})]  # fmt: skip
    for user, call, points in reviews:
        assert _review(client, user, call, card, points).status_code == 201
    cat = client.ids["cat"]
    period = {"from": "2026-11-16", "to": "2026-11-29"}
    summary = client.get(f"/api/quality/agents/{cat}/summary", params=period,
                         headers=bearer(client, "cat")).json()  # fmt: skip
    assert summary["reviews"] == 3
    assert summary["average_score"] == round((0 + 100 + 96) / 3, 1)
    assert summary["critical_failures"] == 1
    # In UTC the Monday call would be Sunday's, in the week before.
    assert summary["trend"] == [
        {"week": "2026-11-16", "reviews": 1, "average": 0.0},
        {"week": "2026-11-23", "reviews": 2, "average": 98.0},
    ]
    # 4 h available + 0.5 h on a call + the break's hour after midnight (Shanghai).
    assert summary["online_seconds"] == 5.5 * 3600
    # Answered in the period: two recorded and one not; the one before it is left out.
    # Handle time: talk + hold + wrap-up, (120 + 30 + 30) + (200 + 40) + 80 over three.
    assert summary["handled"] == 3
    assert summary["average_handle_seconds"] == round((180 + 240 + 80) / 3, 1)
    assert summary["rating"] is None and "CSAT" in summary["rating_note"]
    assert (summary["time_zone"], summary["from"], summary["to"]) == (
        "Asia/Shanghai", "2026-11-16", "2026-11-29")  # fmt: skip
    everyone = client.get("/api/quality/agents", params=period, headers=bearer(client, "sup"))
    by_name = {s["agent"]["name"]: s for s in everyone.json()}
    assert {"amy", "bob", "cat"} <= set(by_name)
    assert "sup" not in by_name  # a supervisor who took no call is no agent here
    assert by_name["cat"]["average_score"] == summary["average_score"]
    assert by_name["bob"]["handled"] == 1


def test_a_summary_defaults_to_the_last_four_weeks(client):
    amy = client.ids["amy"]
    summary = client.get(f"/api/quality/agents/{amy}/summary", headers=bearer(client, "sup"))
    body = summary.json()
    assert (body["from"], body["to"]) == ("2026-11-03", "2026-11-30")
    assert body["trend"][0]["week"] == "2026-11-02"
    assert len(body["trend"]) == 5
