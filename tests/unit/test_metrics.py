"""The metric definitions (docs/metrics.md) on hand-counted cases."""

from __future__ import annotations

import pytest

from callcenter.metrics import ServiceLevel, Tally, VisitOutcome, occupancy

SL = ServiceLevel(seconds=20, target=0.8, abandoned="counted", short_abandon=5)


def _tally(sl: ServiceLevel = SL) -> Tally:
    tally = Tally()
    for waited in (3, 15, 40):  # two within 20 s
        tally.count(VisitOutcome.ANSWERED, waited, sl)
    tally.count(VisitOutcome.ABANDONED, 2, sl)  # short: no real offer
    tally.count(VisitOutcome.ABANDONED, 30, sl)
    tally.count(VisitOutcome.OVERFLOWED, 60, sl)
    return tally


def test_counts_and_rates_follow_the_definitions():
    tally = _tally()
    assert (tally.entered, tally.offered, tally.answered, tally.real_abandoned) == (6, 5, 3, 1)
    assert tally.service_level(SL) == pytest.approx(2 / 5)  # 3 answered + 1 + 1 overflowed
    assert tally.asa == pytest.approx(58 / 3)
    assert tally.abandonment_rate == pytest.approx(1 / 5)
    assert tally.average_abandon_wait == 30


def test_abandoned_ignored_leaves_them_out_of_the_service_level():
    ignored = ServiceLevel(seconds=20, abandoned="ignored")
    assert _tally(ignored).service_level(ignored) == pytest.approx(2 / 4)


def test_threshold_is_inclusive_and_nothing_counted_is_none():
    tally = Tally()
    assert tally.service_level(SL) is None and tally.asa is None and tally.aht is None
    tally.count(VisitOutcome.ANSWERED, 20.0, SL)
    assert tally.service_level(SL) == 1.0


def test_handle_time_is_talk_hold_and_wrap_up_per_conversation():
    tally = Tally()
    tally.handle(talk=100, hold=20, wrap_up=30, transfers=1)
    tally.handle(talk=50, hold=0, wrap_up=0)
    assert tally.aht == 100 and tally.transfers == 1


def test_tallies_add_up():
    total = _tally() + _tally()
    assert total.offered == 10 and total.service_level(SL) == pytest.approx(2 / 5)
    assert total.summary(SL)["service_level"] == 0.4


def test_occupancy_is_busy_over_ready_time():
    assert occupancy(30, 10) == 0.75 and occupancy(0, 0) is None
