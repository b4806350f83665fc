"""SLA tables: calendars and policies as the engine's own YAML shapes, and each ticket's
clocks as rows, so "tickets breaching soon" is a query (docs/sla.md, "Wiring")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, DateTime, Float, ForeignKey, Integer
from sqlmodel import Field, SQLModel


class SlaCalendar(SQLModel, table=True):
    """A business-hours calendar: `definition` is what `calendar_from_dict` reads."""

    __tablename__ = "sla_calendars"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class SlaPolicyRow(SQLModel, table=True):
    """A policy: `definition` is what `policy_from_dict` reads; `priorities` and `types`
    say which tickets it applies to (empty: any). The lowest `position` that matches
    wins."""

    __tablename__ = "sla_policies"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    position: int = Field(default=0)
    priorities: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    types: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class TicketSlaRow(SQLModel, table=True):
    """Which policy a ticket is under (None: no policy matched) and when it was judged."""

    __tablename__ = "ticket_sla"

    ticket_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("tickets.id", name="fk_ticket_sla_ticket"), primary_key=True
        )
    )
    policy_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("sla_policies.id", name="fk_ticket_sla_policy"), nullable=True
        ),
    )
    evaluated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class TicketSlaMetric(SQLModel, table=True):
    """One clock of a ticket (a next-response cycle is one each), as last judged.

    `status` and `due_at` are indexed: "breached", "warning" and "due before T" are
    the supervisors' lists. `warning_sent` / `breach_sent` make each event go out once,
    across re-evaluations and restarts.
    """

    __tablename__ = "ticket_sla_metrics"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("tickets.id", name="fk_ticket_sla_metrics_ticket"),
            nullable=False,
            index=True,
        )
    )
    metric: str = Field(max_length=16)
    cycle: int = Field(default=1)
    status: str = Field(max_length=16, index=True)
    target_seconds: float = Field(sa_column=Column(Float, nullable=False))
    elapsed_seconds: float = Field(sa_column=Column(Float, nullable=False))
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    due_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True, index=True)
    )
    warning_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    breached_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    achieved_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    warning_sent: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    breach_sent: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
