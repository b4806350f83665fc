"""Deciding a `condition` node: opening hours, holidays, variables, caller, customer class.

Pure functions of a `ConditionContext`, so the same flow decides the same way in a call,
in `callcenter ivr simulate --at ...` and in tests with a set clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from callcenter.ivr.model import Branch, BusinessHours, Compare, ConditionNode

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class ConditionContext:
    """What a condition may look at, fixed at the moment the node runs."""

    now: datetime  # timezone-aware
    variables: Mapping[str, str]
    caller_number: str
    customer_class: str  # "vip" | "returning" | "new"

    def __post_init__(self) -> None:
        # A naive time would be read as the server's local time: silently wrong hours.
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("ConditionContext.now must be timezone-aware")


def choose(node: ConditionNode, ctx: ConditionContext) -> str:
    """The node to go to: the first branch that holds, else `otherwise`."""
    for branch in node.branches:
        if branch_holds(branch, ctx):
            return branch.then
    return node.otherwise


def branch_holds(branch: Branch, ctx: ConditionContext) -> bool:
    """Whether the one test of `branch` holds (the model guarantees exactly one is set)."""
    if branch.business_hours is not None:
        return is_open(branch.business_hours, ctx.now)
    if branch.holiday is not None:
        return is_listed_day(branch.holiday, ctx.now)
    if branch.compare is not None:
        return compare_holds(branch.compare, ctx.variables)
    if branch.caller_matches is not None:
        return re.fullmatch(branch.caller_matches, ctx.caller_number) is not None
    return ctx.customer_class == branch.customer_class


def is_listed_day(days: list[str], now: datetime) -> bool:
    """The `holiday` branch: is today's date (a UTC calendar day) in `days`?

    The branch has no time zone of its own, so its days run midnight to midnight UTC. A
    flow that needs local days lists them in `business_hours.holidays`, which uses the
    hours' `timezone`.
    """
    return now.astimezone(UTC).date().isoformat() in days


def is_open(hours: BusinessHours, now: datetime) -> bool:
    """Open at `now`, in the hours' own time zone (DST included)?

    A range includes its start minute and excludes its end: "09:00-18:00" is open at
    17:59:59 and closed at 18:00:00. A listed holiday is closed all (local) day.
    """
    local = now.astimezone(ZoneInfo(hours.timezone))
    if local.date().isoformat() in hours.holidays:
        return False
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in day_ranges(hours, local.date()))


def day_ranges(hours: BusinessHours, day: date) -> list[tuple[int, int]]:
    """The open ranges of `day`'s weekday, as minutes since local midnight."""
    return [parse_range(text) for text in hours.weekly.get(WEEKDAYS[day.weekday()], [])]


def parse_range(text: str) -> tuple[int, int]:
    """ "09:00-18:00" -> (540, 1080), minutes since midnight; "24:00" may end a day.

    Raises ValueError for a malformed range; `validate.py` uses this to check flows, and
    rejects ranges whose end is not after their start (those never hold here).
    """
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"bad time range {text!r}: expected HH:MM-HH:MM")
    return _minutes(start, MINUTES_PER_DAY - 1), _minutes(end, MINUTES_PER_DAY)


def _minutes(text: str, highest: int) -> int:
    hours, sep, minutes = text.partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"bad time {text!r}: expected HH:MM")
    if int(minutes) > 59:
        raise ValueError(f"bad time {text!r}: minutes go up to 59")
    value = int(hours) * 60 + int(minutes)
    if value > highest:
        raise ValueError(f"bad time {text!r}: past the end of the day")
    return value


def compare_holds(compare: Compare, variables: Mapping[str, str]) -> bool:
    """Every comparison given must hold; a variable that is not set compares as ""."""
    value = variables.get(compare.variable, "")
    if compare.equals is not None and value != compare.equals:
        return False
    if compare.not_equals is not None and value == compare.not_equals:
        return False
    return compare.matches is None or re.fullmatch(compare.matches, value) is not None
