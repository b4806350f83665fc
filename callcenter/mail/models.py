"""Every ticket mail in or out: threading by Message-ID, inbound dedupe, delivery state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Text
from sqlmodel import Field, SQLModel

DIRECTIONS = ("in", "out")
# in: received -> ticket | comment | ignored; out: queued -> sent | failed
STATUSES = ("received", "ticket", "comment", "ignored", "queued", "sent", "failed")


class TicketMail(SQLModel, table=True):
    __tablename__ = "ticket_mails"

    id: int | None = Field(default=None, primary_key=True)
    # Unique: a message delivered twice (an MTA retry) is taken once. Ids longer than
    # the column are stored as their hash (mail.threading.stored_id).
    message_id: str = Field(sa_column=Column(String(255), nullable=False, unique=True))
    # Null while an inbound mail is being taken in, or when it led to nothing.
    ticket_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("tickets.id", name="fk_ticket_mails_ticket"),
            nullable=True,
            index=True,
        ),
    )
    comment_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("ticket_comments.id", name="fk_ticket_mails_comment"), nullable=True
        ),
    )
    direction: str = Field(max_length=8)
    address: str = Field(default="", max_length=255)  # the customer's: sender or recipient
    status: str = Field(max_length=16)
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    error: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    sent_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
