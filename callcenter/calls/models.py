"""Call records (one row per call) and their timeline of events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text
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
    UNANSWERED = "unanswered"  # an agent's own call nobody picked up (no answer, busy)


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
    # The agent side (routing): seconds in each phase, for reports and the agent's history.
    queue: str | None = Field(default=None, max_length=64)
    queue_seconds: float | None = None  # waiting in queues, until an agent or the end
    ring_seconds: float | None = None  # the answering agent's phone rang this long
    talk_seconds: float | None = None  # caller and agent connected, hold left out
    hold_seconds: float | None = None
    wrap_up_seconds: float | None = None  # from the end of the talk to the wrap-up form
    abandoned: bool = False  # the caller hung up while waiting for an agent
    abandoned_position: int | None = None  # ... at this place in line
    transfers: int = 0
    wrap_up_code: str | None = Field(default=None, max_length=64)
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    recording: str | None = Field(default=None, max_length=255)  # under recordings_dir
    recording_seconds: float | None = None


class CallEvent(SQLModel, table=True):
    """One step in a call's life: what happened, when, with what data."""

    __tablename__ = "call_events"

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="calls.id", index=True)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    type: str = Field(max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
