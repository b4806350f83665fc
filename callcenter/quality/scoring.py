"""The score of a review: a weighted percentage, and the critical rule.

    score = sum(weight * points / max_points) / sum(weight) * 100

over every criterion of the scorecard version, rounded to one decimal. A criterion
marked critical (e.g. "verified the caller's identity") that gets zero points fails the
whole review: its score is 0 whatever the others got, and `critical_failed` says why.
Pure functions: the service stores what they return, the page shows the same rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class Invalid(ValueError):
    """A value the caller sent that the rules refuse, at `loc` inside the request body."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def check_criteria(criteria: Sequence[Mapping[str, Any]]) -> None:
    """What the request's shape cannot say: keys unique within the scorecard."""
    if not criteria:
        raise Invalid(("criteria",), "a scorecard needs at least one criterion")
    seen: set[str] = set()
    for index, criterion in enumerate(criteria):
        if criterion["key"] in seen:
            raise Invalid(("criteria", index, "key"), f"key {criterion['key']!r} is used twice")
        seen.add(criterion["key"])


def check_items(
    criteria: Sequence[Mapping[str, Any]], items: Sequence[Mapping[str, Any]]
) -> dict[str, int]:
    """Points by criterion key: every criterion scored once, within 0..max_points."""
    by_key = {c["key"]: c for c in criteria}
    points: dict[str, int] = {}
    for index, item in enumerate(items):
        criterion = by_key.get(item["key"])
        if criterion is None:
            known = ", ".join(by_key)
            raise Invalid(("items", index, "key"), f"unknown criterion; this scorecard has {known}")
        if item["key"] in points:
            raise Invalid(("items", index, "key"), f"{item['key']!r} is scored twice")
        if not 0 <= item["points"] <= criterion["max_points"]:
            raise Invalid(
                ("items", index, "points"), f"between 0 and {criterion['max_points']} points"
            )
        points[item["key"]] = item["points"]
    missing = [key for key in by_key if key not in points]
    if missing:
        raise Invalid(("items",), "not scored: " + ", ".join(missing))
    return points


def weighted_score(
    criteria: Sequence[Mapping[str, Any]], points: Mapping[str, int]
) -> tuple[float, bool]:
    """(score 0–100, whether a critical criterion failed it)."""
    if any(c.get("critical") and points[c["key"]] == 0 for c in criteria):
        return 0.0, True
    total = sum(float(c["weight"]) for c in criteria)
    got = sum(float(c["weight"]) * points[c["key"]] / c["max_points"] for c in criteria)
    return round(got / total * 100, 1), False
