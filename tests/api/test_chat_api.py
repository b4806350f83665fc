"""Web chat over the real app, the bot off (test_chat_bot_api.py has it on): the
visitor's websocket protocol, resume after a cut socket, signed identities, routing with
capacity, offline messages, CSAT, notes, visibility and files (docs/chat.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.chat.identity import sign
from callcenter.routing.model import Task
from tests.support.app import app_client, bearer
from tests.support.chat import chat_agent, events_until, hello, receive_until, routing_file

SECRET = "shop-secret-for-tests"
USERS = [("boss", "admin"), ("sup", "supervisor"), ("amy", "agent"), ("bob", "agent"),
         ("cat", "agent")]  # fmt: skip


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    with app_client(tmp_path, USERS, routing_file=routing_file(tmp_path),
                    chat_sites=f"shop={SECRET}", chat_bot=False) as c:  # fmt: skip
        yield c


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"][7:]


def start_chat(client: TestClient, text: str = "hello", **fields: Any) -> tuple[Any, dict]:
    """A visitor socket (entered, not exited: the caller closes it) after its first
    message; returns it and the welcome frame."""
    ws = client.websocket_connect("/ws/chat").__enter__()
    ws.send_json(hello(**fields))
    welcome = ws.receive_json()
    assert welcome["type"] == "welcome", welcome
    ws.send_json({"type": "message", "body": text, "client_id": "c1"})
    ack = receive_until(ws, "ack")
    assert ack["seq"] == 1 and ack["client_id"] == "c1"
    return ws, welcome | {"conversation_id": ack["conversation_id"]}


def test_messages_both_ways_and_resume_after_a_cut_socket(client):
    amy = chat_agent(client, "boss", "amy")
    with client.websocket_connect(f"/ws/events?token={token_of(amy)}") as events:
        events.receive_json()  # hello
        ws, welcome = start_chat(client, "where is my parcel?")
        assert welcome["online"] is True and welcome["token"]
        conv = welcome["conversation_id"]
        offered = events_until(events, "chat.offered")
        assert offered["data"]["conversation_id"] == conv
        assert "body" not in offered["data"]  # events carry ids, never text
        r = client.post(f"/api/chats/{conv}/accept", headers=amy)
        assert r.status_code == 200, r.text
        assert [m["body"] for m in r.json()["messages"]] == ["where is my parcel?", "joined"]
        assert receive_until(ws, "msg")["seq"] == 2  # the system's "joined"
        r = client.post(f"/api/chats/{conv}/messages", json={"body": "one moment"}, headers=amy)
        assert r.status_code == 201 and r.json()["seq"] == 3
        frame = receive_until(ws, "msg")
        assert (frame["seq"], frame["body"], frame["sender"], frame["name"]) == (
            3, "one moment", "agent", "amy")  # fmt: skip
        # The socket is cut; meanwhile the agent writes (and notes something).
        ws.__exit__(None, None, None)
        for body in ("found it", "it ships today"):
            client.post(f"/api/chats/{conv}/messages", json={"body": body}, headers=amy)
        client.post(f"/api/chats/{conv}/messages", json={"body": "VIP?", "kind": "note"},
                    headers=amy)  # fmt: skip
        client.post(f"/api/chats/{conv}/messages", json={"body": "anything else?"}, headers=amy)
        with client.websocket_connect("/ws/chat") as again:
            again.send_json(hello(token=welcome["token"], last_seq=3, conversation_id=conv))
            back = again.receive_json()
            assert back["conversation"]["id"] == conv and back["conversation"]["state"] == "active"
            got = [again.receive_json() for _ in range(3)]
            assert [(f["type"], f["seq"], f["body"]) for f in got] == [
                ("msg", 4, "found it"),
                ("msg", 5, "it ships today"),
                ("msg", 7, "anything else?"),
            ]  # fmt: skip   (6 is the note: never sent to the visitor)
            # Then live, without duplicates: a resent message (same client id) is not stored twice.
            again.send_json({"type": "message", "body": "thanks!", "client_id": "c9"})
            assert receive_until(again, "ack")["seq"] == 8
            again.send_json({"type": "message", "body": "thanks!", "client_id": "c9"})
            assert receive_until(again, "ack")["seq"] == 8
            client.post(f"/api/chats/{conv}/messages", json={"body": "bye"}, headers=amy)
            assert (receive_until(again, "msg")["seq"]) == 9
        history = client.get(f"/api/chats/{conv}", headers=amy).json()
        assert [m["seq"] for m in history["messages"]] == list(range(1, 10))
        assert history["visitor"]["last_search"] == "cheap phones"
        assert history["utm"] == {"utm_source": "ads"}
        message_event = events_until(events, "chat.message")
        assert set(message_event["data"]) >= {"conversation_id", "seq", "sender", "kind"}


def test_a_signed_identity_joins_a_customer_profile_and_a_bad_signature_is_refused(client):
    ts = int(time.time())
    good = {"id": "u-42", "name": "Li Lei", "email": "li@example.com", "ts": ts,
            "sig": sign(SECRET, "u-42", "Li Lei", "li@example.com", ts)}  # fmt: skip
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json(hello(site="shop", identity=good))
        welcome = ws.receive_json()
        assert welcome["type"] == "welcome" and welcome["name"] == "Li Lei"
    found = client.get("/api/customers", params={"q": "Li Lei"},
                       headers=bearer(client, "sup")).json()  # fmt: skip
    items = found["items"] if isinstance(found, dict) else found
    profile = next(i for i in items if i["name"] == "Li Lei")
    assert [(i["kind"], i["value"]) for i in profile["identities"]] == [("chat", "shop:u-42")]
    for bad in ({**good, "name": "Han Meimei"}, {**good, "sig": "0" * 64},
                {**good, "ts": ts - 3 * 86400}):  # fmt: skip
        with client.websocket_connect("/ws/chat") as ws:
            ws.send_json(hello(site="shop", identity=bad))
            refused = ws.receive_json()
            assert (refused["type"], refused["code"]) == ("error", "identity_refused")
    with client.websocket_connect("/ws/chat") as ws:  # a site that signs nothing
        ws.send_json(hello(site="elsewhere", identity=good))
        assert ws.receive_json()["code"] == "identity_refused"


def test_capacity_two_gets_two_chats_a_third_waits_and_an_agent_on_a_call_gets_none(client):
    services = client.app.state.services
    amy = chat_agent(client, "boss", "amy", capacity=2)
    bob = chat_agent(client, "boss", "bob", capacity=3, skills={"chat": 1, "voice": 1})
    # Bob takes a call first: a call takes the whole agent.
    task = Task(id="call-1", queue="phones")

    async def on_a_call() -> None:
        await services.routing.submit(task, {})
        assert await services.routing.answered("call-1", client.ids["bob"]) == client.ids["bob"]

    client.portal.call(on_a_call)
    sockets = [start_chat(client, f"chat {n}") for n in range(3)]
    convs = [w["conversation_id"] for _, w in sockets]
    mine = client.get("/api/chats", headers=amy).json()["items"]
    assert sorted(c["id"] for c in mine if c["offered_to"] == client.ids["amy"]) == convs[:2]
    assert client.get("/api/chats", headers=bob).json()["items"] == []
    for conv in convs[:2]:
        assert client.post(f"/api/chats/{conv}/accept", headers=amy).status_code == 200
    assert client.post(f"/api/chats/{convs[2]}/accept", headers=amy).status_code == 409
    # One ends: the waiting one comes to Amy.
    assert client.post(f"/api/chats/{convs[0]}/end", headers=amy).status_code == 204
    listed = {c["id"]: c for c in client.get("/api/chats", headers=amy).json()["items"]}
    assert listed[convs[2]]["offered_to"] == client.ids["amy"]
    for ws, _ in sockets:
        ws.__exit__(None, None, None)


def test_nobody_available_means_an_offline_message_agents_see(client):
    chat_agent(client, "boss", "amy", available=False)
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json(hello())
        assert ws.receive_json()["online"] is False
        ws.send_json({"type": "offline", "name": "Wang", "email": "wang@example.com",
                      "body": "Please call me back", "client_id": "o1"})  # fmt: skip
        saved = receive_until(ws, "offline_saved")
        ws.send_json({"type": "offline", "name": "", "email": "", "body": "x"})
        assert receive_until(ws, "error")["field"] == "email"
    amy = bearer(client, "amy")
    listed = client.get("/api/chats", params={"state": "offline"}, headers=amy).json()["items"]
    assert [(c["id"], c["contact_email"]) for c in listed] == [
        (saved["conversation_id"], "wang@example.com")]  # fmt: skip
    detail = client.get(f"/api/chats/{saved['conversation_id']}", headers=amy).json()
    assert detail["messages"][0]["body"] == "Please call me back"


def test_the_agent_ends_and_the_visitor_rates_once(client):
    amy = chat_agent(client, "boss", "amy")
    ws, welcome = start_chat(client)
    conv = welcome["conversation_id"]
    client.post(f"/api/chats/{conv}/accept", headers=amy)
    client.post(f"/api/chats/{conv}/end", headers=amy)
    state = receive_until(ws, "state")
    while state["state"] != "ended":
        state = receive_until(ws, "state")
    assert state["csat"] is True
    ws.send_json({"type": "csat", "score": 9, "client_id": "r0"})
    assert receive_until(ws, "error")["field"] == "score"
    ws.send_json({"type": "csat", "score": 4, "comment": "quick, thanks", "client_id": "r1"})
    assert receive_until(ws, "csat_saved")["client_id"] == "r1"
    ws.send_json({"type": "csat", "score": 1, "client_id": "r2"})
    assert receive_until(ws, "error")["message"] == "this chat was rated already"
    ws.__exit__(None, None, None)
    got = client.get(f"/api/chats/{conv}", headers=amy).json()
    assert (got["state"], got["csat_score"], got["csat_comment"]) == ("ended", 4, "quick, thanks")
    assert client.post(f"/api/chats/{conv}/end", headers=amy).status_code == 409


def test_notes_stay_with_agents_and_others_cannot_read_the_chat(client):
    amy = chat_agent(client, "boss", "amy")
    cat = chat_agent(client, "boss", "cat", available=False)
    ws, welcome = start_chat(client)
    conv = welcome["conversation_id"]
    client.post(f"/api/chats/{conv}/accept", headers=amy)
    client.post(f"/api/chats/{conv}/messages", json={"body": "angry", "kind": "note"}, headers=amy)
    client.post(f"/api/chats/{conv}/messages", json={"body": "sorry!"}, headers=amy)
    frames = [receive_until(ws, "msg") for _ in range(2)]
    assert [f["body"] for f in frames] == ["joined", "sorry!"]
    # Cat is not in it: 404 everywhere; a supervisor reads it.
    assert client.get(f"/api/chats/{conv}", headers=cat).status_code == 404
    assert client.post(f"/api/chats/{conv}/messages", json={"body": "hi"},
                       headers=cat).status_code == 404  # fmt: skip
    assert client.get("/api/chats", headers=cat).json()["items"] == []
    sup = bearer(client, "sup")
    assert [m["kind"] for m in client.get(f"/api/chats/{conv}", headers=sup).json()["messages"]
            ].count("note") == 1  # fmt: skip
    # Amy brings Cat in (多人接待): now Cat reads and writes, notes included.
    r = client.post(f"/api/chats/{conv}/invite", json={"agent_id": client.ids["cat"]}, headers=amy)
    assert r.status_code == 200 and r.json()["agents"] == [client.ids["amy"], client.ids["cat"]]
    assert client.post(f"/api/chats/{conv}/messages", json={"body": "I'm Cat"},
                       headers=cat).status_code == 201  # fmt: skip
    assert receive_until(ws, "msg")["body"] == "joined"
    assert receive_until(ws, "msg")["name"] == "cat"
    ws.__exit__(None, None, None)


def test_transfer_to_a_colleague(client):
    amy = chat_agent(client, "boss", "amy")
    bob = chat_agent(client, "boss", "bob")
    ws, welcome = start_chat(client)
    conv = welcome["conversation_id"]
    offered_to = client.get(f"/api/chats/{conv}", headers=bearer(client, "sup")).json()
    first, other = (amy, bob) if offered_to["offered_to"] == client.ids["amy"] else (bob, amy)
    other_id = client.ids["bob"] if first is amy else client.ids["amy"]
    client.post(f"/api/chats/{conv}/accept", headers=first)
    r = client.post(f"/api/chats/{conv}/transfer", json={"agent_id": other_id}, headers=first)
    assert r.status_code == 204, r.text
    assert client.get(f"/api/chats/{conv}", headers=first).status_code == 404
    assert client.post(f"/api/chats/{conv}/accept", headers=other).status_code == 200
    r = client.post(f"/api/chats/{conv}/transfer", json={"queue": "phones"}, headers=other)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "queue"]
    ws.__exit__(None, None, None)


def test_files_are_checked_and_reach_the_agent(client):
    amy = chat_agent(client, "boss", "amy")
    ws, welcome = start_chat(client)
    conv, token = welcome["conversation_id"], welcome["token"]
    client.post(f"/api/chats/{conv}/accept", headers=amy)
    up = client.post("/api/chat/files", headers={"X-Chat-Token": token},
                     files={"file": ("order.txt", b"order 1234\n", "text/plain")})  # fmt: skip
    assert up.status_code == 201, up.text
    ws.send_json({"type": "message", "file_id": up.json()["id"], "client_id": "f1"})
    seq = receive_until(ws, "ack")["seq"]
    got = client.get(f"/api/chats/{conv}", headers=amy).json()["messages"]
    sent = next(m for m in got if m["seq"] == seq)
    assert sent["kind"] == "attachment" and sent["file"]["filename"] == "order.txt"
    r = client.get(f"/api/chats/files/{up.json()['id']}", headers=amy)
    assert r.status_code == 200 and r.content == b"order 1234\n"
    assert client.get(f"/api/chats/files/{up.json()['id']}",
                      headers=bearer(client, "cat")).status_code == 404  # fmt: skip
    refused = [
        (client.post("/api/chat/files", headers={"X-Chat-Token": token},
                     files={"file": ("x.exe", b"MZ....", "application/octet-stream")}), 415),
        (client.post("/api/chat/files", headers={"X-Chat-Token": token},
                     files={"file": ("big.txt", b"a" * (6 * 1024 * 1024), "text/plain")}), 413),
        (client.post("/api/chat/files", headers={"X-Chat-Token": "nope"},
                     files={"file": ("order.txt", b"order", "text/plain")}), 401),
    ]  # fmt: skip
    for response, code in refused:
        assert response.status_code == code, response.text
    ws.send_json({"type": "message", "file_id": 999, "client_id": "f2"})
    assert receive_until(ws, "error")["field"] == "file_id"
    ws.__exit__(None, None, None)
    assert not list((client.app.state.services.settings.data_dir / "chat-files" / "tmp").glob("*"))


def test_agents_message_each_other_and_nobody_else_reads_it(client):
    amy, bob, cat = bearer(client, "amy"), bearer(client, "bob"), bearer(client, "cat")
    bob_id, amy_id = client.ids["bob"], client.ids["amy"]
    with client.websocket_connect(f"/ws/events?token={token_of(bob)}") as events:
        events.receive_json()
        r = client.post(f"/api/chats/internal/{bob_id}", json={"body": "can you take #12?"},
                        headers=amy)  # fmt: skip
        assert r.status_code == 201, r.text
        event = events_until(events, "chat.internal")
        assert event["data"]["message_id"] == r.json()["id"] and "body" not in event["data"]
    assert client.get("/api/chats/internal", headers=bob).json()["items"] == [
        {"user_id": amy_id, "last_id": r.json()["id"], "unread": 1}]  # fmt: skip
    thread = client.get(f"/api/chats/internal/{amy_id}", headers=bob).json()["items"]
    assert [(m["sender_id"], m["body"]) for m in thread] == [(amy_id, "can you take #12?")]
    assert client.get("/api/chats/internal", headers=bob).json()["items"][0]["unread"] == 0
    client.post(f"/api/chats/internal/{amy_id}", json={"body": "sure"}, headers=bob)
    assert [m["body"] for m in client.get(f"/api/chats/internal/{bob_id}", headers=amy)
            .json()["items"]] == ["can you take #12?", "sure"]  # fmt: skip
    # Cat is in neither: her threads with them are empty, and nothing is hers.
    assert client.get(f"/api/chats/internal/{amy_id}", headers=cat).json()["items"] == []
    assert client.get("/api/chats/internal", headers=cat).json()["items"] == []
    r = client.post("/api/chats/internal/9999", json={"body": "hi"}, headers=amy)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "recipient_id"]
