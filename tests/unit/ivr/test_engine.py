"""The engine's walk through flows, on scripted callers (no phone, no Asterisk)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter.ivr.model import Flow
from callcenter.ivr.simulate import simulate


def _flow(**nodes: dict) -> Flow:
    return Flow.model_validate({"name": "t", "numbers": ["100"], "start": "menu", "nodes": nodes})


MENU = {
    "type": "menu",
    "prompt": {"say": "press 1 or 2"},
    "options": {"1": "one", "2": "two"},
    "retries": 2,
    "invalid_prompt": {"say": "wrong"},
    "no_input_prompt": {"say": "silence"},
    "invalid": "bad",
    "no_input": "quiet",
}
END = {"type": "hangup"}


async def test_menu_takes_the_pressed_option():
    flow = _flow(menu=MENU, one=END, two=END, bad=END, quiet=END)
    outcome, lines = await simulate(flow, dtmf="2")
    assert outcome.reason == "hangup" and outcome.node == "two"
    assert "  caller presses 2 (barge-in)" in lines


async def test_menu_retries_then_takes_the_failure_branch():
    flow = _flow(menu=MENU, one=END, two=END, bad=END, quiet=END)
    outcome, lines = await simulate(flow, dtmf="78")
    assert outcome.node == "bad"
    assert "  plays 'wrong'" in lines
    outcome, _ = await simulate(flow, dtmf=",,")
    assert outcome.node == "quiet"


async def test_without_barge_in_digits_wait_for_the_prompt_to_end():
    menu = {**MENU, "barge_in": False}
    flow = _flow(menu=menu, one=END, two=END, bad=END, quiet=END)
    outcome, lines = await simulate(flow, dtmf="1")
    assert outcome.node == "one"
    assert not any("barge-in" in line for line in lines)


async def test_collect_validates_confirms_and_stores():
    collect = {
        "type": "collect",
        "prompt": {"say": "order?"},
        "store": "order",
        "min_digits": 4,
        "max_digits": 6,
        "pattern": "[1-9][0-9]*",
        "confirm": True,
        "retries": 4,
        "next": "done",
    }
    done = {"type": "play", "prompt": {"say": "order {order}"}}
    flow = Flow.model_validate(
        {"name": "t", "start": "ask", "nodes": {"ask": collect, "done": done}}
    )
    # 12 is too short; 01234 fails the pattern; 4321 is confirmed with 2, then 5678 with 1.
    outcome, lines = await simulate(flow, dtmf="12#01234#4321#25678#1")
    assert outcome.variables["order"] == "5678"
    assert "  plays 'order 5678'" in lines
    assert outcome.reason == "end"


async def test_condition_goes_by_business_hours_in_the_flow_time_zone():
    hours = {
        "type": "condition",
        "branches": [
            {
                "business_hours": {"timezone": "Asia/Shanghai", "weekly": {"mon": ["09:00-18:00"]}},
                "then": "open",
            }
        ],
        "otherwise": "closed",
    }
    flow = Flow.model_validate(
        {"name": "t", "start": "hours", "nodes": {"hours": hours, "open": END, "closed": END}}
    )
    monday_10_shanghai = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    monday_20_shanghai = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert (await simulate(flow, at=monday_10_shanghai))[0].node == "open"
    assert (await simulate(flow, at=monday_20_shanghai))[0].node == "closed"


async def test_set_and_goto_another_flow():
    first = Flow.model_validate(
        {
            "name": "first",
            "start": "s",
            "nodes": {
                "s": {"type": "set", "variables": {"who": "caller {caller_number}"}, "next": "g"},
                "g": {"type": "goto", "flow": "second"},
            },
        }
    )
    second = Flow.model_validate(
        {"name": "second", "start": "bye", "nodes": {"bye": {"type": "hangup"}}}
    )

    class Flows:
        def flow(self, name: str) -> Flow | None:
            return {"first": first, "second": second}.get(name)

    outcome, _ = await simulate(first, caller="+861234", flows=Flows())
    assert outcome.node == "bye" and outcome.variables["who"] == "caller +861234"


@pytest.mark.parametrize(("said", "dtmf", "target"), [("billing", "", "b"), (None, "2", "t")])
async def test_speech_menu_by_voice_or_keypad(said, dtmf, target):
    node = {
        "type": "speech_menu",
        "prompt": {"say": "billing or technical?"},
        "phrases": {"billing": "b", "technical": "t"},
        "dtmf": {"1": "b", "2": "t"},
    }
    flow = Flow.model_validate(
        {"name": "t", "start": "sm", "nodes": {"sm": node, "b": END, "t": END}}
    )
    outcome, _ = await simulate(flow, dtmf=dtmf, said=[said] if said else [])
    assert outcome.node == target
