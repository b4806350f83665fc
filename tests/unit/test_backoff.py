"""Backoff: exact delays with injected randomness, cap, jitter bounds, reset."""

from __future__ import annotations

import pytest

from callcenter.backoff import Backoff


def test_grows_exponentially_then_caps() -> None:
    backoff = Backoff(initial=0.1, factor=2.0, max=0.5, jitter=0.0)
    delays = [backoff.next_delay() for _ in range(6)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5, 0.5])


def test_jitter_shrinks_within_bounds_and_never_reaches_zero() -> None:
    backoff = Backoff(initial=1.0, factor=1.0, max=1.0, jitter=0.5, rand=lambda: 0.999999)
    assert backoff.next_delay() == pytest.approx(0.5, rel=1e-4)
    backoff = Backoff(initial=1.0, factor=1.0, max=1.0, jitter=0.5, rand=lambda: 0.0)
    assert backoff.next_delay() == 1.0
    # a misbehaving random source is clamped: still strictly positive
    backoff = Backoff(initial=1.0, jitter=0.9, rand=lambda: 7.0)
    assert backoff.next_delay() == pytest.approx(0.1)


def test_default_random_stays_in_range() -> None:
    backoff = Backoff(initial=0.2, factor=3.0, max=5.0, jitter=0.3)
    for _ in range(50):
        base = backoff.peek()
        delay = backoff.next_delay()
        assert 0.7 * base <= delay <= base


def test_reset_starts_over_and_clone_has_no_history() -> None:
    backoff = Backoff(initial=0.1, factor=10.0, max=100.0, jitter=0.0)
    backoff.next_delay()
    backoff.next_delay()
    assert backoff.attempts == 2
    clone = backoff.clone()
    assert clone.attempts == 0 and clone.next_delay() == pytest.approx(0.1)
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.1)


def test_huge_attempt_counts_do_not_overflow() -> None:
    backoff = Backoff(initial=1.0, factor=10.0, max=30.0, jitter=0.0)
    backoff.attempts = 10_000
    assert backoff.next_delay() == 30.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": 0.0},
        {"initial": -1.0},
        {"factor": 0.5},
        {"initial": 2.0, "max": 1.0},
        {"jitter": 1.0},
        {"jitter": -0.1},
    ],
)
def test_rejects_settings_that_could_busy_spin_or_make_no_sense(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)
