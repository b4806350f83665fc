"""Report tables: one row per queue visit, and the half-hour rollups reports read.

Rollup rows hold exactly the `Tally` fields (counts and sums: they add up) plus the
time-to-abandon buckets and callbacks, keyed by the UTC half hour. UTC half hours
fold into the hours, days and weeks of any zone whose offset is a multiple of 30
minutes (see `buckets.py` for the few that are not).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Float, Index, Integer, String, Table
from sqlmodel import Field, SQLModel

# The time-to-abandon buckets: upper bounds in seconds (the last is open). A caller who
# hung up after 10 s counts in "10-30"; short abandons are left out (short_abandoned).
ABANDON_BOUNDS: tuple[float, ...] = (10, 30, 60, 120)
ABANDON_LABELS: tuple[str, ...] = ("lt10", "10_30", "30_60", "60_120", "ge120")
ABANDON_COLUMNS: tuple[str, ...] = tuple(f"abandon_{label}" for label in ABANDON_LABELS)
# The Tally fields, in its order: the rollup's measures have the same names.
COUNT_COLUMNS = (
    "entered", "answered", "answered_in_time", "abandoned", "short_abandoned", "overflowed",
    "handled", "transfers",
)  # fmt: skip
SUM_COLUMNS = ("answer_wait", "abandon_wait", "talk", "hold", "wrap_up")
MEASURES: tuple[str, ...] = (*COUNT_COLUMNS, *SUM_COLUMNS, *ABANDON_COLUMNS, "callbacks")
INTEGER_MEASURES = frozenset({*COUNT_COLUMNS, *ABANDON_COLUMNS, "callbacks"})


class QueueVisitRow(SQLModel, table=True):
    """A contact's stay in one queue, written once when it left.

    `answered_in_time` and `short_abandoned` are decided when the visit is stored, by
    the queue's service-level objective of that moment: a later change of the objective
    does not rewrite history, and a report spanning queues with different thresholds
    counts each visit by its own queue's.
    """

    __tablename__ = "queue_visits"
    __table_args__ = (
        Index("ix_queue_visits_left_at", "left_at"),
        Index("ix_queue_visits_call_id", "call_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    call_id: int | None = Field(default=None, foreign_key="calls.id")
    task_id: str = Field(max_length=64)
    queue: str = Field(max_length=64)
    channel: str = Field(default="voice", max_length=16)
    entered_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    left_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    waited: float
    outcome: str = Field(max_length=16)  # VisitOutcome
    agent_id: int | None = None  # who answered
    position: int | None = None  # place in line when the caller gave up
    overflow_to: str | None = Field(default=None, max_length=80)  # queue:NAME, voicemail …
    answered_in_time: bool = False
    short_abandoned: bool = False


def _measures() -> list[Column[Any]]:
    return [
        Column(name, Integer if name in INTEGER_MEASURES else Float, nullable=False, default=0)
        for name in MEASURES
    ]


# Every queue and channel per half hour: what reports over queues, channels or the whole
# floor read. Its size is bounded by half hours x queues, however many calls there are.
QUEUE_HALF_HOURS = Table(
    "report_queue_half_hours",
    SQLModel.metadata,
    Column("bucket", Integer, primary_key=True, autoincrement=False),  # UTC epoch seconds // 1800
    Column("queue", String(64), primary_key=True),
    Column("channel", String(16), primary_key=True),
    *_measures(),
)
# The same per answering agent, for agent and team reports. Visits nobody answered have
# no agent and are only in the table above.
AGENT_HALF_HOURS = Table(
    "report_agent_half_hours",
    SQLModel.metadata,
    Column("bucket", Integer, primary_key=True, autoincrement=False),
    Column("queue", String(64), primary_key=True),
    Column("channel", String(16), primary_key=True),
    Column("agent_id", Integer, primary_key=True, autoincrement=False),
    *_measures(),
)
# Inbound calls per half hour by source (the number dialed), region (the caller's
# country) and customer (new, returning, anonymous): one row per value, so the customer
# report reads a few rows per half hour too.
CUSTOMER_HALF_HOURS = Table(
    "report_customer_half_hours",
    SQLModel.metadata,
    Column("bucket", Integer, primary_key=True, autoincrement=False),
    Column("dimension", String(16), primary_key=True),  # source | region | customer
    Column("value", String(64), primary_key=True),
    Column("calls", Integer, nullable=False, default=0),
)
