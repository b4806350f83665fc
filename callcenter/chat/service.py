"""Chat conversations: visitors in, messages stored with a gapless seq, routing to agents.

Every write runs on the database writer (`Database.write`) with its checks inside, so a
refused request stores nothing. A stored message is then published twice: to the
visitor's sockets through the hub (with its text), and on the bus for agents (ids only:
their desktops fetch what they may read). A chat is a routing Task on the `chat` channel
of a chat queue: the router offers it to an agent with room (a call takes the whole
agent; chats share it up to the agent's chat capacity), this service shows the offer.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select, update

from callcenter.agents.service import AgentService
from callcenter.agents.state import AgentState
from callcenter.chat import rows as chat_rows
from callcenter.chat.hub import ChatHub, Frame
from callcenter.chat.identity import IdentityRefused, SignedIdentity, verify
from callcenter.chat.rows import CONVERSATIONS, FILES, MESSAGES, USERS, VISITORS
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.events import Event, EventBus
from callcenter.routing.model import Offer, Task
from callcenter.routing.service import RoutingService

if TYPE_CHECKING:
    from callcenter.bot.bot import Bot, BotReply
    from callcenter.sensitive.service import SensitiveService

log = logging.getLogger(__name__)

OPEN = ("bot", "queued", "active")
MAX_BODY = 4000
NEW_VISIT_AFTER = timedelta(minutes=30)  # a visitor back after this counts a new visit
RESUME_ENDED_FOR = timedelta(minutes=10)  # an ended chat is still shown (for the rating)
MEMBERS_CACHED = 50_000  # conversations whose visitor and agents are kept in memory
RECENT_CLIENT_IDS = 20_000  # visitors' message ids remembered, so a resend is not stored twice


class ChatError(Exception):
    """A refused request: `status` 404 (not found / not yours), 409 or 422 (`field`)."""

    status = 400

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ChatNotFound(ChatError):
    status = 404


class ChatConflict(ChatError):
    status = 409


class ChatInvalid(ChatError):
    status = 422


@dataclass(frozen=True)
class Source:
    """Where the visitor is and came from, as the widget saw it."""

    url: str = ""
    referrer: str = ""
    search: str = ""  # search keywords, from the referrer or the page's own search
    utm: Mapping[str, str] = field(default_factory=dict)
    region: str = ""


@dataclass(frozen=True)
class VisitorSession:
    visitor_id: int
    site: str
    token: str  # what the browser keeps; only its hash is stored
    customer_id: int | None
    name: str
    returning: bool


@dataclass(frozen=True)
class Viewer:
    """An agent or supervisor looking at chats: `sees_all` for supervisors."""

    user_id: int
    sees_all: bool = False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ChatService:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        clock: Clock,
        routing: RoutingService,
        agents: AgentService,
        *,
        queue: str = "chat",
        sites: Mapping[str, str] | None = None,
        signature_max_age: int = 86400,
        bot: Bot | None = None,
        sensitive: SensitiveService | None = None,
    ) -> None:
        self.db, self.bus, self.clock = db, bus, clock
        self.routing, self.agents = routing, agents
        self.queue = queue
        self.sites = dict(sites or {})
        self.signature_max_age = signature_max_age
        self.hub = ChatHub()
        self.bot = bot  # with it, new chats start in state `bot` (docs/chat.md)
        self.sensitive = sensitive  # every text message is checked (alerts to supervisors)
        self.ticket_lock = asyncio.Lock()  # chat -> ticket, one at a time (chat/tickets.py)
        self._tasks: dict[int, str] = {}  # conversation -> its routing task now
        self._handoffs: dict[int, int] = {}  # conversation -> transfers so far
        self._names: dict[int, str] = {}  # agents' display names, for the visitor
        # (visitor, the widget's id of a message) -> the stored message: a widget resends
        # what was not acked before its socket was cut, and the first copy may have
        # been stored already.
        self._recent: OrderedDict[tuple[int, str], Frame] = OrderedDict()
        self._members: dict[int, tuple[int, list[int]]] = {}  # conversation -> visitor, agents
        routing.channels["chat"] = self

    # ---- visitors ------------------------------------------------------------------

    async def visit(
        self,
        site: str,
        token: str | None,
        identity: SignedIdentity | None,
        source: Source,
    ) -> VisitorSession:
        """The visitor behind a widget's hello: the token's, the signed identity's, or a
        new anonymous one. IdentityRefused for a bad or expired signature."""
        now = self.clock.now()
        if identity is not None:
            verify(self.sites, site, identity, now.timestamp(), self.signature_max_age)
        new_token = secrets.token_urlsafe(24)

        def store(conn: Connection) -> VisitorSession:
            row = None
            if identity is not None:
                row = conn.execute(
                    select(VISITORS).where(
                        VISITORS.c.site == site, VISITORS.c.external_id == identity.external_id
                    )
                ).first()
            if row is None and token:
                row = conn.execute(
                    select(VISITORS).where(VISITORS.c.token_hash == token_hash(token))
                ).first()
                if row is not None and identity is not None and row.external_id:
                    row = None  # a signed-in user never takes over another's visitor
            source_values = {
                "last_seen": now, "last_referrer": source.referrer[:2000],
                "last_landing": source.url[:2000], "last_search": source.search[:200],
            }  # fmt: skip
            if source.region:
                source_values["region"] = source.region[:8]
            if row is None:
                values = {"token_hash": token_hash(new_token), "site": site[:64],
                          "first_seen": now, "visits": 1, **source_values}  # fmt: skip
                if identity is not None:
                    values |= chat_rows.identity_values(identity)
                visitor_id = conn.execute(
                    insert(VISITORS).values(**values).returning(VISITORS.c.id)
                ).scalar_one()
                issued, returning, customer_id = new_token, False, None
                name = identity.name if identity is not None else ""
            else:
                visitor_id, customer_id, name = row.id, row.customer_id, row.name
                last = chat_rows.aware(row.last_seen, now)
                returning = True
                values = dict(source_values)
                if now - last >= NEW_VISIT_AFTER:
                    values["visits"] = row.visits + 1
                if identity is not None:
                    values |= chat_rows.identity_values(identity)
                    name = identity.name
                # A signed visitor's token is renewed: it is their key to the history.
                issued = token if token and identity is None else new_token
                values["token_hash"] = token_hash(issued)
                conn.execute(update(VISITORS).where(VISITORS.c.id == visitor_id).values(**values))
            if identity is not None and customer_id is None:
                customer_id = chat_rows.profile_for(
                    conn, f"{site}:{identity.external_id}", identity, now
                )
                conn.execute(
                    update(VISITORS).where(VISITORS.c.id == visitor_id)
                    .values(customer_id=customer_id)
                )  # fmt: skip
            return VisitorSession(visitor_id, site, issued, customer_id, name, returning)

        return await self.db.write(store)

    async def current(self, visitor_id: int) -> dict[str, Any] | None:
        """The conversation a reconnecting widget shows: open, or just ended."""
        now = self.clock.now()
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(CONVERSATIONS)
                    .where(CONVERSATIONS.c.visitor_id == visitor_id)
                    .order_by(CONVERSATIONS.c.id.desc())
                    .limit(1)
                )
            ).first()
        if row is None or row.state == "offline":
            return None
        if row.state == "ended" and (
            row.csat_score is not None
            or now - chat_rows.aware(row.ended_at, now) > RESUME_ENDED_FOR
        ):
            return None
        return chat_rows.conversation_view(row)

    def online(self, queue: str | None = None) -> bool:
        """Someone of the queue's pool is logged in and not on a break: else offline."""
        for agent_id in self.routing.router.staffed(queue or self.queue):
            if self.agents.presence(agent_id).state not in (AgentState.OFFLINE, AgentState.BREAK):
                return True
        return False

    async def visitor_send(
        self, visitor: VisitorSession, body: str, *, file_id: int | None = None,
        source: Source | None = None, client_id: str = "", meta: dict[str, Any] | None = None,
    ) -> Frame:  # fmt: skip
        """Store the visitor's message (starting a conversation when none is open: the
        bot's when there is a bot, else queued for an agent); a message resent with the
        same `client_id` is the one already stored. The bot's reply is `bot_reply`."""
        key = (visitor.visitor_id, client_id[:64])
        if client_id and key in self._recent:
            return self._recent[key]
        body = body.strip()
        if file_id is None and not body:
            raise ChatInvalid("a message needs text or a file", "body")
        if len(body) > MAX_BODY:
            raise ChatInvalid(f"at most {MAX_BODY} characters", "body")
        now = self.clock.now()
        src = source or Source()
        first_state = "bot" if self.bot is not None else "queued"

        def store(conn: Connection) -> tuple[Frame, bool]:
            if file_id is not None:
                owner = conn.execute(
                    select(FILES.c.visitor_id).where(FILES.c.id == file_id)
                ).scalar()
                if owner != visitor.visitor_id:
                    raise ChatInvalid("no such file", "file_id")
            row = conn.execute(
                select(CONVERSATIONS.c.id)
                .where(CONVERSATIONS.c.visitor_id == visitor.visitor_id,
                       CONVERSATIONS.c.state.in_(OPEN))
                .order_by(CONVERSATIONS.c.id.desc()).limit(1)
            ).first()  # fmt: skip
            created = row is None
            if row is None:
                conversation_id = chat_rows.new_conversation(
                    conn, visitor, queue=self.queue, state=first_state, now=now, source=src
                )
            else:
                conversation_id = row.id
            kind = "attachment" if file_id is not None else "text"
            message = chat_rows.store_message(
                conn, conversation_id, ("visitor", visitor.visitor_id), (kind, body), now,
                file_id=file_id, meta=meta,
            )  # fmt: skip
            return message, created

        message, created = await self.db.write(store)
        if client_id:
            self._recent[key] = message
            while len(self._recent) > RECENT_CLIENT_IDS:
                self._recent.popitem(last=False)
        await self._delivered(message)
        await self._check_words(message, None)
        if created and first_state == "queued":
            await self._route(message["conversation_id"], visitor)
        return message

    # ---- the bot -------------------------------------------------------------------

    async def visitor_choose(
        self, visitor: VisitorSession, entry_id: int, client_id: str = ""
    ) -> Frame:
        """The visitor clicked a "did you mean" button: stored as their message (the
        question they chose, so the transcript reads right); `bot_reply` answers it."""
        current = await self.current(visitor.visitor_id)
        if current is None or current["state"] != "bot":
            raise ChatConflict("the bot is not in this chat", "entry_id")
        question = await self._offered_question(current["id"], entry_id)
        if question is None:
            raise ChatInvalid("not one of the suggestions offered", "entry_id")
        return await self.visitor_send(visitor, question, client_id=client_id,
                                       meta={"chose": entry_id})  # fmt: skip

    async def bot_reply(self, visitor: VisitorSession, message: Frame) -> None:
        """The bot's turn on the visitor's message, when the chat is the bot's and the
        message is still its latest (a resent message, or one the next has overtaken,
        is not answered twice). A hand-off queues the chat and routes it."""
        if self.bot is None or message["sender"] != "visitor" or message["kind"] != "text":
            return
        conversation_id = message["conversation_id"]
        async with self.db.engine.connect() as conn:
            row = await self._row(conn, conversation_id)
        if row is None or row.state != "bot" or row.last_seq != message["seq"]:
            return
        from callcenter.bot.bot import BotContext

        context = BotContext(conversation_id=str(conversation_id),
                             failed_turns=row.bot_failed_turns, customer_id=row.customer_id,
                             visitor_id=str(row.visitor_id))  # fmt: skip
        chose = (message.get("meta") or {}).get("chose")
        if isinstance(chose, int):
            reply = await self.bot.choose(context, chose)
        else:
            reply = await self.bot.turn(context, message["body"])
        await self._bot_said(conversation_id, visitor, reply)

    async def _bot_said(
        self, conversation_id: int, visitor: VisitorSession, reply: BotReply
    ) -> None:
        now = self.clock.now()
        meta = {k: v for k, v in reply.as_dict().items() if k != "text"}

        def store(conn: Connection) -> Frame | None:
            row = conn.execute(
                select(CONVERSATIONS.c.state).where(CONVERSATIONS.c.id == conversation_id)
            ).first()
            if row is None or row.state != "bot":
                return None  # handed over meanwhile, or ended
            values: dict[str, Any] = {"bot_failed_turns": reply.failed_turns}
            if reply.kind == "handoff":
                values |= {"state": "queued", "handoff_reason": reply.handoff_reason or ""}
            conn.execute(
                update(CONVERSATIONS).where(CONVERSATIONS.c.id == conversation_id).values(**values)
            )
            return chat_rows.store_message(conn, conversation_id, ("bot", None),
                                           ("text", reply.text), now, meta=meta)  # fmt: skip

        message = await self.db.write(store)
        if message is None:
            return
        await self._delivered(message)
        if reply.kind == "handoff":
            self.hub.publish(conversation_id, {"type": "state", "state": "queued",
                                               "online": self.online()})  # fmt: skip
            await self._publish("chat.handoff", conversation_id, [],
                                reason=reply.handoff_reason)  # fmt: skip
            await self._route(conversation_id, visitor)

    async def _offered_question(self, conversation_id: int, entry_id: int) -> str | None:
        """The question of `entry_id` if the bot's last message offered it."""
        async with self.db.engine.connect() as conn:
            meta = (
                await conn.execute(
                    select(MESSAGES.c.meta)
                    .where(MESSAGES.c.conversation_id == conversation_id,
                           MESSAGES.c.sender_kind == "bot")
                    .order_by(MESSAGES.c.seq.desc()).limit(1)
                )
            ).scalar()  # fmt: skip
        for suggestion in (meta or {}).get("suggestions", []):
            if suggestion.get("entry_id") == entry_id:
                return str(suggestion.get("question", ""))[:MAX_BODY] or None
        return None

    async def _check_words(self, message: Frame, agent_id: int | None) -> None:
        """Sensitive words in a text message: alerts stored and sent to supervisors."""
        if self.sensitive is None or message["kind"] != "text" or not message["body"]:
            return
        from callcenter.bot.intent import detect_language

        body = message["body"]
        await self.sensitive.check("chat", str(message["conversation_id"]),
                                   ref=str(message["seq"]), text=body,
                                   language=detect_language(body), agent_id=agent_id)  # fmt: skip

    async def leave_message(
        self, visitor: VisitorSession, name: str, email: str, body: str, source: Source
    ) -> int:
        """Nobody to chat with: the message is kept as an offline conversation."""
        body, name, email = body.strip(), name.strip(), email.strip()
        if not body or len(body) > MAX_BODY:
            raise ChatInvalid(f"a message of 1-{MAX_BODY} characters", "body")
        if email and ("@" not in email or len(email) > 255):
            raise ChatInvalid("not an e-mail address", "email")
        if not email and not name:
            raise ChatInvalid("a name or an e-mail address, so we can answer", "email")
        now = self.clock.now()

        def store(conn: Connection) -> int:
            conversation_id = chat_rows.new_conversation(
                conn, visitor, queue=self.queue, state="offline", now=now, source=source,
                name=name, email=email,
            )  # fmt: skip
            chat_rows.store_message(
                conn, conversation_id, ("visitor", visitor.visitor_id), ("text", body), now
            )
            return conversation_id

        conversation_id = await self.db.write(store)
        await self._publish("chat.offline", conversation_id, [], everyone=True)
        return conversation_id

    async def visitor_end(self, visitor: VisitorSession) -> None:
        current = await self.current(visitor.visitor_id)
        if current is not None and current["state"] in OPEN:
            await self._end(current["id"], "visitor", None)

    async def rate(self, visitor: VisitorSession, score: int, comment: str) -> None:
        """The visitor's satisfaction (1-5, a comment) with their last ended chat, once."""
        if not 1 <= score <= 5:
            raise ChatInvalid("a score from 1 to 5", "score")
        if len(comment) > 2000:
            raise ChatInvalid("at most 2000 characters", "comment")

        def store(conn: Connection) -> int:
            row = conn.execute(
                select(CONVERSATIONS.c.id, CONVERSATIONS.c.state, CONVERSATIONS.c.csat_score)
                .where(CONVERSATIONS.c.visitor_id == visitor.visitor_id,
                       CONVERSATIONS.c.state == "ended")
                .order_by(CONVERSATIONS.c.id.desc()).limit(1)
            ).first()  # fmt: skip
            if row is None:
                raise ChatConflict("no ended chat to rate", "score")
            if row.csat_score is not None:
                raise ChatConflict("this chat was rated already", "score")
            conn.execute(
                update(CONVERSATIONS).where(CONVERSATIONS.c.id == row.id)
                .values(csat_score=score, csat_comment=comment.strip())
            )  # fmt: skip
            return int(row.id)

        conversation_id = await self.db.write(store)
        agents = await self._agents_of(conversation_id)
        await self._publish("chat.rated", conversation_id, agents, score=score)

    async def visitor_typing(self, visitor: VisitorSession, conversation_id: int, on: bool) -> None:
        """Typing is shown, never stored: agents of the chat get an event."""
        agents = await self._agents_of(conversation_id, visitor_id=visitor.visitor_id)
        await self._publish("chat.typing", conversation_id, agents, sender="visitor", on=on)

    async def add_file(self, visitor_id: int, stored: Any) -> dict[str, Any]:
        now = self.clock.now()

        def store(conn: Connection) -> int:
            return int(
                conn.execute(
                    insert(FILES).values(
                        visitor_id=visitor_id, storage_name=stored.storage_name,
                        filename=stored.filename, content_type=stored.content_type,
                        size=stored.size, sha256=stored.sha256, created_at=now,
                    ).returning(FILES.c.id)
                ).scalar_one()
            )  # fmt: skip

        file_id = await self.db.write(store)
        return {"id": file_id, "filename": stored.filename, "size": stored.size,
                "content_type": stored.content_type}  # fmt: skip

    async def visitor_by_token(self, token: str) -> int | None:
        async with self.db.engine.connect() as conn:
            found = await conn.execute(
                select(VISITORS.c.id).where(VISITORS.c.token_hash == token_hash(token))
            )
            return found.scalar()

    async def file_for(
        self, file_id: int, *, visitor_id: int | None = None, viewer: Viewer | None = None
    ) -> dict[str, Any]:
        """A file's row for its uploader, or for an agent who may read a chat it is in."""
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(FILES).where(FILES.c.id == file_id))).first()
            if row is None:
                raise ChatNotFound("no such file")
            if visitor_id is not None and row.visitor_id == visitor_id:
                return dict(row._mapping)
            if viewer is not None:
                used = await conn.execute(
                    select(MESSAGES.c.conversation_id).where(MESSAGES.c.file_id == file_id)
                )
                for (conversation_id,) in used.all():
                    conv = await self._row(conn, conversation_id)
                    if conv is not None and self._sees(viewer, conv):
                        return dict(row._mapping)
        raise ChatNotFound("no such file")

    # ---- reading -------------------------------------------------------------------

    async def messages_after(
        self, conversation_id: int, after: int, *, notes: bool, limit: int = 500
    ) -> list[Frame]:
        """Stored messages with seq > `after`, in order; the visitor's view has no notes."""
        stmt = (
            select(MESSAGES, FILES.c.filename, FILES.c.size, FILES.c.content_type)
            .outerjoin(FILES, FILES.c.id == MESSAGES.c.file_id)
            .where(MESSAGES.c.conversation_id == conversation_id, MESSAGES.c.seq > after)
            .order_by(MESSAGES.c.seq)
            .limit(limit)
        )
        if not notes:
            stmt = stmt.where(MESSAGES.c.kind != "note")
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        frames = [chat_rows.message_frame(row._mapping) for row in rows]
        for frame in frames:
            await self._named(frame)
        return frames

    async def get(self, conversation_id: int, viewer: Viewer, after: int = 0) -> dict[str, Any]:
        """A conversation with its messages (notes included), if the viewer may see it."""
        async with self.db.engine.connect() as conn:
            row = await self._row(conn, conversation_id)
            if row is None or not self._sees(viewer, row):
                raise ChatNotFound("no such chat")
            visitor = (
                await conn.execute(select(VISITORS).where(VISITORS.c.id == row.visitor_id))
            ).first()
        out = chat_rows.conversation_view(row)
        out["visitor"] = chat_rows.visitor_view(visitor._mapping) if visitor is not None else None
        out["messages"] = await self.messages_after(conversation_id, after, notes=True)
        out["offered_to"] = self._offered_to(conversation_id)
        return out

    async def list_for(self, viewer: Viewer, state: str | None = None) -> list[dict[str, Any]]:
        """The viewer's chats (open, offered, recently ended) and offline messages;
        supervisors: everyone's. Newest first, at most 200."""
        stmt = select(CONVERSATIONS).order_by(CONVERSATIONS.c.id.desc()).limit(200)
        if state is not None:
            stmt = stmt.where(CONVERSATIONS.c.state == state)
        else:
            stmt = stmt.where(CONVERSATIONS.c.state.in_((*OPEN, "offline")))
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [chat_rows.conversation_view(r) | {"offered_to": self._offered_to(r.id)}
                for r in rows if self._sees(viewer, r)]  # fmt: skip

    # ---- agents --------------------------------------------------------------------

    async def accept(self, conversation_id: int, agent_id: int) -> dict[str, Any]:
        task_id = self._tasks.get(conversation_id)
        offer = self.routing.router.offer_of(task_id) if task_id else None
        if task_id is None or offer is None or offer.agent_id != agent_id:
            raise ChatConflict("this chat is not offered to you")
        if await self.routing.answered(task_id, agent_id) is None:
            raise ChatConflict("the offer has moved on")
        now = self.clock.now()

        def store(conn: Connection) -> Frame:
            row = conn.execute(
                select(CONVERSATIONS.c.agents).where(CONVERSATIONS.c.id == conversation_id)
            ).one()
            agents = [a for a in row.agents if a != agent_id] + [agent_id]
            conn.execute(
                update(CONVERSATIONS).where(CONVERSATIONS.c.id == conversation_id)
                .values(state="active", agent_id=agent_id, agents=agents, accepted_at=now)
            )  # fmt: skip
            return chat_rows.store_message(
                conn, conversation_id, ("system", agent_id), ("text", "joined"), now
            )

        message = await self.db.write(store)
        self._members.pop(conversation_id, None)
        await self._delivered(message)
        self.hub.publish(conversation_id, {"type": "state", "state": "active"})
        await self._publish("chat.accepted", conversation_id, [agent_id], agent_id=agent_id)
        return await self.get(conversation_id, Viewer(agent_id))

    async def decline(self, conversation_id: int, agent_id: int) -> None:
        task_id = self._tasks.get(conversation_id)
        offer = self.routing.router.offer_of(task_id) if task_id else None
        if task_id is None or offer is None or offer.agent_id != agent_id:
            raise ChatConflict("this chat is not offered to you")
        await self.routing.missed(task_id, declined=True, agent_id=agent_id)

    async def agent_send(self, conversation_id: int, viewer: Viewer, body: str, kind: str) -> Frame:
        """An agent's message to the visitor, or (`note`) to the other agents only."""
        body = body.strip()
        if kind not in ("text", "note"):
            raise ChatInvalid("text or note", "kind")
        if not body or len(body) > MAX_BODY:
            raise ChatInvalid(f"a message of 1-{MAX_BODY} characters", "body")
        now = self.clock.now()

        def store(conn: Connection) -> Frame:
            row = self._member_row(conn, conversation_id, viewer)
            if kind == "text" and row.state != "active":
                raise ChatConflict("the chat is not open")
            return chat_rows.store_message(
                conn, conversation_id, ("agent", viewer.user_id), (kind, body), now
            )

        message = await self.db.write(store)
        await self._delivered(message)
        await self._check_words(message, viewer.user_id)
        return message

    async def agent_typing(self, conversation_id: int, viewer: Viewer, on: bool) -> None:
        async with self.db.engine.connect() as conn:
            row = await self._row(conn, conversation_id)
        if row is None or viewer.user_id not in row.agents or row.state != "active":
            raise ChatNotFound("no such chat")
        name = await self._name(viewer.user_id)
        self.hub.publish(conversation_id, {"type": "typing", "on": on, "name": name})
        others = [a for a in row.agents if a != viewer.user_id]
        await self._publish("chat.typing", conversation_id, others, sender="agent",
                            agent_id=viewer.user_id, on=on)  # fmt: skip

    async def invite(self, conversation_id: int, viewer: Viewer, agent_id: int) -> dict[str, Any]:
        """A second agent joins (多人接待): they see and write in the chat from now on."""
        if agent_id != viewer.user_id:
            try:
                await self.agents.agent(agent_id)
            except LookupError:
                raise ChatInvalid("no such agent", "agent_id") from None
        now = self.clock.now()

        def store(conn: Connection) -> Frame | None:
            row = conn.execute(
                select(CONVERSATIONS).where(CONVERSATIONS.c.id == conversation_id)
            ).first()
            if row is None or not (viewer.sees_all or viewer.user_id in row.agents):
                raise ChatNotFound("no such chat")
            if row.state != "active":
                raise ChatConflict("the chat is not open")
            if agent_id in row.agents:
                return None
            conn.execute(
                update(CONVERSATIONS).where(CONVERSATIONS.c.id == conversation_id)
                .values(agents=[*row.agents, agent_id])
            )  # fmt: skip
            return chat_rows.store_message(
                conn, conversation_id, ("system", agent_id), ("text", "joined"), now
            )

        message = await self.db.write(store)
        self._members.pop(conversation_id, None)
        if message is not None:
            await self._delivered(message)
            await self._publish("chat.invited", conversation_id, [agent_id], agent_id=agent_id)
        return await self.get(conversation_id, Viewer(agent_id))

    async def transfer(
        self, conversation_id: int, viewer: Viewer, *, queue: str | None, agent_id: int | None
    ) -> None:
        """To a chat queue or a named agent: the chat waits for its next agent there."""
        if (queue is None) == (agent_id is None):
            raise ChatInvalid("a queue or an agent", "queue")
        if queue is not None:
            if queue not in self.routing.router.queue_names:
                raise ChatInvalid("no such queue", "queue")
            if self.routing.router.queue(queue).channel != "chat":
                raise ChatInvalid("not a chat queue", "queue")
        now = self.clock.now()

        def store(conn: Connection) -> tuple[Frame, str]:
            row = self._member_row(conn, conversation_id, viewer)
            if row.state != "active" or (row.agent_id != viewer.user_id and not viewer.sees_all):
                raise ChatConflict("only the agent who has the chat can transfer it")
            target = queue or row.queue
            conn.execute(
                update(CONVERSATIONS).where(CONVERSATIONS.c.id == conversation_id)
                .values(state="queued", queue=target, agent_id=None, agents=[])
            )  # fmt: skip
            msg = chat_rows.store_message(conn, conversation_id, ("system", viewer.user_id),
                                 ("text", "transferred"), now)  # fmt: skip
            return msg, target

        previous = (await self._agents_of(conversation_id)) or []
        message, target = await self.db.write(store)
        self._members.pop(conversation_id, None)
        await self._finish_task(conversation_id, now)
        await self._delivered(message, extra_agents=previous)
        self.hub.publish(conversation_id, {"type": "state", "state": "queued"})
        self._handoffs[conversation_id] = self._handoffs.get(conversation_id, 0) + 1
        session = await self._session_of(conversation_id)
        await self._route(conversation_id, session, queue=target, direct=agent_id,
                          last_agent=viewer.user_id)  # fmt: skip
        await self._publish("chat.transferred", conversation_id, previous, queue=target,
                            to_agent_id=agent_id)  # fmt: skip

    async def end(self, conversation_id: int, viewer: Viewer) -> None:
        async with self.db.engine.connect() as conn:
            row = await self._row(conn, conversation_id)
        if row is None or not (viewer.sees_all or viewer.user_id in row.agents):
            raise ChatNotFound("no such chat")
        if row.state not in OPEN:
            raise ChatConflict("the chat has ended already")
        await self._end(conversation_id, "agent", viewer.user_id)

    async def ticket_made(self, conversation_id: int, ticket_id: int) -> None:
        """A ticket was made from the chat (chat/tickets.py): its agents' pages show it."""
        self._members.pop(conversation_id, None)
        agents = await self._agents_of(conversation_id)
        await self._publish("chat.ticket", conversation_id, agents, ticket_id=ticket_id)

    # ---- routing's side (ChannelOffers) --------------------------------------------

    async def offered(self, offer: Offer) -> None:
        conversation_id = int(offer.task.data["conversation_id"])
        await self._publish("chat.offered", conversation_id, [offer.agent_id],
                            agent_id=offer.agent_id, queue=offer.queue,
                            ring_timeout=offer.ring_timeout)  # fmt: skip

    async def withdrawn(self, offer: Offer) -> None:
        conversation_id = int(offer.task.data["conversation_id"])
        await self._publish("chat.offer_withdrawn", conversation_id, [offer.agent_id],
                            agent_id=offer.agent_id)  # fmt: skip

    # ---- internals -----------------------------------------------------------------

    async def _route(
        self,
        conversation_id: int,
        visitor: VisitorSession | None,
        *,
        queue: str | None = None,
        direct: int | None = None,
        last_agent: int | None = None,
    ) -> None:
        n = self._handoffs.get(conversation_id, 0)
        task_id = f"chat-{conversation_id}" + (f"-{n}" if n else "")
        self._tasks[conversation_id] = task_id
        task = Task(
            id=task_id, queue=queue or self.queue, channel="chat",
            customer_id=visitor.customer_id if visitor else None,
            direct_agent_id=direct, last_agent_id=last_agent,
            data={"conversation_id": conversation_id},
        )  # fmt: skip
        if last_agent is not None:
            task.declined_by.add(last_agent)  # a transfer never comes back to its sender
        await self.routing.submit(task, {"channel": "chat"})

    async def _finish_task(self, conversation_id: int, now: datetime) -> None:
        task_id = self._tasks.pop(conversation_id, None)
        if task_id is None:
            return
        router = self.routing.router
        if router.offer_of(task_id) is not None or (
            router.has_task(task_id) and not chat_rows.assigned(router, task_id)
        ):
            await self.routing.cancel(task_id)
        elif router.has_task(task_id):
            started = router.task(task_id).enqueued_at
            await self.routing.finished(task_id, max(0.0, now.timestamp() - started))

    async def _end(self, conversation_id: int, by: str, agent_id: int | None) -> None:
        now = self.clock.now()

        def store(conn: Connection) -> Frame | None:
            row = conn.execute(
                select(CONVERSATIONS.c.state).where(CONVERSATIONS.c.id == conversation_id)
            ).first()
            if row is None or row.state not in OPEN:
                return None
            conn.execute(
                update(CONVERSATIONS).where(CONVERSATIONS.c.id == conversation_id)
                .values(state="ended", ended_at=now, ended_by=by)
            )  # fmt: skip
            return chat_rows.store_message(conn, conversation_id, ("system", agent_id),
                                  ("text", f"ended_by_{by}"), now)  # fmt: skip

        agents = await self._agents_of(conversation_id)
        message = await self.db.write(store)
        if message is None:
            return
        await self._finish_task(conversation_id, now)
        await self._delivered(message)
        self.hub.publish(conversation_id, {"type": "state", "state": "ended", "csat": True})
        await self._publish("chat.ended", conversation_id, agents, by=by)

    async def _delivered(self, message: Frame, extra_agents: list[int] | None = None) -> None:
        """A stored message goes out: its text to the visitor's sockets (never a note),
        its ids to the agents in the chat."""
        conversation_id = message["conversation_id"]
        await self._named(message)
        if message["kind"] != "note":
            self.hub.publish(conversation_id, {"type": "msg", **message})
        agents = await self._agents_of(conversation_id)
        for agent_id in extra_agents or []:
            if agent_id not in agents:
                agents.append(agent_id)
        await self._publish("chat.message", conversation_id, agents, seq=message["seq"],
                            sender=message["sender"], kind=message["kind"])  # fmt: skip

    async def _publish(
        self, type_: str, conversation_id: int, agent_ids: list[int], *, everyone: bool = False,
        **data: Any,
    ) -> None:  # fmt: skip
        payload = {"conversation_id": conversation_id, "agent_ids": sorted(set(agent_ids)),
                   "everyone": everyone, **data}  # fmt: skip
        await self.bus.publish(Event(type=type_, data=payload))

    async def _agents_of(self, conversation_id: int, *, visitor_id: int | None = None) -> list[int]:
        """Who gets the chat's events: its agents, and the agent it is offered to.

        Kept in memory per conversation (every message needs it; only this service's
        writes change it, and each of those forgets the entry)."""
        members = self._members.get(conversation_id)
        if members is None:
            async with self.db.engine.connect() as conn:
                row = await self._row(conn, conversation_id)
            if row is None:
                raise ChatNotFound("no such chat")
            if len(self._members) >= MEMBERS_CACHED:
                self._members.clear()
            members = self._members[conversation_id] = (row.visitor_id, list(row.agents))
        if visitor_id is not None and members[0] != visitor_id:
            raise ChatNotFound("no such chat")
        agents = list(members[1])
        offered = self._offered_to(conversation_id)
        if offered is not None and offered not in agents:
            agents.append(offered)
        return agents

    def _offered_to(self, conversation_id: int) -> int | None:
        task_id = self._tasks.get(conversation_id)
        offer = self.routing.router.offer_of(task_id) if task_id else None
        return offer.agent_id if offer is not None else None

    def _sees(self, viewer: Viewer, row: Any) -> bool:
        return (
            viewer.sees_all
            or viewer.user_id in row.agents
            or row.state == "offline"
            or self._offered_to(row.id) == viewer.user_id
        )

    def _member_row(self, conn: Connection, conversation_id: int, viewer: Viewer) -> Any:
        row = conn.execute(
            select(CONVERSATIONS).where(CONVERSATIONS.c.id == conversation_id)
        ).first()
        if row is None or not (viewer.sees_all or viewer.user_id in row.agents):
            if row is not None and viewer.sees_all is False and self._sees(viewer, row):
                raise ChatConflict("accept the chat first")
            raise ChatNotFound("no such chat")
        if viewer.user_id not in row.agents:
            raise ChatConflict("join the chat first")
        return row

    @staticmethod
    async def _row(conn: Any, conversation_id: int) -> Any:
        found = await conn.execute(
            select(CONVERSATIONS).where(CONVERSATIONS.c.id == conversation_id)
        )
        return found.first()

    async def _session_of(self, conversation_id: int) -> VisitorSession | None:
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(VISITORS)
                    .join(CONVERSATIONS, CONVERSATIONS.c.visitor_id == VISITORS.c.id)
                    .where(CONVERSATIONS.c.id == conversation_id)
                )
            ).first()
        if row is None:
            return None
        return VisitorSession(row.id, row.site, "", row.customer_id, row.name, True)

    async def _named(self, frame: Frame) -> None:
        """Agents' and the system's messages (who joined) carry the agent's name."""
        if frame["sender"] in ("agent", "system") and frame["sender_id"] is not None:
            frame["name"] = await self._name(frame["sender_id"])

    async def _name(self, user_id: int) -> str:
        name = self._names.get(user_id)
        if name is None:
            async with self.db.engine.connect() as conn:
                row = (
                    await conn.execute(
                        select(USERS.c.display_name, USERS.c.username).where(USERS.c.id == user_id)
                    )
                ).first()
            name = (row.display_name or row.username) if row is not None else ""
            self._names[user_id] = name
        return name


__all__ = ["ChatError", "ChatService", "IdentityRefused", "Source", "Viewer", "VisitorSession"]
