"""The review score and the checks on scorecards and scored items (pure functions)."""

from __future__ import annotations

import pytest

from callcenter.quality.scoring import Invalid, check_criteria, check_items, weighted_score

CRITERIA = [
    {"key": "greeting", "weight": 1, "max_points": 5, "critical": False},
    {"key": "solution", "weight": 3, "max_points": 10, "critical": False},
    {"key": "identity", "weight": 0.5, "max_points": 1, "critical": True},
]


def test_the_score_is_the_weighted_share_of_the_points():
    points = {"greeting": 4, "solution": 5, "identity": 1}
    # (1·4/5 + 3·5/10 + 0.5·1/1) / 4.5 · 100 = 2.8 / 4.5 · 100
    assert weighted_score(CRITERIA, points) == (62.2, False)
    full = {"greeting": 5, "solution": 10, "identity": 1}
    assert weighted_score(CRITERIA, full) == (100.0, False)


def test_a_zero_on_a_critical_criterion_fails_the_review():
    assert weighted_score(CRITERIA, {"greeting": 5, "solution": 10, "identity": 0}) == (0.0, True)
    # A zero elsewhere only costs its weight.
    assert weighted_score(CRITERIA, {"greeting": 0, "solution": 10, "identity": 1}) == (
        77.8,
        False,
    )


def test_every_criterion_is_scored_once_within_its_points():
    good = [{"key": "greeting", "points": 5}, {"key": "solution", "points": 0},
            {"key": "identity", "points": 1}]  # fmt: skip
    assert check_items(CRITERIA, good) == {"greeting": 5, "solution": 0, "identity": 1}
    with pytest.raises(Invalid) as twice:
        check_items(CRITERIA, [*good, {"key": "greeting", "points": 1}])
    assert twice.value.loc == ("items", 3, "key")
    with pytest.raises(Invalid) as too_many:
        check_items(CRITERIA, [{**good[0], "points": 6}, *good[1:]])
    assert too_many.value.loc == ("items", 0, "points")
    with pytest.raises(Invalid) as missing:
        check_items(CRITERIA, good[:2])
    assert (missing.value.loc, missing.value.message) == (("items",), "not scored: identity")


def test_a_scorecard_needs_criteria_with_unique_keys():
    with pytest.raises(Invalid) as empty:
        check_criteria([])
    assert empty.value.loc == ("criteria",)
    with pytest.raises(Invalid) as twice:
        check_criteria([*CRITERIA, {**CRITERIA[1], "weight": 2}])
    assert twice.value.loc == ("criteria", 3, "key")
