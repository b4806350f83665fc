"""Webhook tables: subscriptions, and every delivery until it is delivered or dead."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Column, DateTime, ForeignKey, Index, Integer, Text
from sqlmodel import Field, SQLModel


class WebhookRow(SQLModel, table=True):
    """Where to POST which events (type prefixes; empty: none from the bus, only the
    deliveries trigger actions ask for), signed with `secret`."""

    __tablename__ = "webhooks"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=200)
    event_types: list[str] = Field(sa_column=Column(JSON, nullable=False))
    active: bool = Field(sa_column=Column(Boolean, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class WebhookDelivery(SQLModel, table=True):
    """One body for one webhook. `pending` rows are the queue (they survive a restart),
    `dead` rows the dead-letter list; the body is stored as sent, so every attempt and
    every replay signs the same bytes."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_state_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("webhooks.id", name="fk_webhook_deliveries_webhook", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    event_id: str = Field(max_length=64)
    event_type: str = Field(max_length=64)
    body: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(max_length=16)  # pending | delivered | dead
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_status: int | None = Field(default=None)
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
