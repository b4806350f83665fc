"""History from the call records (`calls`): the default `HistorySource`.

Kept in this one module so a rollup table can replace it without touching the model.

What counts: a call that waited in a queue (`queue` set; it is the last queue the call
waited in, so a call that overflowed counts in the queue it ended in), except a short
abandon (given up within `short_abandon` seconds: no real offer, as in metrics.py). A
handled call is one an agent talked to (`talk_seconds` set); its handle time is talk +
hold + wrap-up, a missing hold or wrap-up counting as none.

The database groups the calls by quarter hour of UTC time and this module folds the
quarters into the center's half hours: every time zone's offset is a whole number of
quarter hours, so each quarter lies in exactly one local half hour, and a day of history
is at most 96 rows whatever the traffic.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, cast, func, not_, select

from callcenter.calls.models import Call
from callcenter.db import Database
from callcenter.forecast.history import SlotHistory, slot_start
from callcenter.metrics import ServiceLevel

CALLS = Call.__table__  # type: ignore[attr-defined]
QUARTER = 900  # seconds


class CallsHistory:
    """`HistorySource` over the `calls` table."""

    def __init__(
        self,
        db: Database,
        zone: ZoneInfo,
        *,
        short_abandon: float = ServiceLevel().short_abandon,
        before_read: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.zone = zone
        self.short_abandon = short_abandon
        # Call changes are written in batches; CallService.flush makes them visible.
        self.before_read = before_read

    async def __call__(
        self, start: datetime, end: datetime, queue: str | None
    ) -> dict[datetime, SlotHistory]:
        if self.before_read is not None:
            await self.before_read()
        c = CALLS.c
        quarter = self._quarter(c.started_at).label("quarter")
        talked = c.talk_seconds.is_not(None)
        handle = (
            c.talk_seconds
            + func.coalesce(c.hold_seconds, 0.0)
            + func.coalesce(c.wrap_up_seconds, 0.0)
        )
        waited = func.coalesce(c.queue_seconds, 0.0)
        short = and_(c.abandoned.is_(True), waited < self.short_abandon)
        stmt = (
            select(
                quarter,
                func.count().label("offered"),
                func.sum(case((talked, handle), else_=0.0)).label("seconds"),
                func.sum(case((talked, 1), else_=0)).label("handled"),
            )
            .where(c.queue.is_not(None), not_(short))
            .where(c.started_at >= start.astimezone(UTC), c.started_at < end.astimezone(UTC))
            .group_by(quarter)
        )
        if queue is not None:
            stmt = stmt.where(c.queue == queue)
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        history: dict[datetime, SlotHistory] = {}
        for row in rows:
            at = slot_start(datetime.fromtimestamp(int(row.quarter) * QUARTER, UTC), self.zone)
            seen = history.get(at, SlotHistory(0, 0.0, 0))
            history[at] = SlotHistory(
                seen.offered + int(row.offered),
                seen.handled_seconds + float(row.seconds or 0.0),
                seen.handled + int(row.handled or 0),
            )
        return history

    def _quarter(self, column: Any) -> Any:
        """The number of the UTC quarter hour since the epoch a timestamp falls in."""
        if self.db.is_sqlite:
            # Stored as UTC text ('2026-11-23 01:17:00.812000'); '%s' reads it as epoch.
            epoch = cast(func.strftime("%s", column), Integer)
            return epoch / QUARTER  # integer division in SQLite
        return cast(func.floor(func.extract("epoch", column) / QUARTER), Integer)
