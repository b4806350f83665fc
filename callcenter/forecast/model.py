"""The volume forecast: a recency-weighted average of the same weekday, scaled by a trend.

Contact volume repeats by the week: Monday mornings look like Monday mornings. So the
forecast for one half hour of a target day is

1. **the profile**: the same half hour on the same weekday over the last `weeks` weeks,
   averaged with weights `decay ** age` (age in whole weeks: last week 1, the week
   before 0.8, …), so a recent change in habits shows without one odd week taking over.
   A weekday with no history at all (a new center, or the history starts on a Tuesday)
   uses every day of the window the same way: the all-days profile;
2. **times the trend**: a straight line fitted to the weekly totals of the complete weeks
   of the window, read at the target day and at the weighted age of the days the
   profile came from. Their ratio (kept within `trend_limits`) moves the profile from
   where it was measured to where the line says the volume will be.

The average handle time of a half hour comes from the same days: that half hour's own
handle times when at least `min_handled` calls were handled in it, else the whole days'.

Each step is a sum or a ratio a person can redo with a spreadsheet, on purpose: people
staff from these numbers and must be able to see why one is what it is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from callcenter.forecast.history import SlotHistory, half_hours, slot_of

Basis = Literal["weekday", "all_days", "none"]
SLOTS_PER_DAY = 48


@dataclass(frozen=True)
class Method:
    """The forecast's parameters; every forecast carries them, so a number can be retraced."""

    weeks: int = 8  # of history looked back on
    decay: float = 0.8  # weight of a week relative to the one after it
    trend_limits: tuple[float, float] = (0.67, 1.5)  # the trend factor is kept within
    trend_weeks: int = 3  # complete weeks a trend line needs; fewer: no trend (1.0)
    min_handled: int = 10  # handled calls a half hour needs for an AHT of its own

    def __post_init__(self) -> None:
        if self.weeks < 1 or not 0 < self.decay <= 1 or self.trend_weeks < 2:
            raise ValueError("weeks >= 1, 0 < decay <= 1 and trend_weeks >= 2")
        if not 0 < self.trend_limits[0] <= 1 <= self.trend_limits[1]:
            raise ValueError("trend_limits must be (low <= 1, high >= 1), both > 0")


@dataclass(frozen=True)
class SlotForecast:
    start: datetime  # UTC; the center's half hour
    volume: float  # contacts expected
    aht: float | None  # seconds; None: nothing was handled in the days the profile used


@dataclass(frozen=True)
class DayForecast:
    day: date
    slots: list[SlotForecast]
    basis: Basis  # which profile: the same weekday's, every day's, or none (no history)
    days_used: int  # days of history behind the profile
    trend: float  # the factor the profile was scaled by
    history: tuple[date, date]  # the window looked at: [first day, day after the last)


def history_window(day: date, today: date, method: Method) -> tuple[date, date]:
    """The days to read: `weeks` whole weeks before the target day, or before today when
    the target is still to come (today is not over, so it is not history yet)."""
    end = min(day, today)
    return end - timedelta(days=7 * method.weeks), end


def forecast_day(
    history: Mapping[datetime, SlotHistory],
    day: date,
    zone: ZoneInfo,
    *,
    today: date,
    method: Method | None = None,
) -> DayForecast:
    """Forecast every half hour of the center's `day` from `history` (see the module)."""
    method = method or Method()
    start, end = history_window(day, today, method)
    days = _by_day(history, zone, start, end)
    # Days before the first contact ever seen are unknown, not quiet: left out. After it,
    # a day without contacts is a real zero (the center was closed, say).
    first = min(days, default=end)
    window = [end - timedelta(days=n) for n in range(1, 7 * method.weeks + 1)]
    known = [d for d in window if d >= first]
    weekday = [d for d in known if d.weekday() == day.weekday()]
    basis: Basis = "weekday" if weekday else "all_days" if known else "none"
    used = weekday or known
    weights = {d: method.decay ** (((end - d).days - 1) // 7) for d in used}
    total = sum(weights.values())
    volume = [0.0] * SLOTS_PER_DAY
    seconds = [0.0] * SLOTS_PER_DAY
    handled_weighted = [0.0] * SLOTS_PER_DAY
    handled = [0] * SLOTS_PER_DAY
    for d in used:
        w = weights[d]
        for slot, seen in days.get(d, {}).items():
            volume[slot] += w * seen.offered / total
            seconds[slot] += w * seen.handled_seconds
            handled_weighted[slot] += w * seen.handled
            handled[slot] += seen.handled
    all_seconds, all_handled = sum(seconds), sum(handled_weighted)
    whole_day_aht = all_seconds / all_handled if all_handled else None

    trend = _trend(days, weights, first=first, end=end, day=day, method=method)
    slots = []
    for at in half_hours(day, zone):
        slot = slot_of(at, zone)[1]
        aht = whole_day_aht
        if handled[slot] >= method.min_handled:
            aht = seconds[slot] / handled_weighted[slot]
        slots.append(SlotForecast(at, volume[slot] * trend, aht))
    return DayForecast(day, slots, basis, len(used), trend, (start, end))


def _by_day(
    history: Mapping[datetime, SlotHistory], zone: ZoneInfo, start: date, end: date
) -> dict[date, dict[int, SlotHistory]]:
    """History regrouped as {the center's day: {half hour of day: what it saw}}."""
    days: dict[date, dict[int, SlotHistory]] = defaultdict(dict)
    for at, seen in history.items():
        d, slot = slot_of(at, zone)
        if not start <= d < end or (seen.offered == 0 and seen.handled == 0):
            continue
        # The hour repeated when the clocks go back adds into the same half hours.
        before = days[d].get(slot, SlotHistory(0, 0.0, 0))
        days[d][slot] = SlotHistory(
            before.offered + seen.offered,
            before.handled_seconds + seen.handled_seconds,
            before.handled + seen.handled,
        )
    return days


def _trend(
    days: Mapping[date, Mapping[int, SlotHistory]],
    weights: Mapping[date, float],
    *,
    first: date,
    end: date,
    day: date,
    method: Method,
) -> float:
    """The straight line through the weekly totals, read at the target day over read at
    the profile's weighted age; 1.0 with too few complete weeks to draw a line."""
    points = []  # (middle of the week in days from `end`, contacts that week)
    for back in range(method.weeks):
        week = [end - timedelta(days=7 * back + n) for n in range(1, 8)]
        if min(week) < first:
            break  # this week and every older one reach before the history starts
        total = sum(s.offered for d in week for s in days.get(d, {}).values())
        points.append((-7.0 * back - 3.5, float(total)))
    if len(points) < method.trend_weeks or not weights:
        return 1.0
    slope, intercept = _line(points)
    total_weight = sum(weights.values())
    measured_at = sum(w * _offset(d, end) for d, w in weights.items()) / total_weight
    measured = intercept + slope * measured_at
    if measured <= 0:
        return 1.0  # a line that says "no contacts" where contacts were measured: no use
    factor = (intercept + slope * _offset(day, end)) / measured
    low, high = method.trend_limits
    return min(high, max(low, factor))


def _offset(d: date, end: date) -> float:
    """The middle of day `d` in days from the start of `end` (negative: before it)."""
    return (d - end).days + 0.5


def _line(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares slope and intercept."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / sxx if sxx else 0.0
    return slope, mean_y - slope * mean_x
