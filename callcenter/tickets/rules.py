"""What triggers and automations say, as request bodies, and how a condition is checked.

Pure: no database, no bus. A rule is validated when it is saved (a bad one is a
field-level 422 naming the place in the body), so the runners never meet a rule they
cannot read. docs/automation.md lists every field and operator.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from callcenter.customers.fields import Tags
from callcenter.tickets.models import PRIORITIES, SOURCES, STATUSES, TYPES

EventKind = Literal["created", "updated", "commented"]
ConditionField = Literal[
    "event", "status", "priority", "type", "group_id", "assignee_id", "tags", "source",
    "subject", "custom_field",
]  # fmt: skip
Op = Literal["is", "is_not", "changed", "changed_to", "contains"]

# Which operators make sense on which field; anything else is refused on save.
OPS: Mapping[str, frozenset[str]] = {
    "event": frozenset({"is", "is_not"}),
    "status": frozenset({"is", "is_not", "changed", "changed_to"}),
    "priority": frozenset({"is", "is_not", "changed", "changed_to"}),
    "type": frozenset({"is", "is_not", "changed", "changed_to"}),
    "group_id": frozenset({"is", "is_not", "changed", "changed_to"}),
    "assignee_id": frozenset({"is", "is_not", "changed", "changed_to"}),
    "tags": frozenset({"contains", "is_not", "changed"}),
    "source": frozenset({"is", "is_not"}),
    "subject": frozenset({"contains"}),
    "custom_field": frozenset({"is", "is_not", "changed"}),
}
# The allowed values of the enumerated fields.
CHOICES: Mapping[str, tuple[str, ...]] = {
    "event": ("created", "updated", "commented"),
    "status": STATUSES,
    "priority": PRIORITIES,
    "type": TYPES,
    "source": SOURCES,
}
# Ticket fields a time-based automation may count hours from.
SINCE_FIELDS = ("status", "priority", "type", "group_id", "assignee_id", "created", "updated")
# Placeholders an email template may use: ticket fields, never comment text.
TEMPLATE_FIELDS = ("id", "subject", "status", "priority", "type", "group_id", "assignee_id",
                   "requester_id", "tags", "source")  # fmt: skip
MAX_RULES = 20  # conditions per list, actions per rule


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: ConditionField
    op: Op
    value: str | int | float | bool | None = None
    key: str | None = Field(default=None, max_length=40)  # custom_field only

    @model_validator(mode="after")
    def _consistent(self) -> Condition:
        if self.op not in OPS[self.field]:
            raise ValueError(f"{self.field} takes op {', '.join(sorted(OPS[self.field]))}")
        if self.field == "custom_field":
            if not self.key:
                raise ValueError("custom_field needs a key")
        elif self.key is not None:
            raise ValueError("key is only for custom_field")
        if self.op == "changed" and self.value is not None:
            raise ValueError("changed takes no value")
        if self.op != "changed":
            self._check_value()
        return self

    def _check_value(self) -> None:
        value = self.value
        if self.field in CHOICES:
            if value not in CHOICES[self.field]:
                raise ValueError(f"{self.field}: value one of {', '.join(CHOICES[self.field])}")
        elif self.field == "group_id":
            if not _positive_int(value):
                raise ValueError("group_id: value a group id")
        elif self.field == "assignee_id":
            if value is not None and not _positive_int(value):
                raise ValueError("assignee_id: value a user id, or null for unassigned")
        elif self.field in ("tags", "subject"):
            if not isinstance(value, str) or not value.strip() or len(value) > 200:
                raise ValueError(f"{self.field}: value 1-200 characters")
        elif self.field == "custom_field" and value is None:
            raise ValueError("custom_field: value a string, number or boolean")


class Conditions(BaseModel):
    """Every one of `all` and at least one of `any` (when `any` is not empty)."""

    model_config = ConfigDict(extra="forbid")

    all: Annotated[list[Condition], Field(max_length=MAX_RULES)] = Field(default_factory=list)
    any: Annotated[list[Condition], Field(max_length=MAX_RULES)] = Field(default_factory=list)


class SetField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["set"]
    field: Literal["status", "priority", "type", "group_id", "assignee_id"]
    value: str | int | None = None

    @model_validator(mode="after")
    def _value_fits(self) -> SetField:
        choices = {"status": STATUSES, "priority": PRIORITIES, "type": TYPES}.get(self.field)
        if choices is not None and self.value not in choices:
            raise ValueError(f"{self.field}: value one of {', '.join(choices)}")
        if self.field == "group_id" and not _positive_int(self.value):
            raise ValueError("group_id: value a group id")
        if self.field == "assignee_id" and self.value is not None and not _positive_int(self.value):
            raise ValueError("assignee_id: value a user id, or null to unassign")
        return self


class ChangeTags(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["add_tags", "remove_tags"]
    tags: Annotated[Tags, Field(min_length=1)]


class AssignByRule(BaseModel):
    """Assign by the assignment rule of the ticket's group (docs/automation.md)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["assign_by_rule"]


class Email(BaseModel):
    """A short text mail; `subject` and `body` may use {id}, {subject}, {status} …"""

    model_config = ConfigDict(extra="forbid")

    type: Literal["email"]
    to: Literal["requester", "assignee", "group", "address"]
    address: str | None = Field(default=None, max_length=254)
    subject: Annotated[str, Field(min_length=1, max_length=200)]
    body: Annotated[str, Field(min_length=1, max_length=4000)]

    @model_validator(mode="after")
    def _valid(self) -> Email:
        if self.to == "address":
            if not self.address or "@" not in self.address or " " in self.address:
                raise ValueError("to address needs an email address in `address`")
        elif self.address is not None:
            raise ValueError("address is only for to: address")
        check_template(self.subject)
        check_template(self.body)
        return self


class Webhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["webhook"]
    webhook_id: Annotated[int, Field(gt=0)]


Action = Annotated[
    SetField | ChangeTags | AssignByRule | Email | Webhook, Field(discriminator="type")
]
Actions = Annotated[list[Action], Field(min_length=1, max_length=MAX_RULES)]
Name = Annotated[str, Field(min_length=1, max_length=64)]


class TriggerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    position: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    active: bool = True
    conditions: Conditions = Field(default_factory=Conditions)
    actions: Actions


class Since(BaseModel):
    """`field` has held `value` (when given) for at least `hours`."""

    model_config = ConfigDict(extra="forbid")

    field: Literal["status", "priority", "type", "group_id", "assignee_id", "created", "updated"]
    value: str | int | None = None
    hours: Annotated[float, Field(gt=0, le=24 * 366)]

    @model_validator(mode="after")
    def _value_fits(self) -> Since:
        if self.field in ("created", "updated"):
            if self.value is not None:
                raise ValueError(f"{self.field} takes no value")
            return self
        choices = CHOICES.get(self.field)
        if choices is not None and self.value is not None and self.value not in choices:
            raise ValueError(f"{self.field}: value one of {', '.join(choices)}")
        return self


class AutomationConditions(Conditions):
    since: Since

    @model_validator(mode="after")
    def _no_change_ops(self) -> AutomationConditions:
        # A tick sees no event: there is nothing that "changed" or an event kind to test.
        for cond in [*self.all, *self.any]:
            if cond.op in ("changed", "changed_to") or cond.field == "event":
                raise ValueError("automations test what a ticket is: no event, changed or "
                                 "changed_to")  # fmt: skip
        return self


class AutomationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    position: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    active: bool = True
    conditions: AutomationConditions
    actions: Actions


# ---------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Happening:
    """What a condition is checked against: the ticket now, and what just happened."""

    ticket: Mapping[str, Any]
    kind: str = ""  # created | updated | commented; "" on an automation's tick
    changed: Collection[str] = ()  # names of the fields the event changed


def matches(conditions: Conditions, happening: Happening) -> bool:
    if not all(holds(c, happening) for c in conditions.all):
        return False
    return not conditions.any or any(holds(c, happening) for c in conditions.any)


def holds(cond: Condition, happening: Happening) -> bool:
    """One condition. `changed_to` is "changed, and is now": the event names the fields
    that changed, never their values, and the ticket is read after the change."""
    ticket = happening.ticket
    if cond.field == "event":
        return (happening.kind == cond.value) == (cond.op == "is")
    if cond.field == "custom_field":
        assert cond.key is not None
        fields = ticket.get("custom_fields") or {}
        if cond.op == "changed":
            return "custom_fields" in happening.changed
        equal = cond.key in fields and fields[cond.key] == cond.value
        return equal if cond.op == "is" else not equal
    if cond.field == "subject":
        return str(cond.value).lower() in str(ticket.get("subject", "")).lower()
    if cond.field == "tags":
        if cond.op == "changed":
            return "tags" in happening.changed
        has = str(cond.value).strip().lower() in (ticket.get("tags") or [])
        return has if cond.op == "contains" else not has
    current = ticket.get(cond.field)
    if cond.op == "changed":
        return cond.field in happening.changed
    if cond.op == "changed_to":
        return cond.field in happening.changed and current == cond.value
    return (current == cond.value) == (cond.op == "is")


def check_template(template: str) -> str:
    """Only known placeholders, so a mail never fails to render when it is due."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"template: {exc}") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS or spec or conversion:
            raise ValueError(
                f"template: unknown placeholder {{{name}}}; use {', '.join(TEMPLATE_FIELDS)}"
            )
    return template


def render(template: str, ticket: Mapping[str, Any]) -> str:
    values = {name: _text(ticket.get(name)) for name in TEMPLATE_FIELDS}
    return template.format_map(values)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
