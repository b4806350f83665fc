"""Chat tables: visitors, their conversations, the messages in them, and uploaded files.

A message's `seq` numbers the messages of one conversation 1, 2, 3 … without gaps: it is
what a reconnecting widget tells the server it has, and what the server resends after.
It is taken from the conversation's `last_seq` in the same transaction that stores the
message (service.py), so two senders can never get the same number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

STATES = ("bot", "queued", "active", "ended", "offline")
SENDER_KINDS = ("visitor", "agent", "bot", "system")
MESSAGE_KINDS = ("text", "attachment", "note")  # notes never reach the visitor


class ChatVisitor(SQLModel, table=True):
    """A browser (anonymous: a random token it keeps) or a site's signed-in user
    (`external_id`, joined to a customer profile by the identity `chat`)."""

    __tablename__ = "chat_visitors"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_chat_visitor_token"),
        UniqueConstraint("site", "external_id", name="uq_chat_visitor_external"),
    )

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64)  # sha256 of the visitor's token
    site: str = Field(max_length=64)
    external_id: str | None = Field(default=None, max_length=128)
    customer_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("customers.id", name="fk_chat_visitors_customer"), nullable=True
        ),
    )
    name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=255)
    first_seen: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_seen: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    visits: int = Field(default=1)
    last_referrer: str = Field(default="", max_length=2000)
    last_landing: str = Field(default="", max_length=2000)
    last_search: str = Field(default="", max_length=200)
    region: str = Field(default="", max_length=8)


class ChatConversation(SQLModel, table=True):
    __tablename__ = "chat_conversations"

    id: int | None = Field(default=None, primary_key=True)
    visitor_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("chat_visitors.id", name="fk_chat_conversations_visitor"),
            nullable=False,
            index=True,
        )
    )
    customer_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("customers.id", name="fk_chat_conversations_customer"),
            nullable=True,
        ),
    )
    site: str = Field(max_length=64)
    queue: str = Field(max_length=64)
    state: str = Field(max_length=16, index=True)  # STATES
    agent_id: int | None = Field(  # the agent who owns it now
        default=None,
        sa_column=Column(
            Integer, ForeignKey("users.id", name="fk_chat_conversations_agent"), nullable=True
        ),
    )
    # Every agent in it (the owner and those invited or who joined), ids in order.
    agents: list[int] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    last_seq: int = Field(default=0)
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    accepted_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    ended_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    ended_by: str = Field(default="", max_length=16)  # visitor | agent | system
    csat_score: int | None = Field(default=None)
    csat_comment: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    # Where the visitor came from when the conversation started.
    referrer: str = Field(default="", max_length=2000)
    landing: str = Field(default="", max_length=2000)
    search_keywords: str = Field(default="", max_length=200)
    utm: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    # A leave-a-message form (state offline): how to answer.
    contact_name: str = Field(default="", max_length=200)
    contact_email: str = Field(default="", max_length=255)
    # The bot (state `bot`): its failed turns in a row, and why it handed over.
    bot_failed_turns: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    handoff_reason: str = Field(
        default="", sa_column=Column(String(32), nullable=False, server_default="")
    )
    # The ticket made from this chat ("Create ticket"): one per conversation.
    ticket_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("tickets.id", name="fk_chat_conversations_ticket"), nullable=True
        ),
    )


class ChatMessage(SQLModel, table=True):
    __tablename__ = "chat_messages"
    __table_args__ = (UniqueConstraint("conversation_id", "seq", name="uq_chat_message_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("chat_conversations.id", name="fk_chat_messages_conversation"),
            nullable=False,
        )
    )
    seq: int
    sender_kind: str = Field(max_length=8)  # SENDER_KINDS
    sender_id: int | None = Field(default=None)  # a user's id (agent) or the visitor's
    kind: str = Field(max_length=16)  # MESSAGE_KINDS
    body: str = Field(sa_column=Column(Text, nullable=False))
    file_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("chat_files.id", name="fk_chat_messages_file"), nullable=True
        ),
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # A bot message's reply: kind, entry_id, confidence, suggestions, handoff_reason.
    meta: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class ChatFile(SQLModel, table=True):
    """A file a visitor uploaded, stored like ticket attachments (random names on disk)."""

    __tablename__ = "chat_files"

    id: int | None = Field(default=None, primary_key=True)
    visitor_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("chat_visitors.id", name="fk_chat_files_visitor"),
            nullable=False,
            index=True,
        )
    )
    storage_name: str = Field(max_length=32)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ChatInternalMessage(SQLModel, table=True):
    """Agent to agent (内部会话): a direct thread between two users, never a visitor's."""

    __tablename__ = "chat_internal_messages"

    id: int | None = Field(default=None, primary_key=True)
    sender_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("users.id", name="fk_chat_internal_messages_sender"),
            nullable=False,
            index=True,
        )
    )
    recipient_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("users.id", name="fk_chat_internal_messages_recipient"),
            nullable=False,
            index=True,
        )
    )
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    read_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
