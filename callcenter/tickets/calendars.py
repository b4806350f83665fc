"""Business-hours calendars: when the center counts time against a ticket's SLA.

A calendar is an IANA time zone, weekly opening hours (several intervals a day, e.g.
09:00-12:00 and 13:00-18:00 for a lunch break), holidays (whole dates, closed) and
special days (dates with their own hours, e.g. a working Sunday or a short Christmas
Eve). Hours are wall-clock times in the calendar's zone; an interval never crosses
midnight (an overnight shift is written as 22:00-24:00 on one day and 00:00-06:00 on
the next: the two touch and count as one stretch).

Business time is *real elapsed seconds* while open. On the night clocks go forward an
interval loses the skipped hour (01:00-04:00 in New York on the second Sunday of March
is two hours); on the night they go back it gains the repeated one. A wall time that
does not exist (02:30 on the spring-forward night) is read with the offset in force
before the change, as `zoneinfo` does with fold=0.

Speed: every calendar keeps its open intervals as epoch seconds with a running total
of business seconds before each one, built a whole local year at a time and extended
when asked about another year. Business seconds up to an instant are then one binary
search, so `business_seconds_between` and `add_business_seconds` cost O(log n) whatever
the span (months, years), and building costs O(days) once per year per calendar.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall_time
from itertools import pairwise
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    field_validator,
    model_validator,
)

DAY = 86400
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# One opening interval: [start, end) in seconds since local midnight, end <= 86400.
Interval = tuple[int, int]

# Years without one open second before `add_business_seconds` gives up: a calendar that
# is closed that long (holidays over every open day) has no deadline to give.
_MAX_EMPTY_YEARS = 5


class NaiveDatetimeError(ValueError):
    """A datetime without a time zone: business time cannot say where it falls."""


def timestamp(at: datetime) -> float:
    """Epoch seconds of an aware datetime; a naive one is refused, never guessed."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{at.isoformat()} has no time zone; pass an aware datetime "
            "(e.g. datetime(..., tzinfo=UTC) or ZoneInfo('Asia/Shanghai'))"
        )
    return at.timestamp()


@dataclass
class _Timeline:
    """Open intervals over whole local days [first, last], as epoch seconds."""

    first: date
    last: date
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    before: list[float] = field(default_factory=list)  # business seconds before starts[i]
    through: list[float] = field(default_factory=list)  # ... up to ends[i]
    low: float = 0.0  # epoch of first's midnight
    high: float = 0.0  # epoch of the midnight after last
    base: float = 0.0  # business seconds before the first interval


class Calendar:
    """Business hours in one time zone, with holidays and special days.

    `hours[d]` are the intervals of weekday d (0 = Monday), sorted and apart; a holiday
    is closed all day; a special day's own intervals replace its weekday's (an empty
    list closes it, like a holiday).
    """

    def __init__(
        self,
        zone: ZoneInfo | str,
        hours: Mapping[int, Sequence[Interval]],
        holidays: Iterable[date] = (),
        special_days: Mapping[date, Sequence[Interval]] | None = None,
        name: str = "",
    ) -> None:
        self.zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
        self.name = name
        self.hours: tuple[tuple[Interval, ...], ...] = tuple(
            tuple(_checked(hours.get(d, ()), WEEKDAYS[d])) for d in range(7)
        )
        self.holidays = frozenset(holidays)
        self.special_days = {
            day: tuple(_checked(spans, day.isoformat()))
            for day, spans in (special_days or {}).items()
        }
        if not any(self.hours) and not any(self.special_days.values()):
            raise ValueError("a calendar needs some open hours")
        self._line: _Timeline | None = None
        self._anchor: float | None = None  # where business seconds are 0, fixed forever
        # The last instants asked about: a scheduler asks about the same `now` (and the
        # same previous tick) for every ticket. Safe to keep: values never change.
        self._memo: dict[float, float] = {}

    @classmethod
    def always_open(cls, zone: ZoneInfo | str = "UTC", name: str = "24x7") -> Calendar:
        """24x7: every second counts."""
        return cls(zone, {d: [(0, DAY)] for d in range(7)}, name=name)

    @property
    def weekly_seconds(self) -> int:
        """Open seconds in an ordinary week (wall time: DST weeks differ by an hour)."""
        return sum(end - start for day in self.hours for start, end in day)

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        """The wall-clock opening intervals of one local date."""
        if day in self.holidays:
            return ()
        special = self.special_days.get(day)
        return special if special is not None else self.hours[day.weekday()]

    # -- the public, datetime side ------------------------------------------------------

    def business_seconds_between(self, start: datetime, end: datetime) -> float:
        """Open seconds in [start, end); negative when end is before start."""
        return self.seconds_before(timestamp(end)) - self.seconds_before(timestamp(start))

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant `seconds` of open time after `start`: a deadline.

        Zero gives `start` itself. A deadline that uses up an interval exactly is its
        closing time (18:00), not the next opening. The result is in the calendar's zone.
        """
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        at = timestamp(start)
        if seconds == 0:
            return start.astimezone(self.zone)
        return self.at(self.instant_at(self.seconds_before(at) + seconds))

    def is_open(self, at: datetime) -> bool:
        ts = timestamp(at)
        line = self._covering(ts)
        i = bisect_right(line.starts, ts) - 1
        return i >= 0 and ts < line.ends[i]

    def next_open(self, at: datetime) -> datetime:
        """`at` itself when open, else the next opening (in the calendar's zone)."""
        ts = timestamp(at)
        if self.is_open(at):
            return at.astimezone(self.zone)
        for _ in range(_MAX_EMPTY_YEARS + 1):
            line = self._covering(ts)
            i = bisect_right(line.starts, ts)
            if i < len(line.starts):
                return self.at(line.starts[i])
            ts = line.high
        raise ValueError(f"calendar {self.name!r} never opens after {at.isoformat()}")

    def at(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, UTC).astimezone(self.zone)

    # -- the epoch-seconds side, for callers that evaluate many tickets ---------------

    def seconds_before(self, ts: float) -> float:
        """Business seconds from a fixed origin (the first instant the calendar was asked
        about) to `ts`, negative before it: the difference of two is business time."""
        line = self._line
        if line is None or not line.low <= ts < line.high:
            line = self._covering(ts)
        i = bisect_right(line.starts, ts) - 1
        if i < 0:
            return line.base
        return line.before[i] + (min(ts, line.ends[i]) - line.starts[i])

    def seconds_before_now(self, ts: float) -> float:
        """`seconds_before` for an instant many tickets ask about (the scheduler's `now`
        and previous tick), remembered. Safe: a value never changes once given."""
        memo = self._memo
        found = memo.get(ts)
        if found is None:
            if len(memo) >= 16:
                memo.clear()
            found = memo[ts] = self.seconds_before(ts)
        return found

    def instant_at(self, business: float) -> float:
        """The earliest epoch second where `seconds_before` reaches `business`: a value
        above one `seconds_before` gave (the timeline must cover its instant)."""
        line = self._line
        if line is None or not line.through or line.through[-1] < business:
            line = self._covering_business(business)
        j = bisect_left(line.through, business)
        return line.starts[j] + (business - line.before[j])

    def _covering_business(self, business: float) -> _Timeline:
        line = self._line
        if line is None:
            raise ValueError("instant_at needs a value seconds_before gave")
        for _ in range(_MAX_EMPTY_YEARS):
            if line.through and line.through[-1] >= business:
                return line
            line = self._grow(line.first, date(line.last.year + 1, 12, 31))
        if line.through and line.through[-1] >= business:
            return line
        raise ValueError(f"calendar {self.name!r} has no open time for {_MAX_EMPTY_YEARS} years")

    def _covering(self, ts: float) -> _Timeline:
        line = self._line
        if line is not None and line.low <= ts < line.high:
            return line
        day = datetime.fromtimestamp(ts, self.zone).date()
        # Whole local years, with a day to spare at either end for offsets and DST.
        first = date(day.year, 1, 1) - timedelta(days=1)
        last = date(day.year, 12, 31) + timedelta(days=1)
        if line is not None:
            first, last = min(first, line.first), max(last, line.last)
        return self._grow(first, last)

    def _grow(self, first: date, last: date) -> _Timeline:
        line = _Timeline(first, last)
        line.low = self._epoch(first, 0)
        line.high = self._epoch(last, DAY)
        total = 0.0
        day = first
        while day <= last:
            for start, end in self.intervals_on(day):
                a, b = self._epoch(day, start), self._epoch(day, end)
                if line.ends and a <= line.ends[-1]:
                    # Touching (an overnight shift, 24x7) or overlapping after a DST gap
                    # moved a wall time: one stretch, never counted twice.
                    a = line.ends[-1]
                    if b <= a:
                        continue
                    total += b - a
                    line.ends[-1] = b
                    line.through[-1] = total
                    continue
                if b <= a:
                    continue
                line.starts.append(a)
                line.ends.append(b)
                line.before.append(total)
                total += b - a
                line.through.append(total)
            day += timedelta(days=1)
        if self._anchor is None:
            self._anchor = line.low
        else:
            # Growing backwards adds time before the origin: shift so it stays at 0.
            i = bisect_right(line.starts, self._anchor) - 1
            shift = (
                line.before[i] + min(self._anchor, line.ends[i]) - line.starts[i] if i >= 0 else 0
            )
            line.before = [v - shift for v in line.before]
            line.through = [v - shift for v in line.through]
            line.base = -shift
        self._line = line
        return line

    def _epoch(self, day: date, second: int) -> float:
        if second >= DAY:
            day, second = day + timedelta(days=1), second - DAY
        hour, rest = divmod(second, 3600)
        local = datetime.combine(day, wall_time(hour, rest // 60, rest % 60), self.zone)
        return local.timestamp()

    def __repr__(self) -> str:
        return f"Calendar({self.name!r}, {self.zone.key})"


def _checked(intervals: Iterable[Interval], where: str) -> list[Interval]:
    spans = sorted(intervals)
    for start, end in spans:
        if not 0 <= start < end <= DAY:
            raise ValueError(f"{where}: bad interval {_hhmm(start)}-{_hhmm(end)}")
    for (_, end), (start, _) in pairwise(spans):
        if start < end:
            raise ValueError(f"{where}: intervals overlap at {_hhmm(start)}")
    return spans


def _hhmm(second: int) -> str:
    return f"{second // 3600:02d}:{second % 3600 // 60:02d}"


# -- the YAML / dict schema ------------------------------------------------------------

_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


def _parse_time(text: str) -> int:
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(f"{text.strip()!r} is not a time (HH:MM)")
    hour, minute = int(match[1]), int(match[2])
    if minute > 59 or hour > 24 or (hour == 24 and minute):
        raise ValueError(f"{text.strip()} is not a time of day (00:00 to 24:00)")
    return hour * 3600 + minute * 60


def _parse_interval(text: Any) -> Interval:
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not an interval (HH:MM-HH:MM, e.g. 09:00-18:00)")
    start_text, sep, end_text = text.partition("-")
    if not sep:
        raise ValueError(f"{text!r} is not an interval (HH:MM-HH:MM, e.g. 09:00-18:00)")
    start, end = _parse_time(start_text), _parse_time(end_text)
    if end <= start:
        # Intervals never cross midnight: say how to write an overnight shift.
        raise ValueError(
            f"{_hhmm(end)} is before {_hhmm(start)}"
            if end < start
            else f"{_hhmm(start)}-{_hhmm(end)} is empty"
        )
    return start, end


IntervalText = Annotated[Interval, BeforeValidator(_parse_interval)]


def _apart(spans: list[Interval]) -> list[Interval]:
    ordered = sorted(spans)
    for (a_start, a_end), (b_start, b_end) in pairwise(ordered):
        if b_start < a_end:
            first, second = f"{_hhmm(a_start)}-{_hhmm(a_end)}", f"{_hhmm(b_start)}-{_hhmm(b_end)}"
            raise ValueError(f"{second} overlaps {first}")
    return ordered


Day = Annotated[list[IntervalText], AfterValidator(_apart)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WeekHours(_Strict):
    """`mon: [09:00-12:00, 13:00-18:00]`; a day left out is closed; `24x7` for all."""

    @model_validator(mode="before")
    @classmethod
    def _always(cls, value: Any) -> Any:
        if value == "24x7":
            return {day: ["00:00-24:00"] for day in WEEKDAYS}
        return value

    mon: Day = []
    tue: Day = []
    wed: Day = []
    thu: Day = []
    fri: Day = []
    sat: Day = []
    sun: Day = []


class CalendarConfig(_Strict):
    timezone: str
    hours: WeekHours
    holidays: list[date] = []
    special_days: dict[date, Day] = {}

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
        return value

    def calendar(self, name: str = "") -> Calendar:
        hours = {d: list(getattr(self.hours, WEEKDAYS[d])) for d in range(7)}
        specials = {day: list(spans) for day, spans in self.special_days.items()}
        return Calendar(self.timezone, hours, self.holidays, specials, name)


class CalendarError(ValueError):
    """A calendar definition that cannot be used; `problems` says where and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid calendar:\n  " + "\n  ".join(problems))
        self.problems = problems


def calendar_from_dict(data: Any, name: str = "") -> Calendar:
    """Validate one calendar definition (the YAML's shape) and build it."""
    prefix = f"{name}." if name else ""
    try:
        config = CalendarConfig.model_validate(data)
    except ValidationError as exc:
        raise CalendarError([prefix + explain(err) for err in exc.errors()]) from None
    problems = []
    if not any(getattr(config.hours, d) for d in WEEKDAYS):
        problems.append(f"{prefix}hours: no open hours on any weekday")
    for day in sorted(set(config.holidays) & set(config.special_days)):
        problems.append(f"{prefix}special_days.{day}: also listed as a holiday")
    if problems:
        raise CalendarError(problems)
    return config.calendar(name)


def load_calendars(text: str) -> dict[str, Calendar]:
    """A YAML document `{name: calendar, ...}`; every problem of every calendar at once."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CalendarError([f"not YAML: {exc}"]) from None
    if not isinstance(data, dict) or not data:
        raise CalendarError(["expected a mapping of calendar names to calendars"])
    calendars: dict[str, Calendar] = {}
    problems: list[str] = []
    for name, body in data.items():
        try:
            calendars[str(name)] = calendar_from_dict(body, str(name))
        except CalendarError as exc:
            problems += exc.problems
    if problems:
        raise CalendarError(problems)
    return calendars


def explain(err: Any) -> str:
    loc = ""
    for part in err["loc"]:
        if isinstance(part, int):
            loc += f"[{part}]"
        else:
            loc += f".{part}" if loc else str(part)
    kind = err["type"]
    if kind == "extra_forbidden":
        message = "unknown option"
    elif kind == "missing":
        message = "missing"
    elif kind == "value_error":
        message = str(err["msg"]).removeprefix("Value error, ")
    else:
        message = f"{err['msg']} (got {err.get('input')!r})"
    return f"{loc}: {message}" if loc else message
