"""Past volumes per half hour: the one thing the forecast reads, behind a small interface.

The forecast does not care where history comes from: the call records today
(`calls_history.py`), a rollup table for reports later. Either is an async callable
`(start, end, queue) -> {half-hour start: SlotHistory}`.

Half hours are the center's own (`Settings.zone`): 09:00–09:30 local time, whatever the
offset. Keys are the aware UTC instants those half hours start at, so a day with a
daylight-saving change simply has 46 or 50 of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

SLOT = timedelta(minutes=30)
SLOT_SECONDS = SLOT.total_seconds()


class SlotHistory(NamedTuple):
    """What one half hour saw: contacts offered, and the handle time of those handled."""

    offered: int
    handled_seconds: float  # talk + hold + wrap-up, summed
    handled: int


# (start, end, queue or None for every queue) -> {half-hour start (aware UTC): history}.
# Half hours without a contact may be left out: missing means zero.
HistorySource = Callable[[datetime, datetime, str | None], Awaitable[dict[datetime, SlotHistory]]]


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant the center's `day` begins (its local midnight)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def half_hours(day: date, zone: ZoneInfo) -> Iterator[datetime]:
    """The UTC starts of the center's half hours on `day`, in order (46 to 50 of them)."""
    at, end = day_start(day, zone), day_start(day + timedelta(days=1), zone)
    while at < end:
        yield at
        at += SLOT


def slot_of(at: datetime, zone: ZoneInfo) -> tuple[date, int]:
    """The center's day and half-hour of day (0 = 00:00–00:30 … 47) that `at` falls in.

    On the night the clocks go back, the repeated hour's half hours share their numbers:
    the forecast treats 01:30 as 01:30, whichever of the two it was.
    """
    local = at.astimezone(zone)
    return local.date(), local.hour * 2 + local.minute // 30


def slot_start(at: datetime, zone: ZoneInfo) -> datetime:
    """The UTC start of the center's half hour that `at` falls in.

    Computed on local time because a few zones are offset by a quarter hour (Nepal,
    +05:45): their half hours start at :15 and :45 UTC.
    """
    local = at.astimezone(zone)
    floor = local.replace(minute=local.minute - local.minute % 30, second=0, microsecond=0)
    return floor.astimezone(UTC)
