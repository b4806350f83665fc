"""Business hours: lunch breaks, weekends, holidays, special days, two zones, DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callcenter.tickets.calendars import (
    Calendar,
    CalendarError,
    NaiveDatetimeError,
    calendar_from_dict,
    load_calendars,
)

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
H = 3600

CN_YAML = """
support-cn:
  timezone: Asia/Shanghai
  hours:
    mon: [09:00-12:00, 13:00-18:00]
    tue: [09:00-12:00, 13:00-18:00]
    wed: [09:00-12:00, 13:00-18:00]
    thu: [09:00-12:00, 13:00-18:00]
    fri: [09:00-12:00, 13:00-18:00]
    sat: [10:00-14:00]
  holidays: [2026-10-01]
  special_days:
    2026-09-27: [09:00-18:00]   # a working Sunday
    2026-12-24: [09:00-12:00]   # a short day
support-us:
  timezone: America/New_York
  hours:
    mon: [09:00-17:00]
    tue: [09:00-17:00]
    wed: [09:00-17:00]
    thu: [09:00-17:00]
    fri: [09:00-17:00]
  special_days:
    2026-03-08: [01:00-04:00]   # Sundays the clocks change, to measure DST
    2026-11-01: [01:00-04:00]
always:
  timezone: UTC
  hours: 24x7
"""


@pytest.fixture
def calendars() -> dict[str, Calendar]:
    return load_calendars(CN_YAML)


@pytest.fixture
def cn(calendars) -> Calendar:
    return calendars["support-cn"]


@pytest.fixture
def us(calendars) -> Calendar:
    return calendars["support-us"]


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)  # type: ignore[misc]


def test_a_lunch_break_does_not_count(cn):
    # Monday 11:00 to 14:00: 11-12 and 13-14.
    assert cn.business_seconds_between(sh(2026, 3, 9, 11), sh(2026, 3, 9, 14)) == 2 * H
    assert not cn.is_open(sh(2026, 3, 9, 12, 30))
    assert cn.next_open(sh(2026, 3, 9, 12, 30)) == sh(2026, 3, 9, 13)


def test_across_a_weekend_with_saturday_hours(cn):
    # Friday 17:00 to Monday 10:00: Friday 1 h, Saturday 4 h, Sunday closed, Monday 1 h.
    assert cn.business_seconds_between(sh(2026, 3, 6, 17), sh(2026, 3, 9, 10)) == 6 * H
    assert cn.next_open(sh(2026, 3, 7, 14)) == sh(2026, 3, 9, 9)  # Saturday's close


def test_a_holiday_is_closed_all_day(cn):
    # Wednesday 17:00 to Friday 10:00 around the 1 October holiday (a Thursday).
    assert cn.business_seconds_between(sh(2026, 9, 30, 17), sh(2026, 10, 2, 10)) == 2 * H
    assert not cn.is_open(sh(2026, 10, 1, 10))
    assert cn.next_open(sh(2026, 10, 1, 10)) == sh(2026, 10, 2, 9)


def test_special_days_replace_their_weekday(cn):
    # A working Sunday: Saturday 14:00 (closing) to Monday 09:00 is that Sunday's 9 h.
    assert cn.business_seconds_between(sh(2026, 9, 26, 14), sh(2026, 9, 28, 9)) == 9 * H
    # A short Christmas Eve (Thursday): only 09:00-12:00.
    assert cn.business_seconds_between(sh(2026, 12, 24, 8), sh(2026, 12, 25, 9)) == 3 * H


def test_a_deadline_skips_closed_time_and_ends_at_closing(cn):
    start = sh(2026, 3, 6, 17, 30)  # Friday
    # Friday 0.5 h, Saturday 4 h, Monday 09-12 3 h = 7.5 h; the last 0.5 h after lunch.
    assert cn.add_business_seconds(start, 8 * H) == sh(2026, 3, 9, 13, 30)
    # Using up the morning exactly ends at 12:00, not at the afternoon's opening.
    assert cn.add_business_seconds(sh(2026, 3, 9, 9), 3 * H) == sh(2026, 3, 9, 12)
    assert cn.add_business_seconds(sh(2026, 3, 9, 9), 3 * H + 1) == sh(2026, 3, 9, 13, 0, 1)
    # From a closed time the clock starts at the next opening.
    assert cn.add_business_seconds(sh(2026, 3, 8, 20), 60) == sh(2026, 3, 9, 9, 1)
    assert cn.add_business_seconds(start, 0) == start


def test_adding_business_time_spanning_weeks(cn):
    weekly = 5 * 8 * H + 4 * H
    assert cn.weekly_seconds == weekly
    monday = sh(2026, 3, 9, 9)
    # Three whole weeks end at the third Saturday's close.
    assert cn.add_business_seconds(monday, 3 * weekly) == sh(2026, 3, 28, 14)
    assert cn.add_business_seconds(monday, 3 * weekly + 1) == sh(2026, 3, 30, 9, 0, 1)
    assert cn.business_seconds_between(monday, sh(2026, 3, 30, 9)) == 3 * weekly


def test_a_whole_year_and_a_deadline_into_the_next(cn):
    # 52 weeks from Monday 5 January 2026: the holiday (a Thursday, 8 h) is the only gap;
    # the working Sunday adds 9 h and Christmas Eve loses 5 h.
    year = cn.business_seconds_between(sh(2026, 1, 5), sh(2027, 1, 4))
    assert year == 52 * cn.weekly_seconds - 8 * H + 9 * H - 5 * H
    # A deadline past New Year: built a year further without walking minutes.
    deadline = cn.add_business_seconds(sh(2026, 12, 31, 17), 2 * H)
    assert deadline == sh(2027, 1, 1, 10)  # Friday 1 January: no holiday configured


def test_asking_about_an_earlier_year_keeps_earlier_answers(cn):
    first = cn.business_seconds_between(sh(2026, 3, 9, 9), sh(2026, 3, 10, 9))
    origin_based = cn.seconds_before(sh(2026, 3, 10, 9).timestamp())
    cn.is_open(sh(2024, 5, 1, 10))  # grows the timeline backwards
    # The origin stays put, so remembered values (a scheduler's last tick) stay right.
    assert cn.seconds_before(sh(2026, 3, 10, 9).timestamp()) == origin_based
    assert cn.business_seconds_between(sh(2026, 3, 9, 9), sh(2026, 3, 10, 9)) == first == 8 * H
    assert cn.business_seconds_between(sh(2024, 5, 3, 17), sh(2026, 3, 9, 9)) > 0


def test_new_york_across_both_dst_changes(us):
    # Sunday 8 March 2026 01:00-04:00 wall time: the clocks skip 02:00-03:00, so 2 h.
    assert us.business_seconds_between(ny(2026, 3, 8), ny(2026, 3, 9)) == 2 * H
    # Sunday 1 November: 01:00-02:00 happens twice, so 4 h.
    assert us.business_seconds_between(ny(2026, 11, 1), ny(2026, 11, 2)) == 4 * H
    # Friday 16:00 EST to Monday 10:00 EDT: 1 h + 2 h Sunday + 1 h.
    assert us.business_seconds_between(ny(2026, 3, 6, 16), ny(2026, 3, 9, 10)) == 4 * H
    deadline = us.add_business_seconds(ny(2026, 3, 6, 16), 4 * H)
    assert deadline == ny(2026, 3, 9, 10)
    assert deadline == datetime(2026, 3, 9, 14, tzinfo=UTC)  # EDT is UTC-4
    assert deadline.tzinfo == NY


def test_two_zones_at_the_same_instant(cn, us):
    instant = datetime(2026, 3, 9, 14, tzinfo=UTC)  # Shanghai 22:00, New York 10:00
    assert us.is_open(instant)
    assert not cn.is_open(instant)
    assert cn.next_open(instant) == datetime(2026, 3, 10, 1, tzinfo=UTC)
    assert us.next_open(instant) == instant


def test_a_24x7_calendar_counts_every_second(calendars):
    always = calendars["always"]
    start = datetime(2026, 3, 1, 12, 34, 56, tzinfo=UTC)
    assert always.add_business_seconds(start, 30 * 86400) == start + timedelta(days=30)
    assert always.business_seconds_between(start, start + timedelta(days=400)) == 400 * 86400
    assert always.is_open(start)


def test_a_24x7_calendar_in_new_york_has_a_23_hour_day():
    always = Calendar.always_open("America/New_York")
    assert always.business_seconds_between(ny(2026, 3, 8), ny(2026, 3, 9)) == 23 * H
    assert always.business_seconds_between(ny(2026, 11, 1), ny(2026, 11, 2)) == 25 * H


def test_naive_datetimes_are_refused(cn):
    naive = datetime(2026, 3, 9, 10)
    with pytest.raises(NaiveDatetimeError, match="no time zone"):
        cn.business_seconds_between(naive, sh(2026, 3, 9, 11))
    with pytest.raises(NaiveDatetimeError):
        cn.add_business_seconds(naive, 60)
    with pytest.raises(NaiveDatetimeError):
        cn.is_open(naive)
    with pytest.raises(NaiveDatetimeError):
        cn.next_open(naive)


def test_schema_errors_say_where(cn):
    bad = {
        "timezone": "Mars/Olympus",
        "hours": {
            "mon": ["09:00-12:00", "18:00-13:00"],
            "tue": ["09:00-12:00", "11:00-13:00"],
            "wed": ["25:00-26:00"],
            "mom": ["09:00-10:00"],
        },
    }
    with pytest.raises(CalendarError) as caught:
        calendar_from_dict(bad, "cn")
    assert sorted(caught.value.problems) == [
        "cn.hours.mom: unknown option",
        "cn.hours.mon[1]: 13:00 is before 18:00",
        "cn.hours.tue: 11:00-13:00 overlaps 09:00-12:00",
        "cn.hours.wed[0]: 25:00 is not a time of day (00:00 to 24:00)",
        "cn.timezone: 'Mars/Olympus' is not an IANA time zone (e.g. Asia/Shanghai)",
    ]


def test_schema_refuses_a_closed_calendar_and_a_holiday_with_hours():
    with pytest.raises(CalendarError) as caught:
        calendar_from_dict(
            {
                "timezone": "UTC",
                "hours": {},
                "holidays": ["2026-10-01"],
                "special_days": {"2026-10-01": ["09:00-10:00"]},
            }
        )
    assert caught.value.problems == [
        "hours: no open hours on any weekday",
        "special_days.2026-10-01: also listed as a holiday",
    ]
    with pytest.raises(CalendarError, match=r"b\.timezone: missing"):
        load_calendars("a: {timezone: UTC, hours: 24x7}\nb: {hours: 24x7}\n")


def test_an_overnight_shift_is_two_touching_intervals():
    night = calendar_from_dict(
        {"timezone": "UTC", "hours": {"mon": ["22:00-24:00"], "tue": ["00:00-06:00"]}}
    )
    start = datetime(2026, 3, 9, 23, tzinfo=UTC)  # Monday 23:00
    assert night.add_business_seconds(start, 2 * H) == datetime(2026, 3, 10, 1, tzinfo=UTC)
    assert night.is_open(datetime(2026, 3, 10, 0, tzinfo=UTC))


def test_next_open_across_new_year_holidays_grows_the_timeline():
    office = calendar_from_dict(
        {
            "timezone": "Asia/Shanghai",
            "hours": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat")},
            "holidays": ["2027-01-01", "2027-01-02"],
        }
    )
    assert office.next_open(sh(2026, 12, 31, 18)) == sh(2027, 1, 4, 9)  # Sunday closed too
    assert office.add_business_seconds(sh(2026, 12, 31, 17), 2 * H) == sh(2027, 1, 4, 10)
