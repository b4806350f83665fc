"""Condition nodes decided with a set clock: hours in several time zones, and the rest."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callcenter.ivr.conditions import (
    ConditionContext,
    branch_holds,
    choose,
    is_open,
    parse_range,
)
from callcenter.ivr.model import Branch, BusinessHours, ConditionNode

SHANGHAI = ZoneInfo("Asia/Shanghai")  # UTC+8 all year, no DST
NEW_YORK = ZoneInfo("America/New_York")

WEEKDAYS_9_TO_6 = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


def hours(timezone: str = "UTC", **extra: Any) -> BusinessHours:
    return BusinessHours.model_validate({"timezone": timezone, "weekly": WEEKDAYS_9_TO_6, **extra})


def ctx(
    now: datetime,
    variables: Mapping[str, str] | None = None,
    caller: str = "+8613800000000",
    customer_class: str = "new",
) -> ConditionContext:
    return ConditionContext(now, variables or {}, caller, customer_class)


def branch(**test: Any) -> Branch:
    return Branch.model_validate({**test, "then": "yes"})


# 2026-03-02 is a Monday.
@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 3, 2, 8, 59, 59), False),
        (datetime(2026, 3, 2, 9, 0), True),  # start minute included
        (datetime(2026, 3, 2, 12, 30), True),
        (datetime(2026, 3, 2, 17, 59, 59), True),
        (datetime(2026, 3, 2, 18, 0), False),  # end minute excluded
        (datetime(2026, 3, 7, 12, 0), False),  # Saturday
        (datetime(2026, 3, 8, 12, 0), False),  # Sunday
    ],
)
def test_hours_in_shanghai(local: datetime, expected: bool) -> None:
    assert is_open(hours("Asia/Shanghai"), local.replace(tzinfo=SHANGHAI)) is expected


def test_now_is_converted_to_the_hours_time_zone() -> None:
    shanghai = hours("Asia/Shanghai")
    # 01:00 UTC on Monday is 09:00 in Shanghai: open there, not yet in UTC.
    now = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    assert is_open(shanghai, now)
    assert not is_open(hours("UTC"), now)
    # 10:00 UTC is 18:00 in Shanghai: just closed.
    assert not is_open(shanghai, datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    # Friday 17:00 in Los Angeles is Saturday 09:00 in Shanghai: closed for the weekend.
    friday_la = datetime(2026, 3, 6, 17, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert not is_open(shanghai, friday_la)
    assert is_open(hours("America/Los_Angeles"), friday_la - timedelta(hours=1))


def test_any_aware_now_works() -> None:
    fixed = timezone(timedelta(hours=-5))
    assert is_open(hours("Asia/Shanghai"), datetime(2026, 3, 1, 20, 0, tzinfo=fixed))


def test_daylight_saving_time_moves_the_utc_opening() -> None:
    new_york = hours("America/New_York")
    # Winter (EST, UTC-5): 09:00 local is 14:00 UTC.
    assert not is_open(new_york, datetime(2026, 3, 6, 13, 59, tzinfo=UTC))
    assert is_open(new_york, datetime(2026, 3, 6, 14, 0, tzinfo=UTC))
    # After 2026-03-08 (EDT, UTC-4): 09:00 local is 13:00 UTC.
    assert is_open(new_york, datetime(2026, 3, 9, 13, 0, tzinfo=UTC))
    assert not is_open(new_york, datetime(2026, 3, 9, 12, 59, tzinfo=UTC))
    assert is_open(new_york, datetime(2026, 3, 9, 9, 0, tzinfo=NEW_YORK))


def test_several_ranges_a_day_and_end_of_day() -> None:
    split = BusinessHours(timezone="Asia/Shanghai", weekly={"sat": ["09:00-12:00", "13:00-24:00"]})
    saturday = datetime(2026, 3, 7, tzinfo=SHANGHAI)
    assert is_open(split, saturday.replace(hour=11, minute=59))
    assert not is_open(split, saturday.replace(hour=12, minute=30))
    assert is_open(split, saturday.replace(hour=23, minute=59, second=59))
    assert not is_open(split, saturday + timedelta(days=1))  # Sunday 00:00


def test_holidays_are_closed_all_day_in_the_hours_time_zone() -> None:
    shanghai = hours("Asia/Shanghai", holidays=["2026-10-01"])
    assert not is_open(shanghai, datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI))
    assert is_open(shanghai, datetime(2026, 10, 2, 10, 0, tzinfo=SHANGHAI))
    # 2026-10-01 02:00 UTC is 10:00 on the holiday in Shanghai.
    assert not is_open(shanghai, datetime(2026, 10, 1, 2, 0, tzinfo=UTC))
    # The holiday follows Shanghai's calendar, not UTC's.
    all_day = BusinessHours(
        timezone="Asia/Shanghai",
        weekly={"wed": ["00:00-24:00"], "thu": ["00:00-24:00"], "fri": ["00:00-24:00"]},
        holidays=["2026-10-01"],
    )
    assert not is_open(all_day, datetime(2026, 9, 30, 17, 0, tzinfo=UTC))  # Oct 1, 01:00 local
    assert is_open(all_day, datetime(2026, 10, 1, 17, 0, tzinfo=UTC))  # Oct 2, 01:00 local
    assert is_open(all_day, datetime(2026, 9, 30, 15, 59, tzinfo=UTC))  # Sep 30, 23:59 local


def test_no_hours_means_closed() -> None:
    assert not is_open(BusinessHours(), datetime(2026, 3, 2, 12, 0, tzinfo=UTC))


def test_holiday_branch_compares_utc_dates() -> None:
    christmas = branch(holiday=["2026-12-25"])
    assert branch_holds(christmas, ctx(datetime(2026, 12, 25, 0, 0, tzinfo=UTC)))
    assert branch_holds(christmas, ctx(datetime(2026, 12, 25, 23, 59, tzinfo=UTC)))
    assert not branch_holds(christmas, ctx(datetime(2026, 12, 26, 0, 0, tzinfo=UTC)))
    # 07:00 on the 26th in Shanghai is still the 25th in UTC.
    assert branch_holds(christmas, ctx(datetime(2026, 12, 26, 7, 0, tzinfo=SHANGHAI)))
    assert not branch_holds(christmas, ctx(datetime(2026, 12, 25, 7, 0, tzinfo=SHANGHAI)))


def test_compare() -> None:
    now = datetime(2026, 3, 2, tzinfo=UTC)
    gold = ctx(now, {"tier": "gold", "account": "12345"})
    assert branch_holds(branch(compare={"variable": "tier", "equals": "gold"}), gold)
    assert not branch_holds(branch(compare={"variable": "tier", "equals": "Gold"}), gold)
    assert branch_holds(branch(compare={"variable": "tier", "not_equals": "silver"}), gold)
    assert not branch_holds(branch(compare={"variable": "tier", "not_equals": "gold"}), gold)
    assert branch_holds(branch(compare={"variable": "account", "matches": r"\d{5}"}), gold)
    # matches is a full match, not a search
    assert not branch_holds(branch(compare={"variable": "account", "matches": r"\d{3}"}), gold)
    both = {"variable": "account", "matches": r"\d+", "not_equals": "12345"}
    assert not branch_holds(branch(compare=both), gold)


def test_compare_missing_variable_is_empty() -> None:
    empty = ctx(datetime(2026, 3, 2, tzinfo=UTC))
    assert branch_holds(branch(compare={"variable": "tier", "equals": ""}), empty)
    assert branch_holds(branch(compare={"variable": "tier", "not_equals": "gold"}), empty)
    assert branch_holds(branch(compare={"variable": "tier", "matches": r"\d*"}), empty)
    assert not branch_holds(branch(compare={"variable": "tier", "matches": r"\d+"}), empty)


def test_caller_matches_whole_number() -> None:
    china_mobile = branch(caller_matches=r"\+86 ?1\d{10}")
    now = datetime(2026, 3, 2, tzinfo=UTC)
    assert branch_holds(china_mobile, ctx(now, caller="+8613800000000"))
    assert not branch_holds(china_mobile, ctx(now, caller="+861380000000099"))
    assert not branch_holds(china_mobile, ctx(now, caller="0086 13800000000"))
    assert not branch_holds(china_mobile, ctx(now, caller=""))


def test_customer_class() -> None:
    now = datetime(2026, 3, 2, tzinfo=UTC)
    vip = branch(customer_class="vip")
    assert branch_holds(vip, ctx(now, customer_class="vip"))
    assert not branch_holds(vip, ctx(now, customer_class="returning"))


def test_choose_takes_the_first_branch_that_holds() -> None:
    node = ConditionNode.model_validate(
        {
            "type": "condition",
            "branches": [
                {"holiday": ["2026-10-01"], "then": "holiday"},
                {"customer_class": "vip", "then": "vip_line"},
                {"business_hours": {"timezone": "Asia/Shanghai", "weekly": WEEKDAYS_9_TO_6},
                 "then": "open"},
            ],
            "otherwise": "closed",
        }
    )  # fmt: skip
    monday_10 = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
    monday_20 = datetime(2026, 3, 2, 20, 0, tzinfo=SHANGHAI)
    assert choose(node, ctx(monday_10)) == "open"
    assert choose(node, ctx(monday_20)) == "closed"
    assert choose(node, ctx(monday_20, customer_class="vip")) == "vip_line"
    holiday = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    assert choose(node, ctx(holiday, customer_class="vip")) == "holiday"


def test_context_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ctx(datetime(2026, 3, 2, 12, 0))


def test_parse_range() -> None:
    assert parse_range("09:00-18:00") == (540, 1080)
    assert parse_range("00:00-24:00") == (0, 1440)
    for bad in ("9-18", "09:00", "24:00-24:00", "09:60-10:00", "10:00-24:01", "ab:cd-10:00"):
        with pytest.raises(ValueError, match="bad time"):
            parse_range(bad)
