"""Ticket tables: groups and their members, tickets, their history and their comments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, DateTime, ForeignKey, Integer, Text
from sqlmodel import Field, SQLModel

# The values a ticket's fields may take (docs/tickets.md). TYPES are the ones the
# migration seeds; admins add more (tickets.types, table ticket_types).
TYPES = ("consultation", "complaint", "fault", "other")
PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("new", "open", "pending", "on_hold", "solved", "closed")
SOURCES = ("api", "call", "email", "chat")


class TicketGroup(SQLModel, table=True):
    """A team that owns tickets ("support", "billing"); its members see them."""

    __tablename__ = "ticket_groups"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class TicketGroupMember(SQLModel, table=True):
    __tablename__ = "ticket_group_members"

    group_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("ticket_groups.id", name="fk_ticket_group_members_group"),
            primary_key=True,
        )
    )
    # Indexed: "the groups of user N" is in every agent's ticket and customer query.
    user_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("users.id", name="fk_ticket_group_members_user"),
            primary_key=True,
            index=True,
        )
    )


class Ticket(SQLModel, table=True):
    __tablename__ = "tickets"

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    type: str = Field(max_length=32)
    priority: str = Field(max_length=16)
    status: str = Field(max_length=16, index=True)
    requester_id: int = Field(foreign_key="customers.id", index=True)
    assignee_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    group_id: int = Field(foreign_key="ticket_groups.id", index=True)
    # Lowercase, deduplicated, sorted (customers.fields.normalize_tags).
    tags: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    # Flat JSON object (customers.fields.check_custom_fields).
    custom_fields: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    source: str = Field(max_length=16)
    call_id: int | None = Field(default=None, foreign_key="calls.id")
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    solved_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    closed_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class TicketEvent(SQLModel, table=True):
    """One field of a ticket changed: the history, a row per field, never updated."""

    __tablename__ = "ticket_events"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id", index=True)
    actor_id: int | None = Field(default=None, foreign_key="users.id")
    actor_name: str = Field(default="", max_length=128)  # kept if the user goes
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    field: str = Field(max_length=32)
    old: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    new: Any = Field(default=None, sa_column=Column(JSON, nullable=True))


class TicketComment(SQLModel, table=True):
    """A public reply (the requester reads it) or an internal note (agents only)."""

    __tablename__ = "ticket_comments"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id", index=True)
    author_id: int | None = Field(default=None, foreign_key="users.id")
    author_name: str = Field(default="", max_length=128)
    body: str = Field(sa_column=Column(Text, nullable=False))
    public: bool = Field(sa_column=Column(Boolean, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # A copy made by a merge (tickets.merge): the comment it copies, on the merged ticket.
    copied_from_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("ticket_comments.id", name="fk_ticket_comments_copied_from"),
            nullable=True,
        ),
    )
    # Set when the requester wrote it (by mail or in the portal); author_id is then null.
    author_customer_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("customers.id", name="fk_ticket_comments_author_customer"),
            nullable=True,
        ),
    )
