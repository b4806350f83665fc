"""Agent tables: the routing profile of each agent, and the time spent in each state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index
from sqlmodel import Field, SQLModel


class AgentProfileRow(SQLModel, table=True):
    """What routing needs about an agent user: skills with levels, teams, capacity."""

    __tablename__ = "agent_profiles"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    extension: str = Field(default="", max_length=32)  # their SIP desk phone, if any
    skills: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    teams: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    voice_capacity: int = Field(default=1)
    chat_capacity: int = Field(default=3)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class AgentStateSpanRow(SQLModel, table=True):
    """One stretch of one state (available, on call, break: lunch …) for reports."""

    __tablename__ = "agent_state_spans"
    __table_args__ = (Index("ix_agent_state_spans_agent_started", "agent_id", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(foreign_key="users.id")
    state: str = Field(max_length=16)
    reason: str = Field(default="", max_length=64)
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ended_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
