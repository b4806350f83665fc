"""Ticket mail through real SMTP servers: customers' mail into the app's own receiver
(stdlib smtplib), agents' replies out to a real smarthost (aiosmtpd) that keeps them."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.backoff import Backoff
from callcenter.clock import FixedClock
from callcenter.mail.outbound import Retry
from tests.support.app import app_client, bearer
from tests.support.servers import free_port
from tests.support.smtp import Smarthost, mail, send, smarthost
from tests.support.tickets import add_groups, ticket_events

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SUPPORT = "support@example.com"
LI = "Li Lei <li.lei@customer.test>"


@pytest.fixture
def relay() -> Iterator[Smarthost]:
    with smarthost() as host:
        yield host


@pytest.fixture
def client(tmp_path, relay) -> Iterator[TestClient]:
    """Groups support (amy) and billing (bob); mail for billing@ goes to billing."""
    listen = free_port()
    with app_client(
        tmp_path,
        [("sup", "supervisor"), ("amy", "agent"), ("bob", "agent")],
        FixedClock(START),
        smtp_host="127.0.0.1",
        smtp_port=relay.port,
        smtp_starttls=False,
        smtp_from=f"Example Support <{SUPPORT}>",
        smtp_listen=f"127.0.0.1:{listen}",
        mail_domains="example.com",
        mail_groups="billing@example.com=billing",
        mail_max_bytes=50_000,
        public_url="https://help.example.com",
    ) as c:
        add_groups(c, {"support": ["amy"], "billing": ["bob"]})
        c.smtp_port = listen  # type: ignore[attr-defined]
        yield c


def _tickets(client: TestClient) -> list[dict[str, Any]]:
    return client.get("/api/tickets", headers=bearer(client, "sup")).json()["items"]


def _history(client: TestClient, ticket_id: int) -> list[dict[str, Any]]:
    r = client.get(f"/api/tickets/{ticket_id}/history", headers=bearer(client, "sup"))
    return r.json()["items"]


def _comments(client: TestClient, ticket_id: int) -> list[dict[str, Any]]:
    return [i for i in _history(client, ticket_id) if i["kind"] == "comment"]


def _first_mail(client: TestClient) -> dict[str, Any]:
    """Li's first mail, as a ticket."""
    first = mail(LI, SUPPORT, "Router keeps rebooting", "It reboots every hour.",
                 Message_ID="<first@customer.test>")  # fmt: skip
    send(client.smtp_port, first)  # type: ignore[attr-defined]
    (ticket,) = _tickets(client)
    return ticket


def _reply(client: TestClient, ticket_id: int, body: str, *, public: bool, who: str = "amy") -> int:
    r = client.post(f"/api/tickets/{ticket_id}/comments", json={"body": body, "public": public},
                    headers=bearer(client, who))  # fmt: skip
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_a_new_mail_becomes_a_ticket_of_a_new_customer(client):
    ticket = _first_mail(client)
    assert ticket["subject"] == "Router keeps rebooting"
    assert ticket["description"] == "It reboots every hour."
    assert ticket["source"] == "email" and ticket["status"] == "new"
    assert ticket["group_id"] == client.groups["support"]
    customer = client.get(f"/api/customers/{ticket['requester_id']}",
                          headers=bearer(client, "sup")).json()  # fmt: skip
    assert customer["name"] == "Li Lei"
    assert [(i["kind"], i["value"]) for i in customer["identities"]] == [
        ("email", "li.lei@customer.test")
    ]
    # A second mail of theirs, to billing@: the same customer, billing's ticket.
    html = "<p>Where is my <b>invoice</b>?</p><style>p{}</style>"
    send(client.smtp_port, mail("LI.LEI@customer.test", "billing@example.com", "Invoice", "",
                                html=html))  # fmt: skip
    second = _tickets(client)[0]
    assert second["requester_id"] == ticket["requester_id"]
    assert second["group_id"] == client.groups["billing"]
    assert second["description"] == "Where is my invoice?"  # HTML reduced to text


def test_a_public_reply_is_mailed_threaded_and_an_internal_note_never(client, relay):
    ticket = _first_mail(client)
    _reply(client, ticket["id"], "NOTE: customer sounds annoyed", public=False)
    comment = _reply(client, ticket["id"], "Please try a factory reset.", public=True)
    (sent,) = relay.wait(1)
    assert relay.received[0][0] == ["li.lei@customer.test"]
    assert sent["To"] == "li.lei@customer.test"
    assert sent["From"] == f"Example Support <{SUPPORT}>"
    assert sent["Subject"] == f"[#{ticket['id']}] Router keeps rebooting"
    assert sent["In-Reply-To"] == "<first@customer.test>"
    assert sent["References"] == "<first@customer.test>"
    assert sent["Message-ID"].startswith(f"<t{ticket['id']}.c{comment}.")
    assert sent["Auto-Submitted"] == "auto-generated"
    reply_to = str(sent["Reply-To"])
    assert reply_to.startswith(f"support+t{ticket['id']}-") and reply_to.endswith("@example.com")
    text = sent.get_content()
    assert "Please try a factory reset." in text and "NOTE" not in text
    assert "https://help.example.com/portal.html#token=pl." in text
    mails = client.get(f"/api/tickets/{ticket['id']}/mails", headers=bearer(client, "amy")).json()
    assert [(m["direction"], m["status"], m["comment_id"]) for m in mails["items"]] == [
        ("in", "ticket", None), ("out", "sent", comment)
    ]  # fmt: skip
    assert client.get(f"/api/tickets/{ticket['id']}/mails",
                      headers=bearer(client, "bob")).status_code == 404  # fmt: skip
    # Another public reply threads on both earlier mails.
    _reply(client, ticket["id"], "Did it help?", public=True)
    second = relay.wait(2)[1]
    assert second["References"] == f"<first@customer.test> {sent['Message-ID']}"
    assert second["In-Reply-To"] == sent["Message-ID"]
    assert len(relay.received) == 2  # the note was never mailed


def test_a_reply_by_thread_headers_is_the_customers_comment_and_reopens(client, relay):
    ticket = _first_mail(client)
    _reply(client, ticket["id"], "Please try a factory reset.", public=True)
    (sent,) = relay.wait(1)
    r = client.patch(f"/api/tickets/{ticket['id']}", json={"status": "solved"},
                     headers=bearer(client, "amy"))  # fmt: skip
    assert r.status_code == 200
    events = ticket_events(client)
    quoted = (f"It still reboots.\n\nOn Mon, 30 Nov 2026, Support wrote:\n> {sent.get_content()}"
              .replace("\n##", "\n> ##"))  # fmt: skip
    references = f"<first@customer.test> {sent['Message-ID']}"
    send(client.smtp_port, mail(LI, SUPPORT, f"Re: {sent['Subject']}", quoted,
                                In_Reply_To=sent["Message-ID"], References=references))  # fmt: skip
    assert len(_tickets(client)) == 1
    last = _comments(client, ticket["id"])[-1]
    assert last["body"] == "It still reboots."
    assert last["by"] == "customer" and last["public"] and last["author"]["id"] is None
    assert last["author"]["name"] == "Li Lei"
    assert client.get(f"/api/tickets/{ticket['id']}", headers=bearer(client, "amy")).json()[
        "status"] == "open"  # fmt: skip
    got = {(e.type, e.data.get("by"), e.data.get("via")) for e in events()}
    assert ("ticket.commented", "customer", "email") in got
    assert ("ticket.customer_replied", None, "email") in got
    assert ("ticket.updated", None, None) in got
    # The customer's own comment is not mailed back to them.
    client.portal.call(client.app.state.services.mail.replies.join)
    assert len(relay.received) == 1


def test_a_reply_to_the_signed_address_threads_and_a_tampered_one_does_not(client, relay):
    ticket = _first_mail(client)
    _reply(client, ticket["id"], "Which model is it?", public=True)
    address = str(relay.wait(1)[0]["Reply-To"])
    send(client.smtp_port, mail(LI, address, "model", "AX3000"))  # no thread headers
    assert [c["body"] for c in _comments(client, ticket["id"])][-1] == "AX3000"
    tampered = address.replace(f"+t{ticket['id']}-", f"+t{ticket['id'] + 1}-")
    send(client.smtp_port, mail(LI, tampered, "forged", "not a reply"))
    local, _, domain = address.partition("@")
    send(client.smtp_port, mail(LI, f"{local[:-1]}{'a' if local[-1] != 'a' else 'b'}@{domain}",
                                "forged too", "neither"))  # fmt: skip
    subjects = [t["subject"] for t in _tickets(client)]
    assert subjects == ["forged too", "forged", "Router keeps rebooting"]  # new tickets
    assert [c["body"] for c in _comments(client, ticket["id"])][-1] == "AX3000"


def test_someone_else_replying_to_the_thread_starts_their_own_ticket(client, relay):
    ticket = _first_mail(client)
    _reply(client, ticket["id"], "Please try a factory reset.", public=True)
    (sent,) = relay.wait(1)
    send(client.smtp_port, mail("Mallory <m@evil.test>", str(sent["Reply-To"]), "Re: x", "hi",
                                In_Reply_To=sent["Message-ID"]))  # fmt: skip
    tickets = _tickets(client)
    assert len(tickets) == 2 and tickets[0]["requester_id"] != ticket["requester_id"]
    assert all(c["body"] != "hi" for c in _comments(client, ticket["id"]))


def test_a_redelivered_message_is_taken_once_and_loops_are_ignored(client):
    first = mail(LI, SUPPORT, "Router", "reboots", Message_ID="<same@customer.test>")
    send(client.smtp_port, first)
    send(client.smtp_port, first)
    auto = mail(LI, SUPPORT, "Out of office", "away", Auto_Submitted="auto-replied")
    send(client.smtp_port, auto)
    for robot in (SUPPORT, "support+t1-abcdefghijklmnop@example.com", "MAILER-DAEMON@mx.test"):
        send(client.smtp_port, mail(robot, SUPPORT, "echo", "ours"))
    # A colleague at our own domain is a customer like any other.
    send(client.smtp_port, mail("Wu <wu@example.com>", SUPPORT, "Laptop", "broken"))
    assert [t["subject"] for t in _tickets(client)] == ["Laptop", "Router"]


def test_the_receiver_refuses_other_domains_big_mails_and_no_sender(client):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(client.smtp_port, mail(LI, "someone@elsewhere.test", "relay?", "x"))
    assert refused.value.recipients["someone@elsewhere.test"][0] == 550
    # Refused at MAIL FROM (the SIZE the client declared, RFC 1870), before the data.
    with pytest.raises(smtplib.SMTPSenderRefused) as big:
        send(client.smtp_port, mail(LI, SUPPORT, "big", "x" * 80_000))
    assert big.value.smtp_code == 552
    with pytest.raises(smtplib.SMTPDataError) as nobody:
        send(client.smtp_port, mail("not an address", SUPPORT, "who?", "x"), to=[SUPPORT])
    assert nobody.value.smtp_code == 550
    assert _tickets(client) == []


def test_mail_for_a_group_that_does_not_exist_waits_at_the_sender(tmp_path, relay):
    listen = free_port()
    with app_client(tmp_path, [("sup", "supervisor")], smtp_listen=f"127.0.0.1:{listen}",
                    mail_domains="example.com") as client:  # fmt: skip
        with pytest.raises(smtplib.SMTPDataError) as deferred:
            send(listen, mail(LI, SUPPORT, "hello", "x", Message_ID="<wait@customer.test>"))
        assert deferred.value.smtp_code == 451
        client.post("/api/ticket-groups", json={"name": "support"}, headers=bearer(client, "sup"))
        send(listen, mail(LI, SUPPORT, "hello", "x", Message_ID="<wait@customer.test>"))
        assert [t["subject"] for t in _tickets(client)] == ["hello"]


def test_a_reply_the_smarthost_refuses_is_retried_then_shown_failed(client, relay):
    services = client.app.state.services
    services.mail.mailer.retry = Retry(attempts=3, backoff=Backoff(initial=0.01, max=0.02))
    ticket = _first_mail(client)
    relay.answers = ["451 4.3.0 busy", "451 4.3.0 busy"]
    _reply(client, ticket["id"], "first", public=True)
    relay.wait(1)  # the third attempt got through
    relay.answers = ["451 4.3.0 busy"] * 3
    events = ticket_events(client)
    comment = _reply(client, ticket["id"], "second", public=True)
    client.portal.call(services.mail.replies.join)
    mails = client.get(f"/api/tickets/{ticket['id']}/mails", headers=bearer(client, "amy")).json()
    out = [
        (m["status"], m["attempts"], m["error"]) for m in mails["items"] if m["direction"] == "out"
    ]
    assert out == [("sent", 3, ""), ("failed", 3, "451 4.3.0 busy")]
    failed = [e for e in events() if e.type == "ticket.mail_failed"]
    assert [e.data["comment_id"] for e in failed] == [comment]
    relay.answers = ["550 5.1.1 no such user"]
    _reply(client, ticket["id"], "third", public=True)
    client.portal.call(services.mail.replies.join)
    mails = client.get(f"/api/tickets/{ticket['id']}/mails", headers=bearer(client, "amy")).json()
    assert mails["items"][-1]["status"] == "failed" and mails["items"][-1]["attempts"] == 1
