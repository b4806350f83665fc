"""The seasonal forecast on synthetic history: patterns come back, trends are followed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callcenter.forecast.history import SlotHistory, day_start, half_hours, slot_of, slot_start
from callcenter.forecast.model import Method, forecast_day, history_window

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 30)  # a Monday


def weekly(day: date, slot: int) -> float:
    """Weekdays 08:00–18:00, busier early in the week and at 10:00; weekends closed."""
    if day.weekday() >= 5 or not 16 <= slot < 36:
        return 0.0
    return (5 - day.weekday()) * 4.0 + (10.0 if slot in (20, 21) else 0.0)


def build(
    first: date, end: date, volume: Callable[[date, int], float], aht: float = 200.0
) -> dict[datetime, SlotHistory]:
    """History as a HistorySource returns it: every call handled in `aht` seconds."""
    history = {}
    day = first
    while day < end:
        for at in half_hours(day, SHANGHAI):
            offered = round(volume(day, slot_of(at, SHANGHAI)[1]))
            if offered:
                history[at] = SlotHistory(offered, offered * aht, offered)
        day += timedelta(days=1)
    return history


def test_a_weekly_pattern_comes_back_slot_for_slot():
    history = build(TODAY - timedelta(weeks=8), TODAY, weekly)
    for day in (TODAY, TODAY + timedelta(days=2), TODAY + timedelta(days=5)):
        forecast = forecast_day(history, day, SHANGHAI, today=TODAY)
        assert forecast.basis == "weekday" and forecast.days_used == 8
        assert forecast.trend == pytest.approx(1.0)
        got = [s.volume for s in forecast.slots]
        assert got == pytest.approx([weekly(day, n) for n in range(48)])
        # Half hours are the center's: 10:00 local is 02:00 UTC.
        assert forecast.slots[20].start == datetime(day.year, day.month, day.day, 2, tzinfo=UTC)


def test_a_growing_volume_is_followed_not_averaged_away():
    start = TODAY - timedelta(weeks=8)

    def growing(day: date, slot: int) -> float:
        return weekly(day, slot) * 10 * (1 + 0.01 * (day - start).days)  # +1 % a day

    history = build(start, TODAY, growing)
    forecast = forecast_day(history, TODAY, SHANGHAI, today=TODAY)
    expected = growing(TODAY, 20)
    assert forecast.trend > 1.05
    assert forecast.slots[20].volume == pytest.approx(expected, rel=0.03)
    untrended = forecast.slots[20].volume / forecast.trend
    assert untrended < 0.93 * expected  # the plain average lags weeks behind
    # A week ahead, the line goes on (within its limits).
    ahead = forecast_day(history, TODAY + timedelta(weeks=1), SHANGHAI, today=TODAY)
    assert ahead.slots[20].volume == pytest.approx(
        growing(TODAY + timedelta(weeks=1), 20), rel=0.03
    )


def test_the_trend_factor_is_kept_within_its_limits():
    start = TODAY - timedelta(weeks=8)
    history = build(start, TODAY, lambda d, s: weekly(d, s) * (1 + (d - start).days) / 10)
    method = Method(trend_limits=(0.8, 1.2))
    far = forecast_day(history, TODAY + timedelta(weeks=20), SHANGHAI, today=TODAY, method=method)
    assert far.trend == 1.2


def test_recent_weeks_weigh_more():
    start = TODAY - timedelta(weeks=8)
    # The last week doubled, once: no line through 8 weeks follows a step, the weights do.
    history = build(
        start, TODAY, lambda d, s: weekly(d, s) * (2 if d >= TODAY - timedelta(7) else 1)
    )
    flat = Method(trend_limits=(1.0, 1.0))
    forecast = forecast_day(history, TODAY, SHANGHAI, today=TODAY, method=flat)
    weights = [0.8**k for k in range(8)]
    expected = weekly(TODAY, 20) * (2 * weights[0] + sum(weights[1:])) / sum(weights)
    assert forecast.slots[20].volume == pytest.approx(expected)
    even = forecast_day(
        history, TODAY, SHANGHAI, today=TODAY, method=Method(decay=1.0, trend_limits=(1.0, 1.0))
    )
    assert even.slots[20].volume == pytest.approx(weekly(TODAY, 20) * 9 / 8)


def test_days_before_the_history_starts_are_not_zeros():
    # Two weeks of history in an eight-week window: the six empty weeks are unknown.
    history = build(TODAY - timedelta(weeks=2), TODAY, weekly)
    forecast = forecast_day(history, TODAY, SHANGHAI, today=TODAY)
    assert forecast.days_used == 2 and forecast.trend == 1.0  # too few weeks for a line
    assert forecast.slots[20].volume == pytest.approx(weekly(TODAY, 20))


def test_a_closed_day_inside_the_history_is_a_real_zero():
    history = build(TODAY - timedelta(weeks=8), TODAY, weekly)
    sunday = forecast_day(history, TODAY + timedelta(days=6), SHANGHAI, today=TODAY)
    assert sunday.basis == "weekday" and sum(s.volume for s in sunday.slots) == 0


def test_a_weekday_without_history_uses_every_day():
    # A center open since Friday: the first Monday has only Friday to Sunday to go on.
    history = build(TODAY - timedelta(days=3), TODAY, lambda d, s: 6.0 if 16 <= s < 36 else 0.0)
    forecast = forecast_day(history, TODAY, SHANGHAI, today=TODAY)
    assert forecast.basis == "all_days" and forecast.days_used == 3
    assert forecast.slots[20].volume == pytest.approx(6.0)
    nothing = forecast_day({}, TODAY, SHANGHAI, today=TODAY)
    assert nothing.basis == "none" and nothing.days_used == 0
    assert all(s.volume == 0 and s.aht is None for s in nothing.slots)


def test_handle_time_per_half_hour_with_the_day_as_fallback():
    history = build(TODAY - timedelta(weeks=8), TODAY, weekly, aht=240.0)
    # 10:00 gets longer calls; 08:00 sees too few calls for an AHT of its own.
    for at, seen in list(history.items()):
        if slot_of(at, SHANGHAI)[1] == 20:
            history[at] = SlotHistory(seen.offered, seen.offered * 400.0, seen.offered)
        if slot_of(at, SHANGHAI)[1] == 16:
            history[at] = SlotHistory(seen.offered, 0.0, 0)
    forecast = forecast_day(history, TODAY, SHANGHAI, today=TODAY)
    assert forecast.slots[20].aht == pytest.approx(400.0)
    assert forecast.slots[17].aht == pytest.approx(240.0)
    day_aht = forecast.slots[16].aht
    assert day_aht is not None and 240.0 < day_aht < 400.0


def test_history_ends_before_today_and_a_past_day_is_a_backtest():
    method = Method(weeks=4)
    assert history_window(TODAY + timedelta(days=9), TODAY, method) == (
        TODAY - timedelta(weeks=4),
        TODAY,
    )
    past = TODAY - timedelta(days=10)
    assert history_window(past, TODAY, method) == (past - timedelta(weeks=4), past)
    # The target day's own calls are never part of its forecast.
    history = build(TODAY - timedelta(weeks=8), TODAY + timedelta(days=1), weekly)
    history[day_start(TODAY, SHANGHAI) + timedelta(hours=2)] = SlotHistory(999, 0.0, 0)
    forecast = forecast_day(history, TODAY, SHANGHAI, today=TODAY)
    assert forecast.slots[20].volume == pytest.approx(weekly(TODAY, 20))


def test_half_hours_follow_the_centers_clock():
    berlin = ZoneInfo("Europe/Berlin")
    assert len(list(half_hours(date(2026, 10, 25), berlin))) == 50  # clocks go back
    assert len(list(half_hours(date(2026, 3, 29), berlin))) == 46  # clocks go forward
    kathmandu = ZoneInfo("Asia/Kathmandu")  # +05:45
    at = datetime(2026, 11, 30, 4, 20, tzinfo=UTC)  # 10:05 there
    assert slot_start(at, kathmandu) == datetime(2026, 11, 30, 4, 15, tzinfo=UTC)
    assert slot_of(at, kathmandu) == (date(2026, 11, 30), 20)
