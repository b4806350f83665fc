"""Trigger and automation conditions: what each operator means, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from callcenter.tickets.rules import (
    AutomationBody,
    Condition,
    Conditions,
    Happening,
    TriggerBody,
    holds,
    matches,
    render,
)

TICKET: dict[str, Any] = {
    "id": 7, "subject": "Router keeps REBOOTING", "status": "open", "priority": "high",
    "type": "fault", "group_id": 2, "assignee_id": None, "requester_id": 5,
    "tags": ["router", "vip"], "custom_fields": {"model": "AX3000", "warranty": True},
    "source": "call",
}  # fmt: skip


def c(**kw: Any) -> Condition:
    return Condition.model_validate(kw)


def on(kind: str = "updated", changed: tuple[str, ...] = ()) -> Happening:
    return Happening(TICKET, kind, changed)


def test_is_and_is_not_compare_the_ticket_as_it_is_now():
    assert holds(c(field="status", op="is", value="open"), on())
    assert not holds(c(field="status", op="is_not", value="open"), on())
    assert holds(c(field="priority", op="is_not", value="low"), on())
    assert holds(c(field="assignee_id", op="is", value=None), on())
    assert not holds(c(field="group_id", op="is", value=3), on())
    assert holds(c(field="source", op="is", value="call"), on())


def test_changed_and_changed_to_need_the_event_to_name_the_field():
    assert not holds(c(field="status", op="changed"), on(changed=("priority",)))
    assert holds(c(field="status", op="changed"), on(changed=("status",)))
    assert holds(c(field="status", op="changed_to", value="open"), on(changed=("status",)))
    assert not holds(c(field="status", op="changed_to", value="solved"), on(changed=("status",)))
    assert not holds(c(field="status", op="changed_to", value="open"), on(changed=()))
    assert holds(c(field="tags", op="changed"), on(changed=("tags",)))
    assert holds(c(field="custom_field", key="model", op="changed"), on(changed=("custom_fields",)))


def test_tags_subject_custom_fields_and_event_kind():
    assert holds(c(field="tags", op="contains", value="VIP"), on())
    assert holds(c(field="tags", op="is_not", value="spam"), on())
    assert holds(c(field="subject", op="contains", value="rebooting"), on())
    assert not holds(c(field="subject", op="contains", value="modem"), on())
    assert holds(c(field="custom_field", key="model", op="is", value="AX3000"), on())
    assert holds(c(field="custom_field", key="warranty", op="is", value=True), on())
    assert holds(c(field="custom_field", key="missing", op="is_not", value="x"), on())
    assert holds(c(field="event", op="is", value="created"), on("created"))
    assert not holds(c(field="event", op="is", value="commented"), on("updated"))


def test_all_must_hold_and_one_of_any():
    conds = Conditions(
        all=[c(field="status", op="is", value="open")],
        any=[c(field="priority", op="is", value="urgent"), c(field="tags", op="contains",
                                                               value="vip")],
    )  # fmt: skip
    assert matches(conds, on())
    conds.any = [c(field="priority", op="is", value="urgent")]
    assert not matches(conds, on())
    assert matches(Conditions(), on())  # no condition: always


@pytest.mark.parametrize(
    "bad",
    [
        {"field": "status", "op": "contains", "value": "open"},  # op not for this field
        {"field": "status", "op": "is", "value": "done"},  # not a status
        {"field": "status", "op": "changed", "value": "open"},  # changed takes no value
        {"field": "custom_field", "op": "is", "value": "x"},  # no key
        {"field": "status", "op": "is", "value": "open", "key": "k"},  # key elsewhere
        {"field": "group_id", "op": "is", "value": "two"},
        {"field": "subject", "op": "contains", "value": " "},
        {"field": "event", "op": "is", "value": "deleted"},
        {"field": "colour", "op": "is", "value": "red"},
    ],
)
def test_bad_conditions_are_refused_on_save(bad: dict[str, Any]):
    with pytest.raises(ValidationError):
        Condition.model_validate(bad)


def test_bad_actions_name_their_place_in_the_body():
    with pytest.raises(ValidationError) as err:
        TriggerBody.model_validate({"name": "x", "actions": [
            {"type": "add_tags", "tags": ["ok"]},
            {"type": "set", "field": "status", "value": "done"},
        ]})  # fmt: skip
    assert err.value.errors()[0]["loc"][:2] == ("actions", 1)
    with pytest.raises(ValidationError):  # unknown placeholder: refused on save, not at send
        TriggerBody.model_validate({"name": "x", "actions": [
            {"type": "email", "to": "requester", "subject": "{id}", "body": "{description}"}
        ]})  # fmt: skip
    with pytest.raises(ValidationError):
        TriggerBody.model_validate(
            {
                "name": "x",
                "actions": [{"type": "email", "to": "address", "subject": "s", "body": "b"}],
            }
        )
    with pytest.raises(ValidationError):
        TriggerBody.model_validate({"name": "x", "actions": []})


def test_automations_test_state_not_events():
    body = {"name": "a", "conditions": {"since": {"field": "status", "value": "pending",
                                                  "hours": 48}},
            "actions": [{"type": "add_tags", "tags": ["stale"]}]}  # fmt: skip
    assert AutomationBody.model_validate(body).conditions.since.hours == 48
    body["conditions"]["all"] = [{"field": "status", "op": "changed"}]  # type: ignore[index]
    with pytest.raises(ValidationError):
        AutomationBody.model_validate(body)
    with pytest.raises(ValidationError):
        AutomationBody.model_validate({**body, "conditions": {"since": {
            "field": "status", "value": "later", "hours": 1}}})  # fmt: skip


def test_templates_render_ticket_fields():
    text = render("#{id} {subject} [{status}] tags: {tags}", TICKET)
    assert text == "#7 Router keeps REBOOTING [open] tags: router, vip"
