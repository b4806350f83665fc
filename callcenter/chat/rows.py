"""Rows of the chat tables as the service writes and shows them: pure functions on a
connection (run inside the writer's transaction) or on a row."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from callcenter.auth.models import User
from callcenter.chat.hub import Frame
from callcenter.chat.identity import SignedIdentity
from callcenter.chat.models import ChatConversation, ChatFile, ChatMessage, ChatVisitor
from callcenter.customers.models import Customer, CustomerIdentity

VISITORS = ChatVisitor.__table__  # type: ignore[attr-defined]
CONVERSATIONS = ChatConversation.__table__  # type: ignore[attr-defined]
MESSAGES = ChatMessage.__table__  # type: ignore[attr-defined]
FILES = ChatFile.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]
CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
IDENTITIES = CustomerIdentity.__table__  # type: ignore[attr-defined]


def identity_values(identity: SignedIdentity) -> dict[str, Any]:
    return {"external_id": identity.external_id, "name": identity.name[:200],
            "email": identity.email[:255]}  # fmt: skip


def assigned(router: Any, task_id: str) -> bool:
    try:
        router.agent_of(task_id)
    except KeyError:
        return False
    return True


def aware(value: datetime | None, now: datetime) -> datetime:
    """SQLite hands datetimes back naive (in UTC): comparable with `now` again."""
    if value is None:
        return now
    return value if value.tzinfo is not None else value.replace(tzinfo=now.tzinfo)


def new_conversation(
    conn: Connection, visitor: Any, *, queue: str, state: str, now: datetime,
    source: Any, name: str = "", email: str = "",
) -> int:  # fmt: skip
    return int(
        conn.execute(
            insert(CONVERSATIONS).values(
                visitor_id=visitor.visitor_id, customer_id=visitor.customer_id,
                site=visitor.site[:64], queue=queue, state=state, agents=[], last_seq=0,
                started_at=now, ended_by="", csat_comment="", referrer=source.referrer[:2000],
                landing=source.url[:2000], search_keywords=source.search[:200],
                utm=dict(source.utm), contact_name=name[:200], contact_email=email[:255],
            ).returning(CONVERSATIONS.c.id)
        ).scalar_one()
    )  # fmt: skip


def store_message(
    conn: Connection, conversation_id: int, sender: tuple[str, int | None],
    content: tuple[str, str], now: datetime, *, file_id: int | None = None,
    meta: dict[str, Any] | None = None,
) -> Frame:  # fmt: skip
    """The next seq of the conversation, taken in this transaction: gapless, unique."""
    sender_kind, sender_id = sender
    kind, body = content
    seq = conn.execute(
        update(CONVERSATIONS).where(CONVERSATIONS.c.id == conversation_id)
        .values(last_seq=CONVERSATIONS.c.last_seq + 1).returning(CONVERSATIONS.c.last_seq)
    ).scalar_one()  # fmt: skip
    values = {"conversation_id": conversation_id, "seq": seq, "sender_kind": sender_kind,
              "sender_id": sender_id, "kind": kind, "body": body, "file_id": file_id,
              "created_at": now, "meta": meta}  # fmt: skip
    conn.execute(insert(MESSAGES).values(**values))
    frame = message_frame(values)
    if file_id is not None:
        found = conn.execute(
            select(FILES.c.filename, FILES.c.size, FILES.c.content_type)
            .where(FILES.c.id == file_id)
        ).one()  # fmt: skip
        frame["file"] = {"id": file_id, "filename": found.filename, "size": found.size,
                         "content_type": found.content_type}  # fmt: skip
    return frame


def message_frame(row: Mapping[Any, Any]) -> Frame:
    frame: Frame = {
        "conversation_id": row["conversation_id"], "seq": row["seq"],
        "sender": row["sender_kind"], "sender_id": row["sender_id"], "kind": row["kind"],
        "body": row["body"], "at": iso(row["created_at"]),
    }  # fmt: skip
    if row.get("meta"):
        frame["meta"] = dict(row["meta"])
    if row.get("file_id") is not None and row.get("filename") is not None:
        frame["file"] = {"id": row["file_id"], "filename": row["filename"],
                         "size": row["size"], "content_type": row["content_type"]}  # fmt: skip
    return frame


def conversation_view(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {
        "id": m["id"], "visitor_id": m["visitor_id"], "customer_id": m["customer_id"],
        "site": m["site"], "queue": m["queue"], "state": m["state"], "agent_id": m["agent_id"],
        "agents": list(m["agents"]), "last_seq": m["last_seq"],
        "started_at": iso(m["started_at"]), "accepted_at": iso(m["accepted_at"]),
        "ended_at": iso(m["ended_at"]), "ended_by": m["ended_by"],
        "csat_score": m["csat_score"], "csat_comment": m["csat_comment"],
        "referrer": m["referrer"], "landing": m["landing"],
        "search_keywords": m["search_keywords"], "utm": dict(m["utm"] or {}),
        "contact_name": m["contact_name"], "contact_email": m["contact_email"],
        "bot_failed_turns": m["bot_failed_turns"], "handoff_reason": m["handoff_reason"],
        "ticket_id": m["ticket_id"],
    }  # fmt: skip


def visitor_view(m: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "id": m["id"], "site": m["site"], "external_id": m["external_id"], "name": m["name"],
        "email": m["email"], "customer_id": m["customer_id"], "visits": m["visits"],
        "first_seen": iso(m["first_seen"]), "last_seen": iso(m["last_seen"]),
        "last_referrer": m["last_referrer"], "last_landing": m["last_landing"],
        "last_search": m["last_search"], "region": m["region"],
    }  # fmt: skip


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def profile_for(conn: Connection, value: str, identity: SignedIdentity, now: datetime) -> int:
    """The customer profile owning the chat identity `site:external id`; a new one
    (named after the signed name) the first time. A race loses to the unique key."""
    found = conn.execute(
        select(IDENTITIES.c.customer_id).where(
            IDENTITIES.c.kind == "chat", IDENTITIES.c.value == value
        )
    ).scalar()
    if found is not None:
        conn.execute(update(CUSTOMERS).where(CUSTOMERS.c.id == found).values(last_contact_at=now))
        return int(found)
    try:
        with conn.begin_nested():
            customer_id = conn.execute(
                insert(CUSTOMERS).values(
                    display_name=identity.name or identity.email or value, customer_class="new",
                    created_at=now, last_contact_at=now, source="chat", tags=[],
                    custom_fields={}, region="", notes="", external_id="",
                ).returning(CUSTOMERS.c.id)
            ).scalar_one()  # fmt: skip
            conn.execute(
                insert(IDENTITIES).values(customer_id=customer_id, kind="chat", value=value)
            )
    except IntegrityError:
        return int(
            conn.execute(
                select(IDENTITIES.c.customer_id).where(
                    IDENTITIES.c.kind == "chat", IDENTITIES.c.value == value
                )
            ).scalar_one()
        )
    return int(customer_id)
