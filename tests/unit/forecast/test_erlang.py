"""Erlang C against the textbook formula and the published example, and its edges."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from callcenter.forecast.erlang import agents_needed, asa, erlang_b, erlang_c, service_level


def textbook_c(agents: int, traffic: int) -> float:
    """Erlang C written as in the books, with exact fractions: A^N/N! · N/(N-A) over
    the sum of A^k/k! for k < N plus that same term. Slow, exact, independent."""
    a = Fraction(traffic)
    top = a**agents / math.factorial(agents) * Fraction(agents, agents - traffic)
    below = sum(a**k / math.factorial(k) for k in range(agents))
    return float(top / (below + top))


@pytest.mark.parametrize(("agents", "traffic"), [(11, 10), (14, 10), (30, 25), (120, 100)])
def test_erlang_c_agrees_with_the_factorial_formula(agents, traffic):
    assert erlang_c(agents, traffic) == pytest.approx(textbook_c(agents, traffic), rel=1e-12)


def test_the_published_example_100_calls_per_half_hour():
    # 100 calls in 30 minutes at 180 s AHT = 10 Erlangs; 80 % within 20 s.
    traffic = 100 * 180 / 1800
    assert traffic == 10
    for agents in (13, 14):
        expected = 1 - textbook_c(agents, 10) * math.exp(-(agents - 10) * 20 / 180)
        assert service_level(agents, traffic, 180, 20) == pytest.approx(expected, rel=1e-12)
    assert service_level(13, traffic, 180, 20) < 0.8  # 0.7956
    assert service_level(14, traffic, 180, 20) == pytest.approx(0.8884, abs=1e-4)
    assert asa(14, traffic, 180) == pytest.approx(7.84, abs=0.01)
    staffing = agents_needed(traffic, 180, 20, 0.8)
    assert staffing.agents == 14 and staffing.limited_by == "service_level"
    assert staffing.service_level == pytest.approx(0.8884, abs=1e-4)
    assert staffing.occupancy == pytest.approx(10 / 14)


def test_large_teams_need_no_factorials():
    # 5,000 Erlangs: A^N/N! overflows a float long before; the recursion does not.
    staffing = agents_needed(5000, 300, 20, 0.8)
    assert 5000 < staffing.agents < 5100
    assert 0.8 <= staffing.service_level < service_level(staffing.agents + 1, 5000, 300, 20)
    assert service_level(staffing.agents - 1, 5000, 300, 20) < 0.8
    assert 0 <= erlang_c(staffing.agents, 5000) <= 1


def test_no_traffic_needs_nobody_and_waits_for_nothing():
    assert erlang_c(0, 0) == 0.0 and erlang_b(3, 0) == 0.0
    assert service_level(0, 0, 180, 20) == 1.0 and asa(0, 0, 180) == 0.0
    staffing = agents_needed(0, 180, 20, 0.8)
    assert (staffing.agents, staffing.scheduled, staffing.limited_by) == (0, 0, "none")


def test_traffic_at_or_beyond_the_agents_means_everybody_waits_forever():
    assert erlang_c(10, 10) == 1.0 and erlang_c(5, 12.5) == 1.0
    assert service_level(10, 10, 180, 20) == 0.0
    assert asa(10, 10, 180) == math.inf
    assert agents_needed(10, 180, 20, 0.0).agents == 11  # a queue that drains: N > A


def test_a_little_traffic_still_needs_one_agent():
    staffing = agents_needed(0.05, 180, 20, 0.8)
    assert staffing.agents == 1 and staffing.service_level >= 0.8


def test_occupancy_cap_and_shrinkage():
    plain = agents_needed(100, 180, 20, 0.8)
    assert plain.occupancy > 0.85  # big queues meet 80/20 with agents nearly always busy
    capped = agents_needed(100, 180, 20, 0.8, max_occupancy=0.85)
    assert capped.agents == math.ceil(100 / 0.85) and capped.limited_by == "occupancy"
    shrunk = agents_needed(10, 180, 20, 0.8, shrinkage=0.3)
    assert (shrunk.agents, shrunk.scheduled) == (14, 20)  # 14 / 0.7 = 20 exactly


def test_a_100_percent_target_is_still_an_answer():
    staffing = agents_needed(10, 180, 20, 1.0)
    assert staffing.service_level == 1.0 and staffing.agents < 60


@pytest.mark.parametrize(
    "kwargs",
    [
        {"traffic": -1},
        {"traffic": math.nan},
        {"aht": 0},
        {"target": 1.5},
        {"threshold": -1},
        {"shrinkage": 1.0},
        {"max_occupancy": 0},
    ],
)
def test_nonsense_is_refused(kwargs):
    args = {"traffic": 10.0, "aht": 180.0, "threshold": 20.0, "target": 0.8} | kwargs
    with pytest.raises(ValueError):
        agents_needed(**args)
