"""Half-hour buckets and the center's hours, days and weeks made of them.

Everything is stored by UTC half hour (epoch seconds // 1800), so stored rows never
depend on the center's zone: a report folds each half hour into the local period it
starts in. Every zone whose offset from UTC is a whole number of half hours (all but
three: Nepal +5:45, the Chatham Islands +12:45/+13:45 and Eucla +8:45) has its hour,
day and week boundaries on half-hour boundaries, so the fold is exact, across daylight
saving changes too. In those three zones a half hour straddles two local hours and is
counted in the one it starts in: periods are then off by 15 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise
from zoneinfo import ZoneInfo

BUCKET_SECONDS = 1800


class Period(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"  # ISO weeks: Monday to Sunday


def bucket_of(at: datetime) -> int:
    """The UTC half hour an instant falls in (naive datetimes are UTC, as SQLite's)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp()) // BUCKET_SECONDS


def bucket_start(bucket: int) -> datetime:
    return datetime.fromtimestamp(bucket * BUCKET_SECONDS, UTC)


def period_of(bucket: int, by: Period, zone: ZoneInfo) -> str:
    """The label of the local period a half hour belongs to: the hour's start with its
    offset (two 01:00 hours on the night clocks go back differ by their offsets), the
    day's date, or the ISO week's Monday."""
    local = bucket_start(bucket).astimezone(zone)
    if by == Period.HOUR:
        return local.replace(minute=0, second=0, microsecond=0).isoformat()
    day = local.date()
    if by == Period.WEEK:
        day -= timedelta(days=day.weekday())
    return day.isoformat()


@dataclass(frozen=True)
class Span:
    """Local dates `first`..`last` (both included) as a range of UTC half hours."""

    first: date
    last: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return local_midnight(self.first, self.zone)

    @property
    def end(self) -> datetime:
        return local_midnight(self.last + timedelta(days=1), self.zone)

    @property
    def buckets(self) -> range:
        return range(bucket_of(self.start), bucket_of(self.end))

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """Where the local day starts, in UTC. Where clocks jump over midnight, the wall
    time does not exist and zoneinfo reads it with the offset before the jump (PEP 495,
    fold=0): that is the instant of the jump, where the day really begins."""
    return datetime.combine(day, time(0), zone).astimezone(UTC)


@dataclass(frozen=True)
class Folding:
    """`period_of` as SQL arithmetic, so the database sums each period itself and a
    report moves a row per period and group, not per half hour.

    A local time is the bucket's UTC seconds plus the zone's offset, which changes
    only at the span's daylight-saving moments (a short CASE). Days and Monday weeks
    are counted from 1970-01-01 (a Thursday) in local time. Hours are counted in real
    time, so the hour that happens twice when clocks go back stays two rows; that holds
    where daylight saving moves clocks by whole hours (everywhere but Lord Howe Island).
    """

    span: Span
    by: Period

    @property
    def offsets(self) -> list[tuple[int, int]]:
        """(first bucket, UTC offset in seconds) of each stretch of the span."""
        buckets, zone = self.span.buckets, self.span.zone
        runs = [(buckets.start, _offset(buckets.start, zone))]
        low = buckets.start
        while low < buckets.stop - 1:
            high = min(low + 48, buckets.stop - 1)  # at most one change a day
            if _offset(high, zone) == runs[-1][1]:
                low = high
                continue
            while high - low > 1:  # the first bucket of the new offset
                middle = (low + high) // 2
                if _offset(middle, zone) == runs[-1][1]:
                    low = middle
                else:
                    high = middle
            runs.append((high, _offset(high, zone)))
            low = high
        return runs

    def sql(self, column: str = "bucket") -> str:
        """SQL numbering each bucket's period (integers: SQLite and PostgreSQL divide
        them alike, towards zero, and these are positive)."""
        offsets = self.offsets
        seconds = f"{column} * {BUCKET_SECONDS}"
        if self.by == Period.HOUR:
            return f"(({seconds} + {offsets[0][1]}) / 3600)"
        if len(offsets) == 1:
            offset = str(offsets[0][1])
        else:
            whens = " ".join(
                f"WHEN {column} < {start} THEN {before}"
                for (_, before), (start, _) in pairwise(offsets)
            )
            offset = f"CASE {whens} ELSE {offsets[-1][1]} END"
        day = f"(({seconds} + {offset}) / 86400)"
        return day if self.by == Period.DAY else f"(({day} + 3) / 7)"

    def label(self, number: int) -> str:
        """The label `period_of` gives the period numbered `number` by `sql`."""
        if self.by == Period.HOUR:
            bucket = (number * 3600 - self.offsets[0][1]) // BUCKET_SECONDS
            return period_of(bucket, Period.HOUR, self.span.zone)
        days = number if self.by == Period.DAY else number * 7 - 3
        return (EPOCH_DAY + timedelta(days=days)).isoformat()


EPOCH_DAY = date(1970, 1, 1)


def _offset(bucket: int, zone: ZoneInfo) -> int:
    offset = bucket_start(bucket).astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0
