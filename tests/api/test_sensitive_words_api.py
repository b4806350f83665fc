"""Sensitive words over the real app: the lists (admins), check() raising alerts, the
alerts (supervisors), and their way to supervisors' websockets (not agents')."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.events import Event
from tests.support.app import app_client, bearer

USERS = [("root", "admin"), ("sup", "supervisor"), ("amy", "agent")]


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    with app_client(tmp_path, USERS) as c:
        yield c


def _word(client: TestClient, phrase: str, language: str, **more: Any) -> dict[str, Any]:
    body = {"phrase": phrase, "language": language, **more}
    r = client.post("/api/sensitive-words", json=body, headers=bearer(client, "root"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _check(client: TestClient, text: str, language: str, **more: Any) -> list[Any]:
    services = client.app.state.services  # type: ignore[attr-defined]
    args = {"ref": None, "agent_id": None, **more}
    check = partial(services.sensitive.check, "call", "call-1", text=text, language=language,
                    **args)  # fmt: skip
    return list(client.portal.call(check))  # type: ignore[union-attr]


def _words(client: TestClient, **params: str) -> list[dict[str, Any]]:
    r = client.get("/api/sensitive-words", params=params, headers=bearer(client, "root"))
    assert r.status_code == 200, r.text
    return list(r.json())


def test_admin_manages_the_lists(client):
    refund = _word(client, "  Refund ", "en")
    assert refund["phrase"] == "refund" and refund["severity"] == "warn" and refund["active"]
    assert refund["created_by"] == client.ids["root"]
    zh = _word(client, "退 款", "zh", severity="critical")
    assert zh["phrase"] == "退款" and zh["severity"] == "critical"
    assert [w["phrase"] for w in _words(client)] == ["refund", "退款"]
    assert [w["phrase"] for w in _words(client, language="zh")] == ["退款"]

    root = bearer(client, "root")
    r = client.patch(f"/api/sensitive-words/{zh['id']}", json={"active": False}, headers=root)
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["phrase"] == "退款"
    assert _words(client, active="true") == [refund]
    r = client.delete(f"/api/sensitive-words/{zh['id']}", headers=root)
    assert r.status_code == 204
    assert client.get(f"/api/sensitive-words/{zh['id']}", headers=root).status_code == 404
    assert client.delete(f"/api/sensitive-words/{zh['id']}", headers=root).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phrase": "  ", "language": "en"}, "phrase"),
        ({"phrase": "x" * 201, "language": "en"}, "phrase"),
        ({"phrase": "refund", "language": "fr"}, "language"),
        ({"phrase": "refund", "language": "en", "severity": "loud"}, "severity"),
        ({"phrase": "REFUND", "language": "en"}, "phrase"),  # a duplicate, whatever the case
    ],
)
def test_a_refused_phrase_names_its_field_and_stores_nothing(client, body, field):
    _word(client, "refund", "en")
    r = client.post("/api/sensitive-words", json=body, headers=bearer(client, "root"))
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["loc"] == ["body", field] and error["type"] == "value_error"
    assert [w["phrase"] for w in _words(client)] == ["refund"]


def test_a_change_to_a_duplicate_is_refused(client):
    _word(client, "refund", "en")
    other = _word(client, "lawsuit", "en")
    url = f"/api/sensitive-words/{other['id']}"
    r = client.patch(url, json={"phrase": "Refund"}, headers=bearer(client, "root"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "phrase"]
    r = client.patch(url, json={"language": "de"}, headers=bearer(client, "root"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "language"]
    assert sorted(w["phrase"] for w in _words(client)) == ["lawsuit", "refund"]


def test_bulk_import_one_phrase_per_line_skips_what_is_listed(client):
    _word(client, "投诉", "zh")
    text = "# 客服敏感词\n退款\n\n投诉\n骗子公司\n退款\n"
    body = {"language": "zh", "severity": "critical", "text": text}
    r = client.post("/api/sensitive-words/import", json=body, headers=bearer(client, "root"))
    assert r.status_code == 200, r.text
    assert [w["phrase"] for w in r.json()["created"]] == ["退款", "骗子公司"]
    assert {w["severity"] for w in r.json()["created"]} == {"critical"}
    assert r.json()["skipped"] == ["投诉", "退款"]
    again = client.post("/api/sensitive-words/import", json=body, headers=bearer(client, "root"))
    assert again.json()["created"] == [] and len(again.json()["skipped"]) == 4
    body["text"] = "ok\n" + "x" * 201
    r = client.post("/api/sensitive-words/import", json=body, headers=bearer(client, "root"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "text"]
    assert len(_words(client)) == 3


def test_who_may_do_what(client):
    word = _word(client, "refund", "en")
    sup, amy = bearer(client, "sup"), bearer(client, "amy")
    assert client.get("/api/sensitive-words", headers=sup).status_code == 403
    body = {"phrase": "sue", "language": "en"}
    assert client.post("/api/sensitive-words", json=body, headers=sup).status_code == 403
    url = f"/api/sensitive-words/{word['id']}"
    assert client.delete(url, headers=amy).status_code == 403
    assert client.get("/api/sensitive-alerts", headers=sup).status_code == 200
    assert client.get("/api/sensitive-alerts", headers=amy).status_code == 403
    _check(client, "I want a refund", "en")
    [alert] = client.get("/api/sensitive-alerts", headers=sup).json()
    assert client.post(f"/api/sensitive-alerts/{alert['id']}/ack", headers=amy).status_code == 403


def test_the_matcher_follows_the_lists_without_a_restart(client):
    assert _check(client, "我要退款，不然投诉你们", "zh-CN") == []
    word = _word(client, "退款", "zh")
    assert [m.phrase for m in _check(client, "我要退款，不然投诉你们", "zh-CN")] == ["退款"]
    _word(client, "投诉", "zh")
    found = _check(client, "我要退款，不然投诉你们", "zh")
    assert [(m.phrase, m.start, m.end) for m in found] == [("退款", 2, 4), ("投诉", 7, 9)]
    url = f"/api/sensitive-words/{word['id']}"
    client.patch(url, json={"active": False}, headers=bearer(client, "root"))
    assert [m.phrase for m in _check(client, "我要退款，不然投诉你们", "zh")] == ["投诉"]


def test_an_admin_tries_a_text_against_the_lists(client):
    _word(client, "son of a bitch", "en")
    body = {"text": "You son-of-a-bitch!", "language": "en"}
    r = client.post("/api/sensitive-words/test", json=body, headers=bearer(client, "root"))
    assert r.status_code == 200, r.text
    assert r.json() == [{"phrase_id": 1, "phrase": "son of a bitch", "start": 4, "end": 18,
                         "text": "son-of-a-bitch"}]  # fmt: skip
    assert client.get("/api/sensitive-alerts", headers=bearer(client, "sup")).json() == []


def test_alerts_are_stored_listed_and_acknowledged(client):
    word = _word(client, "lawsuit", "en", severity="critical")
    text = "this is taking forever and i am going to file a lawsuits against your company"
    found = _check(client, text, "en-US", ref="seg-1", agent_id=client.ids["amy"])
    assert [text[m.start : m.end] for m in found] == ["lawsuits"]
    sup = bearer(client, "sup")
    [alert] = client.get("/api/sensitive-alerts", headers=sup).json()
    assert alert["phrase"] == "lawsuit" and alert["phrase_id"] == word["id"]
    assert alert["severity"] == "critical" and alert["language"] == "en"
    assert (alert["source"], alert["source_id"], alert["ref"]) == ("call", "call-1", "seg-1")
    assert (alert["agent_id"], alert["agent"]) == (client.ids["amy"], "amy")
    shown = alert["excerpt"][alert["match_start"] : alert["match_end"]]
    assert shown == "lawsuits" and alert["excerpt"].startswith("…")
    assert alert["acknowledged_at"] is None

    # The same segment checked again (a revised transcript) raises no second alert.
    _check(client, text, "en", ref="seg-1", agent_id=client.ids["amy"])
    assert len(client.get("/api/sensitive-alerts", headers=sup).json()) == 1

    r = client.post(f"/api/sensitive-alerts/{alert['id']}/ack", headers=sup)
    assert r.status_code == 200, r.text
    assert r.json()["acknowledged_by"] == client.ids["sup"]
    assert r.json()["acknowledged_by_name"] == "sup"
    again = client.post(f"/api/sensitive-alerts/{alert['id']}/ack", headers=bearer(client, "root"))
    assert again.json()["acknowledged_by"] == client.ids["sup"]  # the first one stays
    assert client.post("/api/sensitive-alerts/999/ack", headers=sup).status_code == 404

    _check(client, "lawsuit", "en", ref="seg-2")
    open_ones = client.get("/api/sensitive-alerts?acknowledged=false", headers=sup).json()
    assert [a["ref"] for a in open_ones] == ["seg-2"]
    done = client.get("/api/sensitive-alerts?acknowledged=true", headers=sup).json()
    assert [a["ref"] for a in done] == ["seg-1"]
    # `since` (included) in any offset: seg-2's own time, in Beijing time.
    seg2 = datetime.fromisoformat(open_ones[0]["created_at"]).astimezone(
        timezone(timedelta(hours=8))
    )
    for since, refs in ((seg2, ["seg-2"]), (seg2 + timedelta(microseconds=1), [])):
        recent = client.get("/api/sensitive-alerts", params={"since": since.isoformat()},
                            headers=sup)  # fmt: skip
        assert [a["ref"] for a in recent.json()] == refs
    later = client.get("/api/sensitive-alerts", params={"since": "2099-01-01T00:00:00Z"},
                       headers=sup)  # fmt: skip
    assert later.status_code == 200 and later.json() == []


def _socket(client: TestClient, who: str) -> Any:
    token = bearer(client, who)["Authorization"][7:]
    return client.websocket_connect(f"/ws/events?token={token}")


def test_supervisors_get_the_alert_live_and_agents_do_not(client):
    _word(client, "骗子公司", "zh")
    services = client.app.state.services  # type: ignore[attr-defined]
    with _socket(client, "sup") as sup, _socket(client, "amy") as amy:
        assert sup.receive_json()["type"] == "hello"
        assert amy.receive_json()["type"] == "hello"
        started = time.monotonic()
        _check(client, "你们就是骗子公司", "zh", ref="seg-9", agent_id=client.ids["amy"])
        event = sup.receive_json()
        elapsed = time.monotonic() - started
        assert event["type"] == "sensitive.alert"
        alert = event["data"]["alert"]
        assert event["data"]["alert_id"] == alert["id"]
        assert (alert["phrase"], alert["agent"]) == ("骗子公司", "amy")
        assert alert["source_id"] == "call-1"
        assert alert["excerpt"][alert["match_start"] : alert["match_end"]] == "骗子公司"
        # From check() to the supervisor's screen: the issue allows 2 s for the whole way.
        assert elapsed < 0.5, elapsed

        # Amy is the agent on the call, yet the next thing she hears is the marker.
        marker = Event("announcement.changed", {"id": 1})
        client.portal.call(services.bus.publish, marker)  # type: ignore[union-attr]
        assert amy.receive_json()["type"] == "announcement.changed"
        assert sup.receive_json()["type"] == "announcement.changed"

        url = f"/api/sensitive-alerts/{alert['id']}/ack"
        assert client.post(url, headers=bearer(client, "sup")).status_code == 200
        event = sup.receive_json()
        assert event["type"] == "sensitive.acknowledged"
        assert event["data"] == {"alert_id": alert["id"], "acknowledged_by": client.ids["sup"]}
