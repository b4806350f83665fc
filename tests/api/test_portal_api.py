"""The customer portal's API on the real app: a ticket link shows its own ticket only,
a session (one-time code by real SMTP) shows the customer's tickets only, public
comments only; altered or expired credentials are refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.clock import FixedClock
from tests.support.app import app_client, bearer
from tests.support.smtp import Smarthost, smarthost

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def relay() -> Iterator[Smarthost]:
    with smarthost() as host:
        yield host


@pytest.fixture
def client(tmp_path, relay) -> Iterator[TestClient]:
    """Group support (amy); Li (two tickets) and Wang (one) by email; bob in no group."""
    with app_client(
        tmp_path,
        [("sup", "supervisor"), ("amy", "agent"), ("bob", "agent")],
        FixedClock(START),
        smtp_host="127.0.0.1",
        smtp_port=relay.port,
        smtp_starttls=False,
        smtp_from="Support <support@example.com>",
        public_url="https://help.example.com",
    ) as c:
        sup = bearer(c, "sup")
        group = c.post("/api/ticket-groups", json={"name": "support"}, headers=sup).json()["id"]
        c.put(f"/api/ticket-groups/{group}/members", json={"user_ids": [c.ids["amy"]]},  # type: ignore[attr-defined]
              headers=sup)  # fmt: skip
        people = {}
        for name, email in (("Li Lei", "li@customer.test"), ("Wang Fang", "wang@customer.test")):
            r = c.post("/api/customers", json={"name": name, "emails": [email]}, headers=sup)
            people[name] = r.json()["id"]
        c.tickets = {}  # type: ignore[attr-defined]
        for key, who, subject in (("li1", "Li Lei", "Router"), ("li2", "Li Lei", "Invoice"),
                                  ("wang", "Wang Fang", "Password")):  # fmt: skip
            body = {"subject": subject, "requester_id": people[who], "group_id": group}
            c.tickets[key] = c.post("/api/tickets", json=body, headers=sup).json()["id"]  # type: ignore[attr-defined]
        amy = bearer(c, "amy")
        for body, public in (("NOTE: refund them", False), ("We are on it.", True)):
            c.post(f"/api/tickets/{c.tickets['li1']}/comments",  # type: ignore[attr-defined]
                   json={"body": body, "public": public}, headers=amy)  # fmt: skip
        relay.wait(1)  # Li was mailed the public reply
        relay.received.clear()
        yield c


def _link(client: TestClient, key: str, who: str = "amy") -> dict[str, Any]:
    ticket_id = client.tickets[key]  # type: ignore[attr-defined]
    r = client.get(f"/api/tickets/{ticket_id}/portal-link", headers=bearer(client, who))
    assert r.status_code == 200, r.text
    return r.json()


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_ticket_link_shows_its_ticket_with_public_comments_only(client):
    li1, li2, wang = (client.tickets[k] for k in ("li1", "li2", "wang"))
    link = _link(client, "li1")
    assert link["url"] == f"https://help.example.com/portal.html#token={link['token']}"
    assert link["expires_at"] == (START + timedelta(days=30)).isoformat()
    me = _as(link["token"])
    listed = client.get("/api/portal/tickets", headers=me).json()["items"]
    assert [(t["id"], t["status"]) for t in listed] == [(li1, "open")]
    ticket = client.get(f"/api/portal/tickets/{li1}", headers=me).json()
    assert ticket["subject"] == "Router" and ticket["status"] == "open"
    assert [(c["by"], c["author"], c["body"]) for c in ticket["comments"]] == [
        ("agent", "amy", "We are on it.")
    ]
    assert "group_id" not in ticket and "assignee_id" not in ticket
    # Li's other ticket is not this link's; Wang's is not Li's: absent both.
    for other in (li2, wang, 9999):
        assert client.get(f"/api/portal/tickets/{other}", headers=me).status_code == 404
        r = client.post(f"/api/portal/tickets/{other}/replies", json={"body": "x"}, headers=me)
        assert r.status_code == 404
    assert client.get("/api/portal/me", headers=me).json()["ticket_id"] == li1


def test_altered_expired_or_missing_links_are_refused(client):
    token = _link(client, "li1")["token"]
    kind, payload, signature = token.split(".")
    wang = client.tickets["wang"]
    # Li's link with Wang's ticket written in: the signature no longer holds.
    forged_payload = _b64({"t": wang, "c": 2, "e": 9999999999})
    for bad in (f"{kind}.{forged_payload}.{signature}", f"{kind}.{payload}.{signature[:-2]}xx",
                f"ps.{payload}.{signature}", "garbage"):  # fmt: skip
        r = client.get(f"/api/portal/tickets/{wang}", headers=_as(bad))
        assert r.status_code == 403, bad
    assert client.get("/api/portal/tickets").status_code == 401
    # An agent's login token is no portal credential either.
    assert client.get("/api/portal/tickets", headers=bearer(client, "amy")).status_code == 403
    client.app.state.services.clock.advance(timedelta(days=30))
    r = client.get(f"/api/portal/tickets/{client.tickets['li1']}", headers=_as(token))
    assert r.status_code == 403 and "expired" in r.json()["detail"]


def test_agents_get_links_only_for_tickets_they_see(client):
    ticket_id = client.tickets["li1"]
    assert client.get(f"/api/tickets/{ticket_id}/portal-link",
                      headers=bearer(client, "bob")).status_code == 404  # fmt: skip
    assert client.get(f"/api/tickets/{ticket_id}/portal-link").status_code == 401


def test_a_portal_reply_is_the_customers_comment_and_reopens(client, relay):
    li1 = client.tickets["li1"]
    me = _as(_link(client, "li1")["token"])
    amy = bearer(client, "amy")
    client.patch(f"/api/tickets/{li1}", json={"status": "pending"}, headers=amy)
    r = client.post(f"/api/portal/tickets/{li1}/replies", json={"body": "Still broken"},
                    headers=me)  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["by"] == "customer" and r.json()["author"] == "Li Lei"
    ticket = client.get(f"/api/tickets/{li1}", headers=amy).json()
    assert ticket["status"] == "open"
    history = client.get(f"/api/tickets/{li1}/history", headers=amy).json()["items"]
    assert [(i["by"], i["body"]) for i in history if i["kind"] == "comment"][-1] == (
        "customer", "Still broken")  # fmt: skip
    empty = client.post(f"/api/portal/tickets/{li1}/replies", json={"body": ""}, headers=me)
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "body"]
    client.patch(f"/api/tickets/{li1}", json={"status": "closed"}, headers=amy)
    closed = client.post(f"/api/portal/tickets/{li1}/replies", json={"body": "x"}, headers=me)
    assert closed.status_code == 409
    client.portal.call(client.app.state.services.mail.replies.join)
    assert relay.received == []  # the customer's own words are not mailed back


def _code(relay: Smarthost) -> str:
    (message,) = relay.wait(1)
    relay.received.clear()
    assert message["To"] == "li@customer.test"
    return re.findall(r"\b\d{6}\b", message.get_content())[0]


def test_a_code_login_shows_all_of_the_customers_tickets_and_no_one_elses(client, relay):
    asked = client.post("/api/portal/code", json={"email": " LI@customer.test "})
    assert asked.status_code == 202
    code = _code(relay)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    r = client.post("/api/portal/session", json={"email": "li@customer.test", "code": wrong})
    assert r.status_code == 401
    r = client.post("/api/portal/session", json={"email": "li@customer.test", "code": code})
    assert r.status_code == 200, r.text
    me = _as(r.json()["token"])
    listed = client.get("/api/portal/tickets", headers=me).json()["items"]
    assert [t["subject"] for t in listed] == ["Invoice", "Router"]
    assert client.get(f"/api/portal/tickets/{client.tickets['wang']}",
                      headers=me).status_code == 404  # fmt: skip
    assert client.get("/api/portal/me", headers=me).json()["name"] == "Li Lei"
    # A code is used once.
    again = client.post("/api/portal/session", json={"email": "li@customer.test", "code": code})
    assert again.status_code == 401
    # A session expires too.
    client.app.state.services.clock.advance(timedelta(hours=12))
    assert client.get("/api/portal/tickets", headers=me).status_code == 403


def test_codes_are_rate_limited_tried_a_few_times_and_expire(client, relay):
    unknown = client.post("/api/portal/code", json={"email": "nobody@customer.test"})
    assert unknown.status_code == 202
    bad = client.post("/api/portal/code", json={"email": "not-an-address"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "email"]
    client.post("/api/portal/code", json={"email": "li@customer.test"})
    code = _code(relay)
    wrong = {"email": "li@customer.test", "code": "000000" if code != "000000" else "111111"}
    for _ in range(5):
        assert client.post("/api/portal/session", json=wrong).status_code == 401
    r = client.post("/api/portal/session", json={"email": "li@customer.test", "code": code})
    assert r.status_code == 401  # five wrong guesses spent it
    client.post("/api/portal/code", json={"email": "li@customer.test"})
    code = _code(relay)
    client.app.state.services.clock.advance(timedelta(minutes=10))
    r = client.post("/api/portal/session", json={"email": "li@customer.test", "code": code})
    assert r.status_code == 401  # expired
    third = client.post("/api/portal/code", json={"email": "li@customer.test"})
    assert third.status_code == 202
    relay.wait(1)
    r = client.post("/api/portal/code", json={"email": "li@customer.test"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 5 * 60
    assert relay.received and len(relay.received) == 1


def test_code_login_needs_outbound_mail(tmp_path):
    with app_client(tmp_path, []) as client:
        r = client.post("/api/portal/code", json={"email": "li@customer.test"})
        assert r.status_code == 503


def _b64(claims: dict[str, int]) -> str:
    import base64
    import json

    raw = json.dumps(claims, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
