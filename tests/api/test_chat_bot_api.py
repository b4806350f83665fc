"""Web chat with the bot first, on the real app with the labelled KB imported: the bot's
turns are stored as its messages, a hand-off queues and routes the chat, a chat becomes
one ticket with its transcript, and chat messages raise sensitive-word alerts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.app import app_client, bearer
from tests.support.chat import chat_agent, events_until, hello, receive_until, routing_file
from tests.support.kb import ENTRIES_FILE
from tests.support.tickets import add_groups

USERS = [("boss", "admin"), ("sup", "supervisor"), ("amy", "agent"), ("bob", "agent")]


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("chatbot")
    with app_client(tmp, USERS, routing_file=routing_file(tmp)) as c:
        r = c.post("/api/kb/import", files={"file": ("kb.md", ENTRIES_FILE.read_bytes())},
                   headers=bearer(c, "boss"))  # fmt: skip
        assert r.status_code == 200, r.text
        add_groups(c, {"support": ["amy", "bob"]})
        yield c


def say(ws: Any, text: str, client_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The visitor's message, acked; and the bot's reply to it."""
    ws.send_json({"type": "message", "body": text, "client_id": client_id})
    ack = receive_until(ws, "ack")
    reply = receive_until(ws, "msg")
    assert reply["sender"] == "bot" and reply["seq"] == ack["seq"] + 1, reply
    return ack, reply


def test_the_bot_answers_then_hands_over_and_the_agent_sees_it_all(client):
    amy = chat_agent(client, "boss", "amy")
    sup = bearer(client, "sup")
    token = amy["Authorization"][7:]
    with client.websocket_connect(f"/ws/events?token={token}") as events:
        events.receive_json()  # hello
        with client.websocket_connect("/ws/chat") as ws:
            ws.send_json(hello())
            welcome = ws.receive_json()
            assert welcome["bot"] is True
            ack, reply = say(ws, "forgot my pasword cant log in", "c1")
            conv = ack["conversation_id"]
            assert reply["meta"]["kind"] == "answer" and reply["meta"]["entry_id"]
            assert "Forgot password" in reply["body"]
            # The bot's chat is nobody's yet: not offered, not an agent's to read.
            chat = client.get(f"/api/chats/{conv}", headers=sup).json()
            assert (chat["state"], chat["last_seq"]) == ("bot", 2)
            assert client.get(f"/api/chats/{conv}", headers=amy).status_code == 404

            _, handoff = say(ws, "转人工", "c2")
            assert handoff["meta"]["kind"] == "handoff"
            assert handoff["meta"]["handoff_reason"] == "asked_for_human"
            assert receive_until(ws, "state")["state"] == "queued"
            offered = events_until(events, "chat.offered")
            assert offered["data"]["conversation_id"] == conv
            r = client.post(f"/api/chats/{conv}/accept", headers=amy)
            assert r.status_code == 200, r.text
            got = [(m["sender"], m["seq"]) for m in r.json()["messages"]]
            assert got == [("visitor", 1), ("bot", 2), ("visitor", 3), ("bot", 4),
                           ("system", 5)]  # fmt: skip
            assert r.json()["handoff_reason"] == "asked_for_human"
            # The agent has it now: the bot says no more.
            ws.send_json({"type": "message", "body": "hello?", "client_id": "c3"})
            assert receive_until(ws, "ack")["seq"] == 6
            r = client.post(f"/api/chats/{conv}/messages", json={"body": "I'm Amy, hi"},
                            headers=amy)  # fmt: skip
            assert r.status_code == 201
            frame = receive_until(ws, "msg")
            assert (frame["sender"], frame["seq"]) == ("agent", 7)

            # One click: a ticket with the transcript; twice: the same ticket.
            r = client.post(f"/api/chats/{conv}/ticket", json={}, headers=amy)
            assert r.status_code == 201, r.text
            ticket = r.json()
            assert ticket["subject"] == "forgot my pasword cant log in"
            assert ticket["source"] == "chat" and ticket["group_id"] == client.groups["support"]
            text = ticket["description"]
            for said in ("forgot my pasword cant log in", "Bot: On the sign-in page",
                         "转人工", "— amy joined —", "amy: I'm Amy, hi"):  # fmt: skip
                assert said in text, (said, text)
            again = client.post(f"/api/chats/{conv}/ticket", json={}, headers=amy)
            assert again.status_code == 200 and again.json()["id"] == ticket["id"]
            chat = client.get(f"/api/chats/{conv}", headers=amy).json()
            assert chat["ticket_id"] == ticket["id"]
            # The requester: a profile made from the visitor, now theirs.
            assert ticket["requester_id"] == chat["customer_id"] is not None
            assert chat["visitor"]["customer_id"] == ticket["requester_id"]
            # Not bob's chat: to him it does not exist.
            bob = bearer(client, "bob")
            assert client.post(f"/api/chats/{conv}/ticket", json={}, headers=bob).status_code == 404
            assert client.post(f"/api/chats/{conv}/end", headers=amy).status_code == 204


def test_a_choice_must_be_one_the_bot_offered(client):
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json(hello())
        ws.receive_json()
        ws.send_json({"type": "choose", "entry_id": 1, "client_id": "x"})
        refused = receive_until(ws, "error")
        assert refused["field"] == "entry_id"  # no chat with the bot yet
        say(ws, "你好", "g1")
        ws.send_json({"type": "choose", "entry_id": 1, "client_id": "x2"})
        assert receive_until(ws, "error")["field"] == "entry_id"  # a greeting offers nothing
        ws.send_json({"type": "end"})


def test_sensitive_words_in_a_chat_alert_and_hand_over(client):
    boss, sup = bearer(client, "boss"), bearer(client, "sup")
    word = {"phrase": "lawyer", "language": "en", "severity": "critical"}
    r = client.post("/api/sensitive-words", headers=boss, json=word)
    assert r.status_code == 201, r.text
    amy = bearer(client, "amy")  # ready since the first test
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json(hello())
        ws.receive_json()
        ack, reply = say(ws, "This is useless, I am calling my lawyer", "s1")
        conv = ack["conversation_id"]
        assert reply["meta"]["handoff_reason"] == "sensitive"
        alerts = client.get("/api/sensitive-alerts", headers=sup).json()
        mine = [a for a in alerts if a["source"] == "chat" and a["source_id"] == str(conv)]
        assert [(a["ref"], a["agent_id"]) for a in mine] == [("1", None)]
        assert client.post(f"/api/chats/{conv}/accept", headers=amy).status_code == 200
        r = client.post(f"/api/chats/{conv}/messages", headers=amy,
                        json={"body": "No need for a lawyer, let me help"})  # fmt: skip
        seq = r.json()["seq"]
        alerts = client.get("/api/sensitive-alerts", headers=sup).json()
        mine = [a for a in alerts if a["source"] == "chat" and a["source_id"] == str(conv)]
        assert sorted((a["ref"], a["agent_id"]) for a in mine) == [
            ("1", None), (str(seq), client.ids["amy"])]  # fmt: skip
        client.post(f"/api/chats/{conv}/end", headers=amy)


def test_an_offline_message_becomes_a_ticket_for_any_agent(client):
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json(hello())
        ws.receive_json()
        ws.send_json({"type": "offline", "name": "Li Lei", "email": "li@example.com",
                      "body": "Please call me back about my bill", "client_id": "o1"})  # fmt: skip
        conv = receive_until(ws, "offline_saved")["conversation_id"]
    bob = bearer(client, "bob")
    r = client.post(f"/api/chats/{conv}/ticket", json={}, headers=bob)
    assert r.status_code == 201, r.text
    assert r.json()["subject"] == "Please call me back about my bill"
    assert "Li Lei: Please call me back about my bill" in r.json()["description"]
    r = client.get(f"/api/customers/{r.json()['requester_id']}", headers=bearer(client, "sup"))
    assert r.status_code == 200 and r.json()["name"] == "Li Lei"
