"""The call records as history: what counts, and in which of the center's half hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert

from callcenter.calls.models import Call
from callcenter.forecast.calls_history import CallsHistory
from callcenter.forecast.history import SlotHistory

CALLS = Call.__table__  # type: ignore[attr-defined]
KATHMANDU = ZoneInfo("Asia/Kathmandu")  # +05:45: half hours start at :15 and :45 UTC


def _call(n: int, at: datetime, queue: str | None = "support", **more: Any) -> dict[str, Any]:
    return {
        "channel_id": f"h-{n}", "node": "local", "direction": "inbound", "caller_number": "",
        "caller_name": "", "dialed_number": "100", "state": "ended", "started_at": at,
        "queue": queue, "abandoned": False, "transfers": 0, "queue_seconds": 3.0,
        "talk_seconds": None, "hold_seconds": None, "wrap_up_seconds": None,
    } | more  # fmt: skip


async def test_calls_fall_into_the_centers_half_hours_and_only_real_offers_count(database):
    base = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # 09:45 in Kathmandu
    rows = [
        _call(0, base + timedelta(minutes=14, seconds=59), talk_seconds=100.0, hold_seconds=5.0),
        _call(1, base + timedelta(minutes=15), talk_seconds=60.0, wrap_up_seconds=30.0),
        _call(2, base + timedelta(minutes=44, seconds=59)),  # not answered: offered only
        _call(3, base + timedelta(minutes=20), abandoned=True, queue_seconds=4.9),  # short
        _call(4, base + timedelta(minutes=20), abandoned=True, queue_seconds=30.0),
        _call(5, base + timedelta(minutes=20), queue=None),  # never queued
        _call(6, base + timedelta(minutes=20), queue="sales", talk_seconds=10.0),
        _call(7, base + timedelta(hours=2)),  # after the end asked for
    ]

    def store(conn: Connection) -> None:
        conn.execute(insert(CALLS), rows)

    await database.write(store)
    flushed = []

    async def flush() -> None:
        flushed.append(True)

    history = CallsHistory(database, KATHMANDU, before_read=flush)
    got = await history(base - timedelta(hours=1), base + timedelta(hours=1), "support")
    assert flushed == [True]
    assert got == {
        datetime(2026, 11, 30, 3, 45, tzinfo=UTC): SlotHistory(1, 105.0, 1),  # 09:30–10:00
        datetime(2026, 11, 30, 4, 15, tzinfo=UTC): SlotHistory(3, 90.0, 1),  # 10:00–10:30
    }
    every_queue = await history(base, base + timedelta(hours=1), None)
    assert every_queue[datetime(2026, 11, 30, 4, 15, tzinfo=UTC)] == SlotHistory(4, 100.0, 2)
