"""Webhooks on the real app against a REAL HTTP receiver (aiohttp on 127.0.0.1, a free
port) that checks every signature: retries with backoff on the app's clock, dead
letters and replay, 4xx as final, trigger actions, and a restart mid-retry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from fastapi.testclient import TestClient

from callcenter.clock import FixedClock
from callcenter.webhooks import signing
from tests.support.app import app_client, bearer
from tests.support.tickets import START, desk, eventually, new_ticket

SECRET = "receiver-secret-0123456789"
# Fast polling; retries 60 s, 120 s … on the FixedClock, which the tests move.
FAST = {"webhook_poll_seconds": 0.05, "webhook_retry_initial": 60.0, "webhook_max_attempts": 3,
        "webhook_timeout": 2.0}  # fmt: skip


class Receiver:
    """Answers `fail` (a status) to the first `failures` requests, then 200; keeps
    every request with whether its signatures held."""

    def __init__(self, failures: int = 0, fail: int = 503) -> None:
        self.failures = failures
        self.fail = fail
        self.hits: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        h = request.headers
        self.hits.append({
            "valid": signing.verify(SECRET, raw, h.get(signing.SIGNATURE, ""),
                                    timestamp=h.get(signing.TIMESTAMP),
                                    timestamp_signature=h.get(signing.TIMESTAMP_SIGNATURE),
                                    now=float(h.get(signing.TIMESTAMP, "0"))),
            "delivery": h.get(signing.DELIVERY), "event": h.get(signing.EVENT),
            "raw": raw, "body": json.loads(raw),
        })  # fmt: skip
        if len(self.hits) <= self.failures:
            return web.Response(status=self.fail, text="not now")
        return web.Response(status=200, text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/hook"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    with desk(tmp_path, **FAST) as c:
        yield c


def _receiver(client: TestClient, **kw: Any) -> Receiver:
    receiver = Receiver(**kw)
    client.portal.call(receiver.start)
    return receiver


def _hook(client: TestClient, url: str, event_types: list[str], name: str = "crm") -> int:
    r = client.post("/api/webhooks", headers=bearer(client, "boss"), json={
        "name": name, "url": url, "secret": SECRET, "event_types": event_types})  # fmt: skip
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _later(client: TestClient, seconds: float) -> None:
    client.clock.advance(timedelta(seconds=seconds))  # type: ignore[attr-defined]


def _deliveries(client: TestClient, hook: int) -> list[dict[str, Any]]:
    r = client.get(f"/api/webhooks/{hook}/deliveries", headers=bearer(client, "boss"))
    assert r.status_code == 200, r.text
    return r.json()


def test_webhooks_are_for_admins_and_the_secret_is_shown_once(client):
    boss, sup = bearer(client, "boss"), bearer(client, "sup")
    body = {"name": "crm", "url": "https://crm.example/hook", "event_types": ["ticket."]}
    assert client.post("/api/webhooks", json=body, headers=sup).status_code == 403
    made = client.post("/api/webhooks", json=body, headers=boss)
    assert made.status_code == 201 and len(made.json()["secret"]) >= 32
    listed = client.get("/api/webhooks", headers=boss).json()
    assert listed == [{k: v for k, v in made.json().items() if k != "secret"}]
    bad = client.post("/api/webhooks", json={**body, "name": "x", "url": "ftp://x/y"}, headers=boss)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "url"]
    taken = client.post("/api/webhooks", json=body, headers=boss)
    assert taken.status_code == 422 and taken.json()["detail"][0]["loc"] == ["body", "name"]
    short = client.post("/api/webhooks", json={**body, "name": "y", "secret": "short"},
                        headers=boss)  # fmt: skip
    assert short.status_code == 422
    hook = made.json()["id"]
    assert client.put(f"/api/webhooks/{hook}", json={**body, "active": False},
                      headers=boss).json()["active"] is False  # fmt: skip
    assert client.delete(f"/api/webhooks/{hook}", headers=boss).status_code == 204
    assert client.get(f"/api/webhooks/{hook}", headers=boss).status_code == 404


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(client):
    receiver = _receiver(client, failures=2, fail=503)
    hook = _hook(client, receiver.url, ["ticket.created"])
    ticket = new_ticket(client)
    eventually(lambda: len(receiver.hits), lambda n: n == 1)
    first = _deliveries(client, hook)[0]
    assert (first["state"], first["attempts"], first["last_status"]) == ("pending", 1, 503)
    _later(client, 30)  # not due yet: the first retry waits 48-60 s (60 s, 20 % jitter)
    eventually(lambda: len(receiver.hits), lambda n: n > 1, timeout=0.5)
    assert len(receiver.hits) == 1
    _later(client, 31)
    eventually(lambda: len(receiver.hits), lambda n: n == 2)
    _later(client, 121)  # the second retry: 96-120 s
    eventually(lambda: len(receiver.hits), lambda n: n == 3)
    done = eventually(lambda: _deliveries(client, hook)[0], lambda d: d["state"] == "delivered")
    assert (done["state"], done["attempts"], done["last_status"]) == ("delivered", 3, 200)
    assert all(h["valid"] for h in receiver.hits)
    assert len({h["raw"] for h in receiver.hits}) == 1  # the same bytes every time
    assert {h["delivery"] for h in receiver.hits} == {str(done["id"])}
    body = receiver.hits[0]["body"]
    assert set(body) == {"id", "type", "at", "data"}
    assert body["type"] == "ticket.created" and body["data"]["id"] == ticket["id"]
    client.portal.call(receiver.stop)


def test_always_failing_goes_to_dead_letters_and_replay_delivers_after_the_fix(client):
    receiver = _receiver(client, failures=10**6, fail=500)
    hook = _hook(client, receiver.url, ["ticket."])
    boss = bearer(client, "boss")
    new_ticket(client)
    for n in (1, 2, 3):
        eventually(lambda: len(receiver.hits), lambda got, n=n: got == n)
        _later(client, 3600)
    dead = eventually(lambda: client.get("/api/webhooks/dead-letters", headers=boss).json(),
                      lambda d: len(d) == 1)  # fmt: skip
    assert (dead[0]["attempts"], dead[0]["last_status"], dead[0]["webhook_id"]) == (3, 500, hook)
    _later(client, 3600)
    eventually(lambda: len(receiver.hits), lambda n: n > 3, timeout=0.5)
    assert len(receiver.hits) == 3  # dead: no more attempts
    receiver.failures = 0  # the receiver is fixed
    r = client.post(f"/api/webhooks/dead-letters/{dead[0]['id']}/replay", headers=boss)
    assert r.status_code == 200 and r.json() == {"replayed": 1}
    done = eventually(lambda: _deliveries(client, hook)[0], lambda d: d["state"] == "delivered")
    assert done["attempts"] == 1  # a fresh count
    assert client.get("/api/webhooks/dead-letters", headers=boss).json() == []
    assert client.post("/api/webhooks/dead-letters/999/replay", headers=boss).status_code == 404
    client.portal.call(receiver.stop)


def test_a_4xx_is_final_but_429_is_retried_and_replay_all(client):
    refusing = _receiver(client, failures=10**6, fail=400)
    busy = _receiver(client, failures=1, fail=429)
    no = _hook(client, refusing.url, ["ticket.created"], name="refusing")
    later = _hook(client, busy.url, ["ticket.created"], name="busy")
    new_ticket(client)
    dead = eventually(lambda: _deliveries(client, no)[0], lambda d: d["state"] == "dead")
    assert (dead["attempts"], dead["last_status"]) == (1, 400)
    eventually(lambda: _deliveries(client, later)[0], lambda d: d["attempts"] == 1)
    _later(client, 61)
    ok = eventually(lambda: _deliveries(client, later)[0], lambda d: d["state"] == "delivered")
    assert ok["attempts"] == 2
    refusing.failures = 0
    r = client.post("/api/webhooks/dead-letters/replay", headers=bearer(client, "boss"))
    assert r.json() == {"replayed": 1}
    eventually(lambda: _deliveries(client, no)[0], lambda d: d["state"] == "delivered")
    for receiver in (refusing, busy):
        client.portal.call(receiver.stop)


def test_a_trigger_action_sends_to_a_webhook_without_bus_subscriptions(client):
    receiver = _receiver(client)
    hook = _hook(client, receiver.url, [])  # no bus events: only what triggers send
    r = client.post("/api/ticket-triggers", headers=bearer(client, "sup"), json={
        "name": "tell the crm", "conditions": {"all": [
            {"field": "priority", "op": "changed_to", "value": "urgent"}]},
        "actions": [{"type": "webhook", "webhook_id": hook}]})  # fmt: skip
    assert r.status_code == 201, r.text
    trigger = r.json()["id"]
    ticket = new_ticket(client)
    client.patch(f"/api/tickets/{ticket['id']}", json={"priority": "urgent"},
                 headers=bearer(client, "sup"))  # fmt: skip
    eventually(lambda: len(receiver.hits), lambda n: n == 1)
    hit = receiver.hits[0]
    assert hit["valid"] and hit["event"] == "ticket.trigger"
    assert hit["body"]["data"] == {"ticket_id": ticket["id"], "trigger_id": trigger,
                                   "event": "updated"}  # fmt: skip
    client.portal.call(receiver.stop)


def test_pending_deliveries_survive_a_restart(tmp_path):
    clock = FixedClock(START)
    with desk(tmp_path, clock, **FAST) as client:
        receiver = _receiver(client)
        url = receiver.url
        client.portal.call(receiver.stop)  # nobody listens: connection refused, retried
        hook = _hook(client, url, ["ticket.created"])
        new_ticket(client)
        first = eventually(lambda: _deliveries(client, hook)[0], lambda d: d["attempts"] == 1)
        assert first["state"] == "pending" and first["last_status"] is None
        assert first["last_error"]
    with app_client(tmp_path, [], clock, **FAST) as again:
        receiver = Receiver()
        again.portal.call(receiver.start)
        hook_url = receiver.url
        r = again.put(f"/api/webhooks/{hook}", headers=bearer(again, "boss"), json={
            "name": "crm", "url": hook_url, "event_types": ["ticket.created"]})  # fmt: skip
        assert r.status_code == 200  # the receiver moved to a new port; the secret is kept
        clock.advance(timedelta(seconds=61))
        eventually(lambda: len(receiver.hits), lambda n: n == 1)
        assert receiver.hits[0]["valid"]
        done = eventually(lambda: _deliveries(again, hook)[0], lambda d: d["state"] == "delivered")
        assert done["attempts"] == 2
        again.portal.call(receiver.stop)
