"""External messaging channels over the real app, with real local HTTP servers standing
in for the remote ends: the generic signed webhook and a WeChat official account
(docs/messaging.md)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from fastapi.testclient import TestClient

from callcenter.messaging.signatures import wechat_signature
from tests.support.app import app_client, bearer
from tests.support.chat import chat_agent, routing_file
from tests.support.receiver import Receiver, http_receiver

USERS = [("boss", "admin"), ("amy", "agent")]
HOOK_SECRET = "hook-secret-for-tests"
WX_TOKEN = "wx-token"


def sign(body: bytes, secret: str = HOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def wait_for(check: Callable[[], Any], seconds: float = 5.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


@pytest.fixture
def answers() -> list[int]:
    """Statuses the webhook receiver answers in turn (then 200)."""
    return []


@pytest.fixture
def receiver(answers: list[int]) -> Iterator[Receiver]:
    async def handle(request: web.Request, body: bytes) -> web.StreamResponse:
        return web.Response(status=answers.pop(0) if answers else 200)

    with http_receiver(handle) as r:
        yield r


class FakeWeChat:
    """The WeChat API: tokens (one valid at a time), customer-service sends."""

    def __init__(self) -> None:
        self.tokens = 0
        self.valid = ""
        self.sent: list[dict[str, Any]] = []
        self.fail_next_send = 0

    async def handle(self, request: web.Request, body: bytes) -> web.StreamResponse:
        if request.path == "/cgi-bin/token":
            assert request.query["appid"] == "wx-app" and request.query["secret"] == "wx-secret"
            self.tokens += 1
            self.valid = f"token-{self.tokens}"
            return web.json_response({"access_token": self.valid, "expires_in": 7200})
        assert request.path == "/cgi-bin/message/custom/send"
        if self.fail_next_send:
            self.fail_next_send -= 1
            return web.Response(status=500)
        if request.query.get("access_token") != self.valid:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        self.sent.append(json.loads(body))
        return web.json_response({"errcode": 0, "errmsg": "ok"})


@pytest.fixture
def wx() -> Iterator[tuple[FakeWeChat, Receiver]]:
    fake = FakeWeChat()
    with http_receiver(fake.handle) as r:
        yield fake, r


@pytest.fixture
def client(tmp_path, receiver, wx) -> Iterator[TestClient]:
    channels = [
        {"kind": "webhook", "name": "sms", "secret": HOOK_SECRET, "url": receiver.url + "/out"},
        {"kind": "wechat", "name": "gzh", "token": WX_TOKEN, "app_id": "wx-app",
         "app_secret": "wx-secret", "api_base": wx[1].url, "welcome": "欢迎关注"},
    ]  # fmt: skip
    # Straight to agents: these tests are about the channels, the bot's turn in a chat is
    # tests/api/test_chat_bot_api.py's (its replies go out like an agent's: not the visitor's).
    with app_client(tmp_path, USERS, routing_file=routing_file(tmp_path),
                    messaging_channels=json.dumps(channels), messaging_retry_initial=0.05,
                    messaging_max_attempts=3, chat_bot=False) as c:  # fmt: skip
        yield c


def inbound(client: TestClient, body: dict[str, Any], signature: str | None = None) -> Any:
    raw = json.dumps(body).encode()
    return client.post("/api/messaging/sms/inbound", content=raw,
                       headers={"X-Signature": signature or sign(raw),
                                "Content-Type": "application/json"})  # fmt: skip


def message(text: str, message_id: str, **extra: Any) -> dict[str, Any]:
    return {"user_id": "+8613800000000", "name": "Wang", "text": text,
            "message_id": message_id, "timestamp": int(time.time()), **extra}  # fmt: skip


def test_webhook_inbound_becomes_a_chat_and_the_answer_goes_out_signed(client, receiver):
    amy = chat_agent(client, "boss", "amy")
    assert inbound(client, message("hi", "m1"), "sha256=" + "0" * 64).status_code == 403
    wrong_key = json.dumps(message("hi", "m1")).encode()
    assert inbound(client, message("hi", "m1"), sign(wrong_key, "other")).status_code == 403
    stale = message("hi", "m1", timestamp=int(time.time()) - 3600)
    assert inbound(client, stale).status_code == 403
    assert client.get("/api/chats", headers=amy).json()["items"] == []  # nothing stored
    r = inbound(client, message("where is my order?", "m1"))
    assert r.status_code == 200 and r.json()["status"] == "stored", r.text
    conv = r.json()["conversation_id"]
    assert inbound(client, message("where is my order?", "m1")).json() == {"status": "duplicate"}
    bad = inbound(client, {**message("", "m2")})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "text"]
    r = client.post(f"/api/chats/{conv}/accept", headers=amy)
    assert r.status_code == 200, r.text
    assert [m["body"] for m in r.json()["messages"]] == ["where is my order?", "joined"]
    assert r.json()["visitor"]["site"] == "channel:webhook:sms"
    assert r.json()["visitor"]["external_id"] == "+8613800000000"
    r = client.post(f"/api/chats/{conv}/messages", json={"body": "on its way"}, headers=amy)
    assert r.status_code == 201
    client.post(f"/api/chats/{conv}/messages", json={"body": "VIP", "kind": "note"}, headers=amy)
    got = wait_for(lambda: receiver.requests)
    sent = got[0]
    assert sent.path == "/out" and sent.headers["X-Signature"] == sign(sent.body)
    body = json.loads(sent.body)
    assert (body["user_id"], body["text"], body["conversation_id"], body["seq"]) == (
        "+8613800000000", "on its way", conv, 3)  # fmt: skip
    # A second message of the same user joins the open conversation.
    r = inbound(client, message("thanks", "m3"))
    assert r.json()["conversation_id"] == conv and r.json()["seq"] == 5  # 4 is the note
    time.sleep(0.2)
    assert len(receiver.requests) == 1  # the note and the "joined" line never went out


def test_webhook_delivery_is_retried_on_500_and_a_refusal_is_listed(client, receiver, answers):
    amy = chat_agent(client, "boss", "amy")
    conv = inbound(client, message("hello", "r1")).json()["conversation_id"]
    client.post(f"/api/chats/{conv}/accept", headers=amy)
    answers.extend([500, 500])
    client.post(f"/api/chats/{conv}/messages", json={"body": "first"}, headers=amy)
    wait_for(lambda: len(receiver.requests) == 3)
    assert [json.loads(r.body)["text"] for r in receiver.requests] == ["first"] * 3
    answers.append(400)  # the receiver says no: not retried, listed for admins
    client.post(f"/api/chats/{conv}/messages", json={"body": "second"}, headers=amy)
    status = wait_for(lambda: (s := client.get("/api/messaging/channels",
                                               headers=bearer(client, "boss")).json())
                      ["failures"] and s)  # fmt: skip
    assert status["failures"][0]["error"] == "HTTP 400" and status["failures"][0]["attempts"] == 1
    assert status["delivered"] == 1
    assert all("secret" not in c for c in status["channels"])
    assert client.get("/api/messaging/channels", headers=amy).status_code == 403


def wx_query(timestamp: int | None = None, token: str = WX_TOKEN) -> dict[str, str]:
    ts, nonce = str(timestamp or int(time.time())), "n0nce"
    return {"signature": wechat_signature(token, ts, nonce), "timestamp": ts, "nonce": nonce}


def pushed(msg_type: str, content: str = "", msg_id: str = "", event: str = "") -> str:
    parts = ["<ToUserName><![CDATA[gh_account]]></ToUserName>",
             "<FromUserName><![CDATA[o-openid-1]]></FromUserName>",
             f"<CreateTime>{int(time.time())}</CreateTime>",
             f"<MsgType><![CDATA[{msg_type}]]></MsgType>"]  # fmt: skip
    if content:
        parts.append(f"<Content><![CDATA[{content}]]></Content>")
    if msg_id:
        parts.append(f"<MsgId>{msg_id}</MsgId>")
    if event:
        parts.append(f"<Event><![CDATA[{event}]]></Event>")
    return "<xml>" + "".join(parts) + "</xml>"


def test_wechat_verification_and_signature_check(client):
    r = client.get("/api/wechat/gzh", params={**wx_query(), "echostr": "echo-123"})
    assert r.status_code == 200 and r.text == "echo-123"
    r = client.get("/api/wechat/gzh", params={**wx_query(token="wrong"), "echostr": "x"})
    assert r.status_code == 403
    old = wx_query(int(time.time()) - 3600)
    assert client.get("/api/wechat/gzh", params={**old, "echostr": "x"}).status_code == 403
    assert client.get("/api/wechat/nope", params={**wx_query(), "echostr": "x"}).status_code == 404
    r = client.post("/api/wechat/gzh", params=wx_query(token="wrong"),
                    content=pushed("text", "hi", "1"))  # fmt: skip
    assert r.status_code == 403
    amy = chat_agent(client, "boss", "amy")
    assert client.get("/api/chats", headers=amy).json()["items"] == []


def test_wechat_messages_become_a_chat_and_answers_go_through_the_api(client, wx):
    fake, _ = wx
    amy = chat_agent(client, "boss", "amy")
    r = client.post(
        "/api/wechat/gzh", params=wx_query(), content=pushed("event", event="subscribe")
    )
    assert (
        r.status_code == 200
        and "欢迎关注" in r.text
        and "<ToUserName><![CDATA[o-openid-1]" in r.text
    )
    r = client.post("/api/wechat/gzh", params=wx_query(), content=pushed("image", msg_id="9"))
    assert "<MsgType><![CDATA[text]]></MsgType>" in r.text and "只能接收文字" in r.text
    for _ in range(2):  # WeChat pushes again when slow: the same MsgId is taken once
        r = client.post("/api/wechat/gzh", params=wx_query(),
                        content=pushed("text", "我的快递到哪了？", "1001"))  # fmt: skip
        assert r.status_code == 200 and r.text == "success"
    items = client.get("/api/chats", headers=amy).json()["items"]
    assert len(items) == 1
    conv = items[0]["id"]
    r = client.post(f"/api/chats/{conv}/accept", headers=amy)
    assert [m["body"] for m in r.json()["messages"]] == ["我的快递到哪了？", "joined"]
    assert r.json()["visitor"]["site"] == "channel:wechat:gzh"
    client.post(f"/api/chats/{conv}/messages", json={"body": "今天发货"}, headers=amy)
    client.post(f"/api/chats/{conv}/messages", json={"body": "还有别的吗？"}, headers=amy)
    wait_for(lambda: len(fake.sent) == 2)
    assert fake.sent == [
        {"touser": "o-openid-1", "msgtype": "text", "text": {"content": "今天发货"}},
        {"touser": "o-openid-1", "msgtype": "text", "text": {"content": "还有别的吗？"}},
    ]
    assert fake.tokens == 1  # cached between sends
    fake.valid = "revoked"  # the token stops working (expired early, or reset)
    fake.fail_next_send = 1  # and the API fails once: retried
    client.post(f"/api/chats/{conv}/messages", json={"body": "再见"}, headers=amy)
    wait_for(lambda: len(fake.sent) == 3)
    assert fake.sent[-1]["text"] == {"content": "再见"}
    assert fake.tokens == 2
