"""WeChat official accounts (公众号): the pushed XML messages, passive answers, and the
customer-service message API (客服消息) that carries agents' replies later.

Plain-text mode only (消息加解密方式: 明文模式): the pushed XML is not encrypted.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape

import httpx

from callcenter.clock import Clock
from callcenter.messaging.channels import Channel

MAX_XML = 64 * 1024
# errcodes saying the access token is no longer good: fetch a new one and send again.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
BUSY = -1  # "system busy, try again"


class WeChatError(Exception):
    """A refused send: `retry` when trying later may succeed."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class Pushed:
    """One pushed message: from an openid to the account."""

    to_user: str  # the account's original id (gh_...)
    from_user: str  # the follower's openid
    create_time: int
    msg_type: str
    content: str = ""
    msg_id: str = ""
    event: str = ""

    @property
    def dedupe_key(self) -> str:
        """WeChat pushes again when it got no answer within 5 s: MsgId, or for events
        FromUserName + CreateTime, recognise the repeat."""
        return self.msg_id or f"{self.from_user}:{self.create_time}:{self.event}"


def parse(body: bytes) -> Pushed:
    """ValueError for anything that is not a pushed message."""
    if len(body) > MAX_XML:
        raise ValueError("too large")
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise ValueError("no DTDs")  # pushed messages have none: refuse entity tricks
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ValueError(f"not XML: {exc}") from None

    def field(name: str) -> str:
        found = root.find(name)
        return (found.text or "").strip() if found is not None else ""

    if not field("FromUserName") or not field("MsgType"):
        raise ValueError("not a pushed message")
    try:
        created = int(field("CreateTime") or 0)
    except ValueError:
        raise ValueError("CreateTime must be a number") from None
    return Pushed(field("ToUserName"), field("FromUserName"), created, field("MsgType"),
                  content=field("Content"), msg_id=field("MsgId"),
                  event=field("Event").lower())  # fmt: skip


def text_reply(pushed: Pushed, content: str, now: int) -> str:
    """A passive answer (被动回复) to `pushed`, shown to the follower at once."""
    return (
        f"<xml><ToUserName><![CDATA[{pushed.from_user}]]></ToUserName>"
        f"<FromUserName><![CDATA[{pushed.to_user}]]></FromUserName>"
        f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{escape(content)}</Content></xml>"
    )


class WeChatClient:
    """Sends customer-service text messages for one account, with its access token
    cached until shortly before it expires (the token API is rate-limited per day)."""

    def __init__(self, channel: Channel, http: httpx.AsyncClient, clock: Clock) -> None:
        self.channel, self.http, self.clock = channel, http, clock
        self._token = ""
        self._expires = 0.0
        self.token_fetches = 0

    async def token(self, *, fresh: bool = False) -> str:
        now = self.clock.now().timestamp()
        if self._token and not fresh and now < self._expires:
            return self._token
        answer = await self.http.get(
            f"{self.channel.api_base}/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.channel.app_id,
                    "secret": self.channel.secret},
        )  # fmt: skip
        if answer.status_code >= 500:
            raise WeChatError(f"token: HTTP {answer.status_code}", retry=True)
        data = answer.json()
        if not data.get("access_token"):
            code = data.get("errcode")
            raise WeChatError(f"token: errcode {code} {data.get('errmsg', '')}",
                              retry=code == BUSY)  # fmt: skip
        self.token_fetches += 1
        self._token = str(data["access_token"])
        expires_in = float(data.get("expires_in") or 7200)
        # Renewed a little early, so a token never expires between fetch and use.
        self._expires = now + max(expires_in - min(300.0, expires_in / 10), 1.0)
        return self._token

    async def send_text(self, openid: str, text: str) -> None:
        payload = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        for fresh in (False, True):
            token = await self.token(fresh=fresh)
            answer = await self.http.post(
                f"{self.channel.api_base}/cgi-bin/message/custom/send",
                params={"access_token": token}, json=payload,
            )  # fmt: skip
            if answer.status_code >= 500:
                raise WeChatError(f"send: HTTP {answer.status_code}", retry=True)
            if answer.status_code >= 400:
                raise WeChatError(f"send: HTTP {answer.status_code}", retry=False)
            data = answer.json()
            code = int(data.get("errcode") or 0)
            if code == 0:
                return
            if code in TOKEN_ERRORS and not fresh:
                self._token = ""
                continue
            raise WeChatError(f"send: errcode {code} {data.get('errmsg', '')}"[:300],
                              retry=code == BUSY)  # fmt: skip
        raise WeChatError("send: the access token was refused twice", retry=True)
