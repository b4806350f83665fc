"""Half hours folded into the center's hours, days and weeks, whatever its zone."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callcenter.reports.buckets import Folding, Period, Span, bucket_of, bucket_start, period_of

SHANGHAI = ZoneInfo("Asia/Shanghai")  # +8, no daylight saving
KOLKATA = ZoneInfo("Asia/Kolkata")  # +5:30
NEW_YORK = ZoneInfo("America/New_York")


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_an_instant_falls_in_its_utc_half_hour():
    assert bucket_start(bucket_of(_utc(2026, 3, 2, 9, 29, 59))) == _utc(2026, 3, 2, 9, 0)
    assert bucket_start(bucket_of(_utc(2026, 3, 2, 9, 30))) == _utc(2026, 3, 2, 9, 30)
    # SQLite hands back naive UTC wall times.
    assert bucket_of(datetime(2026, 3, 2, 9, 30)) == bucket_of(_utc(2026, 3, 2, 9, 30))


def test_a_utc_evening_is_the_next_local_day_east_of_greenwich():
    late = bucket_of(_utc(2026, 3, 2, 16, 0))  # 00:00 on the 3rd in Shanghai
    assert period_of(late, Period.DAY, SHANGHAI) == "2026-03-03"
    assert period_of(late - 1, Period.DAY, SHANGHAI) == "2026-03-02"
    assert period_of(late, Period.HOUR, SHANGHAI) == "2026-03-03T00:00:00+08:00"
    assert period_of(late, Period.DAY, ZoneInfo("UTC")) == "2026-03-02"


def test_half_hour_offsets_fold_exactly():
    # Kolkata's day starts at 18:30 UTC: the half hour from 18:00 is the day before.
    span = Span(date(2026, 3, 3), date(2026, 3, 3), KOLKATA)
    assert span.start == _utc(2026, 3, 2, 18, 30)
    assert len(span.buckets) == 48
    assert {period_of(b, Period.DAY, KOLKATA) for b in span.buckets} == {"2026-03-03"}
    assert period_of(span.buckets.start - 1, Period.DAY, KOLKATA) == "2026-03-02"
    hours = {period_of(b, Period.HOUR, KOLKATA) for b in span.buckets}
    assert len(hours) == 24 and "2026-03-03T00:00:00+05:30" in hours


def test_days_of_daylight_saving_changes_are_23_and_25_hours():
    spring = Span(date(2026, 3, 8), date(2026, 3, 8), NEW_YORK)
    autumn = Span(date(2026, 11, 1), date(2026, 11, 1), NEW_YORK)
    assert len(spring.buckets) == 46 and len(autumn.buckets) == 50
    hours = [period_of(b, Period.HOUR, NEW_YORK) for b in autumn.buckets]
    # The hour from 01:00 happens twice; the offsets tell them apart.
    assert "2026-11-01T01:00:00-04:00" in hours and "2026-11-01T01:00:00-05:00" in hours
    assert len(set(hours)) == 25


def test_a_day_whose_midnight_is_skipped_starts_at_the_jump():
    # Chile moved its clocks from 24:00 to 01:00 on the night into 2022-09-11.
    santiago = ZoneInfo("America/Santiago")
    span = Span(date(2022, 9, 11), date(2022, 9, 11), santiago)
    assert span.start.astimezone(santiago).hour == 1
    assert len(span.buckets) == 46
    assert period_of(span.buckets.start - 1, Period.DAY, santiago) == "2022-09-10"


def test_weeks_are_iso_weeks_from_monday():
    sunday = bucket_of(datetime(2026, 3, 8, 23, 30, tzinfo=SHANGHAI))
    assert period_of(sunday, Period.WEEK, SHANGHAI) == "2026-03-02"
    assert period_of(sunday + 1, Period.WEEK, SHANGHAI) == "2026-03-09"


def test_a_span_covers_its_last_day():
    span = Span(date(2026, 3, 1), date(2026, 3, 31), SHANGHAI)
    assert span.days == 31
    assert span.end - span.start == timedelta(days=31)


@pytest.mark.parametrize("by", list(Period))
@pytest.mark.parametrize(
    ("zone", "first", "last"),
    [
        ("America/New_York", date(2026, 3, 1), date(2026, 3, 14)),  # clocks forward
        ("America/New_York", date(2026, 10, 26), date(2026, 11, 8)),  # and back
        ("Europe/London", date(2026, 3, 20), date(2026, 11, 5)),  # both, in one span
        ("Asia/Kolkata", date(2026, 2, 23), date(2026, 3, 8)),
        ("America/Santiago", date(2022, 9, 5), date(2022, 9, 18)),  # midnight skipped
        ("Asia/Shanghai", date(2026, 3, 1), date(2026, 3, 3)),
        ("UTC", date(2026, 3, 1), date(2026, 3, 3)),
    ],
)
def test_sql_folding_agrees_with_period_of_for_every_half_hour(zone, first, last, by):
    span = Span(first, last, ZoneInfo(zone))
    folding = Folding(span, by)
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE b (bucket INTEGER)")
    db.executemany("INSERT INTO b VALUES (?)", [(b,) for b in span.buckets])
    numbered = db.execute(f"SELECT bucket, {folding.sql()} FROM b ORDER BY bucket").fetchall()
    for bucket, number in numbered:
        assert folding.label(number) == period_of(bucket, by, span.zone), bucket
    # And distinct periods stay distinct (the hour that happens twice, too).
    assert len({n for _, n in numbered}) == len({period_of(b, by, span.zone) for b in span.buckets})
