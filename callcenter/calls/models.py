"""Call records (one row per call) and their timeline of events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index
from sqlmodel import Field, SQLModel


class CallState(StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"


class Disposition(StrEnum):
    """How the call ended, from the contact center's point of view."""

    COMPLETED = "completed"  # answered, then ended normally
    ABANDONED = "abandoned"  # the caller hung up before being answered
    FAILED = "failed"  # the system could not handle it (handler error, PBX failure)
    TRANSFERRED = "transferred"  # the flow handed it to an extension or number
    LOST = "lost"  # ended while no controller was watching; times are best known


def _dt(nullable: bool = True) -> Any:
    return Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=nullable),
    )


class Call(SQLModel, table=True):
    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_started_at", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_id: str = Field(max_length=64, unique=True)
    node: str = Field(default="local", max_length=64)
    direction: str = Field(default="inbound", max_length=16)
    caller_number: str = Field(default="", max_length=64, index=True)
    caller_name: str = Field(default="", max_length=128)
    dialed_number: str = Field(default="", max_length=64)
    customer_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    agent_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    state: str = Field(default=CallState.RINGING, max_length=16)
    disposition: str | None = Field(default=None, max_length=16)
    hangup_cause: int | None = None
    hangup_cause_text: str | None = Field(default=None, max_length=64)
    ended_by: str | None = Field(default=None, max_length=16)
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    answered_at: datetime | None = _dt()
    ended_at: datetime | None = _dt()


class CallEvent(SQLModel, table=True):
    """One step in a call's life: what happened, when, with what data."""

    __tablename__ = "call_events"

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="calls.id", index=True)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    type: str = Field(max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
