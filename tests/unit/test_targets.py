"""Transfer, conference and dial targets as the desktop names them."""

import pytest

from callcenter.calls.targets import PHONE_KINDS, BadTarget, Target, target_of


@pytest.mark.parametrize(
    ("message", "target", "endpoint"),
    [
        ({"extension": "1002"}, Target("extension", "1002"), "PJSIP/1002"),
        ({"number": "+8613800138000"}, Target("number", "+8613800138000"),
         "PJSIP/+8613800138000@trunk"),
    ],
)  # fmt: skip
def test_phones_are_rung_through_their_endpoint(message, target, endpoint):
    assert target_of(message, PHONE_KINDS) == target
    assert target.endpoint == endpoint


def test_routing_targets_are_not_phones():
    assert target_of({"queue": "second_line"}) == Target("queue", "second_line")
    assert target_of({"agent": 12}) == Target("agent", "12")
    with pytest.raises(BadTarget):
        _ = Target("queue", "sales").endpoint


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ({}, "name one of"),
        ({"extension": "1002", "number": "+861380"}, "name one of"),
        ({"extension": "10a2"}, "not a valid extension"),
        ({"number": "12; Dial(evil)"}, "not a valid number"),
        ({"queue": "../etc"}, "not a valid queue"),
    ],
)
def test_anything_else_is_refused_with_the_reason(message, why):
    with pytest.raises(BadTarget, match=why):
        target_of(message)


def test_a_conference_cannot_invite_a_queue():
    with pytest.raises(BadTarget, match="not to a queue"):
        target_of({"queue": "sales"}, PHONE_KINDS)
