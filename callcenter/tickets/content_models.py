"""Tables of tickets' content beyond fields and comments: configurable types with their
forms, attachments, and links between tickets (docs/tickets.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, DateTime, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel


class TicketType(SQLModel, table=True):
    """A kind of ticket ("fault") and its form: the custom fields such tickets carry.

    Tickets keep the type's `name` (not its id), so a type is never renamed and never
    deleted, only deactivated: old tickets keep a meaning.
    """

    __tablename__ = "ticket_types"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=32, unique=True)
    label_en: str = Field(max_length=100)
    label_zh: str = Field(max_length=100)
    active: bool = Field(sa_column=Column(Boolean, nullable=False))
    # An ordered list of tickets.forms.FormField as JSON.
    form: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class TicketAttachment(SQLModel, table=True):
    """A file on a ticket, stored under data_dir/attachments by a random name.

    Never changed or deleted. A merge copies the row to the kept ticket and both rows
    name the same stored file (`storage_name`), so it is not unique.
    """

    __tablename__ = "ticket_attachments"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("tickets.id", name="fk_ticket_attachments_ticket"),
            nullable=False,
            index=True,
        )
    )
    comment_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("ticket_comments.id", name="fk_ticket_attachments_comment"),
            nullable=True,
        ),
    )
    uploader_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("users.id", name="fk_ticket_attachments_uploader"), nullable=True
        ),
    )
    uploader_name: str = Field(default="", max_length=128)  # kept if the user goes
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=128)  # from the sniffed kind, not the client's
    size: int
    sha256: str = Field(max_length=64)
    storage_name: str = Field(max_length=64)
    # An attachment on an internal note is internal; alone, as uploaded.
    public: bool = Field(sa_column=Column(Boolean, nullable=False))
    copied_from_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("ticket_attachments.id", name="fk_ticket_attachments_copied_from"),
            nullable=True,
        ),
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class TicketLink(SQLModel, table=True):
    """A directed link: `ticket_id` is `kind` of `other_id`.

    related: symmetric; incident: `ticket_id` is an incident of the problem `other_id`;
    duplicate: `ticket_id` duplicates `other_id` (the original). One link per pair of
    tickets, whichever its direction (checked on insert; the constraint covers one).
    """

    __tablename__ = "ticket_links"
    __table_args__ = (UniqueConstraint("ticket_id", "other_id", name="uq_ticket_links_pair"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("tickets.id", name="fk_ticket_links_ticket"),
            nullable=False,
            index=True,
        )
    )
    # Indexed: "the incidents of problem N" reads by the other end.
    other_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("tickets.id", name="fk_ticket_links_other"),
            nullable=False,
            index=True,
        )
    )
    kind: str = Field(max_length=16)
    created_by: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("users.id", name="fk_ticket_links_created_by"), nullable=True
        ),
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
