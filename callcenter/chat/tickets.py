"""A ticket from a chat (the agents' chats page: "Create ticket"), the model being
tickets/from_call.py.

The requester is the visitor's customer profile (a signed-in visitor has one), else a
profile made from the visitor now and linked to them (their next chats join it). The
subject is the first thing the visitor wrote; the description the transcript of the
whole conversation, the bot's turns included. Internal notes stay out of it: a ticket's
description is the requester's to read. One ticket per chat: a second click answers
the ticket made by the first (`ChatTicketResult.created` False).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, insert, select, update

from callcenter.auth.models import aware
from callcenter.auth.permissions import Principal
from callcenter.chat.rows import CONVERSATIONS, CUSTOMERS, VISITORS
from callcenter.chat.service import ChatConflict, ChatService, Viewer
from callcenter.tickets.access import TicketScope
from callcenter.tickets.fields import Id, NewTicket, Priority, Subject, Type
from callcenter.tickets.service import FieldError, TicketNotFound, TicketService

SUBJECT_CHARS = 80

LABELS = {
    "en": {"visitor": "Visitor", "bot": "Bot", "agent": "Agent", "title": "Chat #{id}",
           "subject": "Chat from {name}", "file": "[file: {name}]",
           "joined": "— {name} joined —", "transferred": "— transferred by {name} —",
           "ended_by_agent": "— the agent ended the chat —",
           "ended_by_visitor": "— the visitor ended the chat —",
           "ended_by_system": "— the chat ended —"},
    "zh": {"visitor": "访客", "bot": "机器人", "agent": "客服", "title": "在线会话 #{id}",
           "subject": "来自 {name} 的在线会话", "file": "[文件：{name}]",
           "joined": "— {name} 加入会话 —", "transferred": "— {name} 转接了会话 —",
           "ended_by_agent": "— 客服结束了会话 —", "ended_by_visitor": "— 访客结束了会话 —",
           "ended_by_system": "— 会话已结束 —"},
}  # fmt: skip


class ChatTicket(BaseModel):
    """What the agent chooses; the rest comes from the chat. Without `group_id`, the
    agent's group if they have just one."""

    model_config = ConfigDict(extra="forbid")

    subject: Subject | None = None
    group_id: Id | None = None
    type: Type = "consultation"
    priority: Priority = "normal"
    assignee_id: Id | None = None


@dataclass(frozen=True)
class ChatTicketResult:
    ticket: dict[str, Any]
    created: bool


class ChatTickets:
    def __init__(
        self, chat: ChatService, tickets: TicketService, *, zone: ZoneInfo, language: str
    ) -> None:
        self.chat, self.tickets = chat, tickets
        self.zone = zone
        self.language = "zh" if language == "zh" else "en"

    async def from_chat(
        self, conversation_id: int, body: ChatTicket, who: Principal, scope: TicketScope,
        viewer: Viewer,
    ) -> ChatTicketResult:  # fmt: skip
        """ChatNotFound for a chat `viewer` may not see; the ticket service's refusals."""
        # One ticket per chat, also for two clicks at once: tickets from chats are made one
        # at a time (a rare, human-paced action), each after looking for an earlier one.
        async with self.chat.ticket_lock:
            conversation = await self.chat.get(conversation_id, viewer)
            if conversation["ticket_id"] is not None:
                try:
                    ticket = await self.tickets.get(conversation["ticket_id"], scope)
                except TicketNotFound:
                    raise ChatConflict(
                        f"ticket #{conversation['ticket_id']} was made from this chat already"
                    ) from None
                return ChatTicketResult(ticket, created=False)
            group_id = body.group_id or await self._only_group(who)
            requester = await self._requester(conversation)
            new = NewTicket(
                subject=body.subject or self._subject(conversation),
                description=self.transcript(conversation),
                type=body.type,
                priority=body.priority,
                requester_id=requester,
                group_id=group_id,
                assignee_id=body.assignee_id,
                source="chat",
            )
            ticket = await self.tickets.create(new, who, scope)
            await self._link(conversation_id, int(ticket["id"]))
            return ChatTicketResult(ticket, created=True)

    def transcript(self, conversation: Mapping[str, Any]) -> str:
        """Every message the visitor saw, in order, timed in the center's zone."""
        words = LABELS[self.language]
        visitor = conversation.get("visitor") or {}
        visitor_name = visitor.get("name") or conversation.get("contact_name") or words["visitor"]
        lines = [words["title"].format(id=conversation["id"]), ""]
        for m in conversation["messages"]:
            if m["kind"] == "note":
                continue
            at = _local(m["at"], self.zone)
            if m["sender"] == "system":
                key = m["body"] if m["body"] in words else ""
                if key:
                    lines.append(f"[{at}] " + words[key].format(name=m.get("name", "")))
                continue
            who = {"visitor": visitor_name, "bot": words["bot"]}.get(
                m["sender"], m.get("name") or words["agent"]
            )
            text = m["body"]
            if m.get("file"):
                text = (text + " " if text else "") + words["file"].format(
                    name=m["file"]["filename"]
                )
            lines.append(f"[{at}] {who}: {text}")
        return "\n".join(lines)

    def _subject(self, conversation: Mapping[str, Any]) -> str:
        first = next((m["body"] for m in conversation["messages"]
                      if m["sender"] == "visitor" and m["body"].strip()), "")  # fmt: skip
        first = " ".join(first.split())
        if not first:
            visitor = conversation.get("visitor") or {}
            name = visitor.get("name") or LABELS[self.language]["visitor"]
            return LABELS[self.language]["subject"].format(name=name)
        return first if len(first) <= SUBJECT_CHARS else first[: SUBJECT_CHARS - 1] + "…"

    async def _requester(self, conversation: Mapping[str, Any]) -> int:
        """The visitor's profile, or one made from the visitor (and linked to them)."""
        if conversation["customer_id"] is not None:
            return int(conversation["customer_id"])
        visitor_id = int(conversation["visitor_id"])
        contact_name = conversation["contact_name"]
        contact_email = conversation["contact_email"]
        now = self.chat.clock.now()
        label = LABELS[self.language]["visitor"]

        def store(conn: Connection) -> int:
            row = conn.execute(select(VISITORS).where(VISITORS.c.id == visitor_id)).one()
            customer_id = row.customer_id
            if customer_id is None:
                name = row.name or contact_name or row.email or contact_email
                customer_id = conn.execute(
                    insert(CUSTOMERS).values(
                        display_name=(name or f"{label} #{visitor_id}")[:200],
                        customer_class="new", created_at=now, last_contact_at=now,
                        source="chat", tags=[], custom_fields={}, region=row.region or "",
                        notes="", external_id="",
                    ).returning(CUSTOMERS.c.id)
                ).scalar_one()  # fmt: skip
                conn.execute(
                    update(VISITORS).where(VISITORS.c.id == visitor_id)
                    .values(customer_id=customer_id)
                )  # fmt: skip
            conn.execute(
                update(CONVERSATIONS).where(CONVERSATIONS.c.id == conversation["id"])
                .values(customer_id=customer_id)
            )  # fmt: skip
            return int(customer_id)

        return await self.chat.db.write(store)

    async def _link(self, conversation_id: int, ticket_id: int) -> None:
        def store(conn: Connection) -> None:
            conn.execute(
                update(CONVERSATIONS)
                .where(CONVERSATIONS.c.id == conversation_id, CONVERSATIONS.c.ticket_id.is_(None))
                .values(ticket_id=ticket_id)
            )

        await self.chat.db.write(store)
        await self.chat.ticket_made(conversation_id, ticket_id)

    async def _only_group(self, who: Principal) -> int:
        groups = await self.tickets.groups_of(who.user_id) if who.user_id is not None else []
        if len(groups) != 1:
            why = "you are in no ticket group" if not groups else "you are in several groups"
            raise FieldError("group_id", f"choose a group: {why}")
        return groups[0]


def _local(at: str | None, zone: ZoneInfo) -> str:
    if not at:
        return ""
    return aware(datetime.fromisoformat(at)).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
