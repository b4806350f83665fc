"""External messaging channels: the generic signed webhook, WeChat official accounts'
message push, and the admins' view of channels and failed deliveries (docs/messaging.md).

Thin: the domain is callcenter.messaging. The inbound endpoints take no login: the
channel's signature is the authentication, and a bad one is 403 with nothing stored.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from callcenter.api.deps import ServicesDep, require
from callcenter.auth.permissions import Permission, Principal
from callcenter.chat.service import ChatError
from callcenter.messaging import wechat
from callcenter.messaging.channels import Channel
from callcenter.messaging.service import MessagingService
from callcenter.messaging.signatures import body_signed, wechat_signed

log = logging.getLogger(__name__)
router = APIRouter(tags=["messaging"])

MAX_BODY = 64 * 1024
UNSUPPORTED = "Sorry, only text messages can be read here. 抱歉，目前只能接收文字消息。"

Admin = Annotated[Principal, Depends(require(Permission.SETTINGS_MANAGE))]


async def get_messaging(services: ServicesDep) -> MessagingService:
    assert services.messaging is not None  # built by running_services
    return services.messaging


Messaging = Annotated[MessagingService, Depends(get_messaging)]


def _channel(messaging: MessagingService, name: str, kind: str) -> Channel:
    channel = messaging.channels.get(name)
    if channel is None or channel.kind != kind:
        raise HTTPException(404, "no such channel")
    return channel


def _bad(message: str, field: str) -> HTTPException:
    return HTTPException(422, [{"loc": ["body", field], "msg": message, "type": "value_error"}])


@router.get("/api/messaging/channels")
async def channels(messaging: Messaging, _: Admin) -> dict[str, Any]:
    """The configured channels (no secrets), deliveries so far and the recent failures."""
    return messaging.status()


@router.post("/api/messaging/{name}/inbound")
async def webhook_inbound(name: str, request: Request, messaging: Messaging) -> dict[str, Any]:
    """A signed JSON message from a webhook channel's user; a repeat of a message id
    already taken answers `duplicate` and stores nothing."""
    channel = _channel(messaging, name, "webhook")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, "body too large")
    if not body_signed(channel.secret, body, request.headers.get("x-signature", "")):
        raise HTTPException(403, "bad signature")
    try:
        data = json.loads(body)
    except ValueError:
        raise _bad("not JSON", "body") from None
    if not isinstance(data, dict):
        raise _bad("a JSON object", "body")
    fields: dict[str, str] = {}
    for key, limit in (("user_id", 128), ("message_id", 128), ("text", 4000), ("name", 200)):
        value = data.get(key, "")
        if isinstance(value, int) and not isinstance(value, bool) and key != "text":
            value = str(value)
        if not isinstance(value, str) or (key != "name" and not value.strip()):
            raise _bad(f"{key}: a non-empty string", key)
        if len(value) > limit:
            raise _bad(f"{key}: at most {limit} characters", key)
        fields[key] = value
    timestamp = data.get("timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise _bad("timestamp: Unix seconds", "timestamp")
    if not messaging.fresh(timestamp):
        raise HTTPException(403, "timestamp outside the replay window")
    if not messaging.first_time(channel, fields["message_id"]):
        return {"status": "duplicate"}
    try:
        frame = await messaging.receive(channel, fields["user_id"], fields["name"],
                                        fields["text"])  # fmt: skip
    except ChatError as exc:
        messaging.forget(channel, fields["message_id"])
        raise _bad(exc.message, "text") from None
    except BaseException:
        messaging.forget(channel, fields["message_id"])
        raise
    return {"status": "stored", "conversation_id": frame["conversation_id"], "seq": frame["seq"]}


def _wechat_checked(
    messaging: MessagingService, name: str, signature: str, timestamp: str, nonce: str
) -> Channel:
    channel = _channel(messaging, name, "wechat")
    if not wechat_signed(channel.token, timestamp, nonce, signature):
        raise HTTPException(403, "bad signature")
    try:
        fresh = messaging.fresh(int(timestamp))
    except ValueError:
        fresh = False
    if not fresh:
        raise HTTPException(403, "timestamp outside the replay window")
    return channel


@router.get("/api/wechat/{name}")
async def wechat_verify(
    name: str,
    messaging: Messaging,
    *,
    signature: Annotated[str, Query(max_length=64)],
    timestamp: Annotated[str, Query(max_length=20)],
    nonce: Annotated[str, Query(max_length=64)],
    echostr: Annotated[str, Query(max_length=200)],
) -> Response:
    """The 公众号 server configuration's check: echo `echostr` when the signature holds."""
    _wechat_checked(messaging, name, signature, timestamp, nonce)
    return Response(echostr, media_type="text/plain")


@router.post("/api/wechat/{name}")
async def wechat_push(
    name: str,
    request: Request,
    messaging: Messaging,
    *,
    signature: Annotated[str, Query(max_length=64)],
    timestamp: Annotated[str, Query(max_length=20)],
    nonce: Annotated[str, Query(max_length=64)],
) -> Response:
    """A pushed message. Text becomes the follower's chat message and is answered
    `success` (agents answer later through the customer-service API); a new follower
    gets the channel's welcome; anything else a polite passive answer."""
    channel = _wechat_checked(messaging, name, signature, timestamp, nonce)
    try:
        pushed = wechat.parse(await request.body())
    except ValueError as exc:
        raise HTTPException(400, f"not a pushed message: {exc}") from None
    now = int(messaging.clock.now().timestamp())
    if not messaging.first_time(channel, pushed.dedupe_key):
        return Response("success", media_type="text/plain")
    if pushed.msg_type == "text" and pushed.content.strip():
        try:
            await messaging.receive(channel, pushed.from_user, "", pushed.content)
        except ChatError as exc:
            messaging.forget(channel, pushed.dedupe_key)
            return Response(wechat.text_reply(pushed, exc.message, now), media_type="text/xml")
        except BaseException:
            messaging.forget(channel, pushed.dedupe_key)
            raise
        return Response("success", media_type="text/plain")
    if pushed.msg_type == "event":
        if pushed.event == "subscribe" and channel.welcome:
            return Response(wechat.text_reply(pushed, channel.welcome, now), media_type="text/xml")
        return Response("success", media_type="text/plain")
    return Response(wechat.text_reply(pushed, UNSUPPORTED, now), media_type="text/xml")
