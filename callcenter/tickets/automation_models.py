"""Tables of ticket automation: triggers, time-based automations and the runs they made,
and each group's assignment rule (docs/automation.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, DateTime, ForeignKey, Integer
from sqlmodel import Field, SQLModel


class TicketTrigger(SQLModel, table=True):
    """On a ticket event: if `conditions` hold, do `actions` (rules.TriggerBody)."""

    __tablename__ = "ticket_triggers"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    position: int = Field(default=0)
    active: bool = Field(sa_column=Column(Boolean, nullable=False))
    conditions: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    actions: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class TicketAutomation(SQLModel, table=True):
    """On every tick: tickets whose field has held a value for N hours (rules.AutomationBody)."""

    __tablename__ = "ticket_automations"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    position: int = Field(default=0)
    active: bool = Field(sa_column=Column(Boolean, nullable=False))
    conditions: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    actions: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class TicketAutomationRun(SQLModel, table=True):
    """An automation applied to a ticket for one episode: the moment its field took the
    value (`since`). The key makes "at most once per episode" a database fact."""

    __tablename__ = "ticket_automation_runs"

    automation_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey(
                "ticket_automations.id", name="fk_ticket_automation_runs_automation",
                ondelete="CASCADE",
            ),
            primary_key=True,
        )
    )  # fmt: skip
    ticket_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("tickets.id", name="fk_ticket_automation_runs_ticket"),
            primary_key=True,
            index=True,
        )
    )
    since: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    outcome: str = Field(default="", max_length=200)


class TicketAssignmentRule(SQLModel, table=True):
    """How a group's new tickets find an assignee; `last_user_id` is round robin's place."""

    __tablename__ = "ticket_assignment_rules"

    group_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("ticket_groups.id", name="fk_ticket_assignment_rules_group"),
            primary_key=True,
        )
    )
    strategy: str = Field(max_length=16)  # none | round_robin | least_loaded
    # {"by_type": {type: skill}, "by_tag": {tag: skill}}
    skills: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    only_logged_in: bool = Field(sa_column=Column(Boolean, nullable=False))
    last_user_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("users.id", name="fk_ticket_assignment_rules_last_user"),
            nullable=True,
        ),
    )
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
