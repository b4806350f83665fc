"""Messages of external channels as chats, and agents' replies out through the channel.

Inbound: a channel's user is a chat visitor of the site `channel:kind:name` whose
external id is the user's id there, so their messages become conversations that are
routed, shown on the agents' chats page and kept in history like any web chat
(ChatService.visitor_send). Outbound: every `chat.message` event of such a conversation
sent by an agent or the bot (not a note, not a system line such as "joined") is queued
and delivered by a worker, retried with capped exponential backoff; failures are logged
and the recent ones are listed for admins (GET /api/messaging/channels).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Connection, insert, select, update

from callcenter.backoff import Backoff
from callcenter.chat import rows as chat_rows
from callcenter.chat.identity import SignedIdentity
from callcenter.chat.rows import CONVERSATIONS, MESSAGES, VISITORS
from callcenter.chat.service import ChatService, VisitorSession, token_hash
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.events import Event, EventBus, Subscription, handle_each
from callcenter.messaging.channels import Channel
from callcenter.messaging.signatures import body_signature
from callcenter.messaging.wechat import WeChatClient, WeChatError
from callcenter.tasks import TaskSupervisor

log = logging.getLogger(__name__)

RECENT_IDS = 20_000  # channel message ids remembered, so a repeated push is stored once
FAILURES_KEPT = 100
OUTBOUND_SENDERS = ("agent", "bot")


@dataclass(frozen=True)
class Policy:
    timeout: float = 10.0  # seconds per request
    max_attempts: int = 6
    retry_initial: float = 2.0  # seconds, doubling
    retry_max: float = 300.0
    max_skew: int = 300  # seconds a signed timestamp may differ from now (replay window)


@dataclass
class Outgoing:
    channel: Channel
    user_id: str
    text: str
    conversation_id: int
    seq: int
    attempts: int = 0


class DeliveryFailed(Exception):
    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class MessagingService:
    def __init__(
        self, channels: dict[str, Channel], chat: ChatService, db: Database, bus: EventBus,
        *, clock: Clock, policy: Policy | None = None,
    ) -> None:  # fmt: skip
        self.channels, self.chat, self.db, self.bus, self.clock = channels, chat, db, bus, clock
        self.policy = policy or Policy()
        self._by_site = {c.site: c for c in channels.values()}
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._sites: dict[int, str] = {}  # conversation -> its site (never changes)
        self.failures: deque[dict[str, Any]] = deque(maxlen=FAILURES_KEPT)
        self.delivered = 0
        self._tasks = TaskSupervisor("messaging", logger=log)
        self._sub: Subscription | None = None
        self._http: httpx.AsyncClient | None = None
        self._wechat: dict[str, WeChatClient] = {}
        self._backoff = Backoff(initial=self.policy.retry_initial, max=self.policy.retry_max)
        self.running = False
        # Replies of one chat go out in order: one delivery at a time per conversation.
        self._order: dict[int, tuple[asyncio.Lock, int]] = {}

    # ---- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        if self.running or not self.channels:
            return
        self.running = True
        self._http = httpx.AsyncClient(timeout=self.policy.timeout, follow_redirects=False)
        self._sub = self.bus.subscribe("chat.message", maxsize=10_000)
        outbound = handle_each(self._sub, self._on_message, log=log, what="messaging: outbound")
        self._tasks.spawn(outbound, name="messaging-out")

    async def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        if self._sub is not None:
            self._sub.close()
        await self._tasks.stop()
        if self._http is not None:
            await self._http.aclose()

    # ---- inbound -------------------------------------------------------------------

    def fresh(self, timestamp: int) -> bool:
        """Within the replay window of now."""
        return abs(self.clock.now().timestamp() - timestamp) <= self.policy.max_skew

    def first_time(self, channel: Channel, message_id: str) -> bool:
        """False for a message id of the channel already taken (a retried push)."""
        key = (channel.name, message_id)
        if key in self._seen:
            return False
        self._seen[key] = None
        while len(self._seen) > RECENT_IDS:
            self._seen.popitem(last=False)
        return True

    def forget(self, channel: Channel, message_id: str) -> None:
        """A message that could not be stored may be pushed again and taken then."""
        self._seen.pop((channel.name, message_id), None)

    async def receive(self, channel: Channel, user_id: str, name: str, text: str) -> dict[str, Any]:
        """Store the user's message as their chat's next (a new conversation, routed to
        an agent, when none is open); ChatError for a bad text."""
        visitor = await self._visitor(channel, user_id, name)
        return await self.chat.visitor_send(visitor, text)

    async def _visitor(self, channel: Channel, user_id: str, name: str) -> VisitorSession:
        """The visitor `channel:kind:name:user_id`, made (with its customer profile,
        identity `chat` = that string) the first time."""
        now = self.clock.now()
        site = channel.site
        identity = SignedIdentity(user_id, name, "", 0, "")

        def store(conn: Connection) -> VisitorSession:
            row = conn.execute(
                select(VISITORS).where(VISITORS.c.site == site, VISITORS.c.external_id == user_id)
            ).first()
            if row is None:
                visitor_id = conn.execute(
                    insert(VISITORS).values(
                        token_hash=token_hash(secrets.token_urlsafe(24)), site=site,
                        external_id=user_id, name=name[:200], email="", first_seen=now,
                        last_seen=now, visits=1, last_referrer="", last_landing="",
                        last_search="", region="",
                    ).returning(VISITORS.c.id)
                ).scalar_one()  # fmt: skip
                customer_id = None
                returning = False
            else:
                visitor_id, customer_id, returning = row.id, row.customer_id, True
                values: dict[str, Any] = {"last_seen": now}
                if name and name != row.name:
                    values["name"] = name[:200]
                conn.execute(update(VISITORS).where(VISITORS.c.id == visitor_id).values(**values))
                name_now = name or row.name
            if customer_id is None:
                customer_id = chat_rows.profile_for(conn, f"{site}:{user_id}", identity, now)
                conn.execute(update(VISITORS).where(VISITORS.c.id == visitor_id)
                             .values(customer_id=customer_id))  # fmt: skip
            return VisitorSession(visitor_id, site, "", customer_id,
                                  name if row is None else name_now, returning)  # fmt: skip

        return await self.db.write(store)

    # ---- outbound ------------------------------------------------------------------

    async def _on_message(self, event: Event) -> None:
        data = event.data
        if data.get("sender") not in OUTBOUND_SENDERS or data.get("kind") == "note":
            return
        conversation_id = int(data["conversation_id"])
        site = self._sites.get(conversation_id)
        if site is None:
            async with self.db.engine.connect() as conn:
                site = (
                    await conn.execute(
                        select(CONVERSATIONS.c.site).where(CONVERSATIONS.c.id == conversation_id)
                    )
                ).scalar()
            if site is None:
                return
            if len(self._sites) > 100_000:
                self._sites.clear()
            self._sites[conversation_id] = site
        channel = self._by_site.get(site)
        if channel is None:
            return
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(MESSAGES.c.body, MESSAGES.c.kind, VISITORS.c.external_id)
                    .join(CONVERSATIONS, CONVERSATIONS.c.id == MESSAGES.c.conversation_id)
                    .join(VISITORS, VISITORS.c.id == CONVERSATIONS.c.visitor_id)
                    .where(MESSAGES.c.conversation_id == conversation_id,
                           MESSAGES.c.seq == int(data["seq"]))
                )
            ).first()  # fmt: skip
        if row is None or not row.external_id:
            return
        text = row.body if row.kind == "text" else f"[{row.kind}] {row.body}".strip()
        out = Outgoing(channel, row.external_id, text, conversation_id, int(data["seq"]))
        self._tasks.spawn(self._deliver(out), name=f"messaging-{conversation_id}-{out.seq}")

    async def _deliver(self, out: Outgoing) -> None:
        lock, pending = self._order.get(out.conversation_id, (asyncio.Lock(), 0))
        self._order[out.conversation_id] = (lock, pending + 1)
        try:
            async with lock:
                await self._attempts(out)
        finally:
            lock, pending = self._order[out.conversation_id]
            if pending <= 1:
                del self._order[out.conversation_id]
            else:
                self._order[out.conversation_id] = (lock, pending - 1)

    async def _attempts(self, out: Outgoing) -> None:
        """Try until delivered, refused for good, or out of attempts; then say so."""
        senders: dict[str, Callable[[Outgoing], Awaitable[None]]] = {
            "webhook": self._send_webhook, "wechat": self._send_wechat,
        }  # fmt: skip
        while True:
            out.attempts += 1
            try:
                await senders[out.channel.kind](out)
            except DeliveryFailed as exc:
                if exc.retry and out.attempts < self.policy.max_attempts:
                    delay = self.delay(out.attempts)
                    log.info("messaging: %s to %s failed (%s), retry in %.1f s",
                             out.seq, out.channel.name, exc, delay)  # fmt: skip
                    await asyncio.sleep(delay)
                    continue
                self._failed(out, str(exc))
                return
            self.delivered += 1
            return

    def delay(self, attempts: int) -> float:
        backoff = self._backoff.clone()
        backoff.attempts = attempts - 1
        return backoff.next_delay()

    def _failed(self, out: Outgoing, error: str) -> None:
        log.warning("messaging: message %s of chat %s to %s:%s gave up after %d attempts: %s",
                    out.seq, out.conversation_id, out.channel.kind, out.channel.name,
                    out.attempts, error)  # fmt: skip
        self.failures.appendleft({
            "channel": out.channel.name, "conversation_id": out.conversation_id,
            "seq": out.seq, "attempts": out.attempts, "error": error[:500],
            "at": self.clock.now().isoformat(),
        })  # fmt: skip

    async def _send_webhook(self, out: Outgoing) -> None:
        assert self._http is not None
        body = json.dumps(
            {"user_id": out.user_id, "text": out.text, "conversation_id": out.conversation_id,
             "seq": out.seq, "timestamp": int(self.clock.now().timestamp())},
            ensure_ascii=False, separators=(",", ":"),
        ).encode()  # fmt: skip
        headers = {"Content-Type": "application/json",
                   "X-Signature": body_signature(out.channel.secret, body)}  # fmt: skip
        try:
            answer = await self._http.post(out.channel.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:300], retry=True) from None
        status = answer.status_code
        if not 200 <= status < 300:
            retry = status >= 500 or status in (408, 429)
            raise DeliveryFailed(f"HTTP {status}", retry=retry)

    async def _send_wechat(self, out: Outgoing) -> None:
        assert self._http is not None
        client = self._wechat.get(out.channel.name)
        if client is None:
            client = self._wechat[out.channel.name] = WeChatClient(
                out.channel, self._http, self.clock
            )
        try:
            await client.send_text(out.user_id, out.text)
        except WeChatError as exc:
            raise DeliveryFailed(str(exc), retry=exc.retry) from None
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:300], retry=True) from None
        except ValueError as exc:  # an answer that is not JSON
            raise DeliveryFailed(f"bad answer: {exc}"[:300], retry=True) from None

    def status(self) -> dict[str, Any]:
        return {"channels": [c.view() for c in self.channels.values()],
                "delivered": self.delivered, "failures": list(self.failures)}  # fmt: skip
