"""Stored SLA configuration: calendars and policies validated by the engine's own
schemas, which policy a ticket falls under, and the escalation actions it names.

Nothing here re-states the engine's rules: a calendar is whatever `calendar_from_dict`
accepts, a policy whatever `policy_from_dict` accepts; this module only adds what the
engine leaves to its caller (which tickets a policy applies to, what an action word
means) and turns the engine's "place: problem" messages into a field name for a 422.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from callcenter.tickets.calendars import Calendar, CalendarError, calendar_from_dict
from callcenter.tickets.models import PRIORITIES, TYPES
from callcenter.tickets.sla import PolicyError, SlaPolicy, policy_from_dict


class ConfigError(ValueError):
    """A definition refused: `field` is the request body's field the first problem is in
    (e.g. `hours`, `targets`), `problems` every problem the engine found."""

    def __init__(self, field: str, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.field = field
        self.problems = problems


def _field_of(problem: str, name: str) -> str:
    """`support-cn.hours.mon[1]: ...` -> `hours`: the engine prefixes the name."""
    place = problem.split(":", 1)[0].removeprefix(f"{name}.")
    return place.split(".", 1)[0].split("[", 1)[0] or "definition"


def check_calendar(name: str, definition: Mapping[str, Any]) -> Calendar:
    try:
        return calendar_from_dict(dict(definition), name)
    except CalendarError as exc:
        raise ConfigError(_field_of(exc.problems[0], name), exc.problems) from None


# ---------------------------------------------------------------------- actions

ActionKind = Literal["notify", "priority", "group"]


@dataclass(frozen=True, slots=True)
class Action:
    """`notify:<who>` (the event is the notification), `priority:<p>` (raise to it, never
    lower), `group:<name>` (move the ticket to that group, unassigned)."""

    kind: ActionKind
    value: str


def parse_action(word: str, groups: Collection[str] | None = None) -> Action:
    kind, sep, value = word.partition(":")
    if not sep or not value:
        raise ValueError(f"{word!r} is not an action (notify:<who>, priority:<p>, group:<name>)")
    if kind == "notify":
        return Action("notify", value)
    if kind == "priority":
        if value not in PRIORITIES:
            raise ValueError(f"{word!r}: priority must be one of {', '.join(PRIORITIES)}")
        return Action("priority", value)
    if kind == "group":
        if groups is not None and value not in groups:
            raise ValueError(f"{word!r}: no ticket group named {value!r}")
        return Action("group", value)
    raise ValueError(f"{word!r}: unknown action {kind!r} (notify, priority, group)")


def raised(current: str, wanted: str) -> str | None:
    """The priority an escalation sets: `wanted` when higher than `current`, else None."""
    if PRIORITIES.index(wanted) > PRIORITIES.index(current):
        return wanted
    return None


# ---------------------------------------------------------------------- policies


@dataclass(frozen=True)
class StoredPolicy:
    """A policy as stored: the engine's `SlaPolicy` and which tickets it covers."""

    id: int
    position: int
    priorities: tuple[str, ...]
    types: tuple[str, ...]
    policy: SlaPolicy

    def covers(self, priority: str, type: str) -> bool:
        return (not self.priorities or priority in self.priorities) and (
            not self.types or type in self.types
        )


def check_policy(
    name: str,
    definition: Mapping[str, Any],
    *,
    calendars: Collection[str],
    groups: Collection[str],
    priorities: Sequence[str] = (),
    types: Sequence[str] = (),
) -> SlaPolicy:
    for field, values, allowed in (("priorities", priorities, PRIORITIES), ("types", types, TYPES)):
        for value in values:
            if value not in allowed:
                raise ConfigError(field, [f"{value!r} is not one of {', '.join(allowed)}"])
    try:
        policy = policy_from_dict(dict(definition), name, calendars=calendars)
    except PolicyError as exc:
        raise ConfigError(_field_of(exc.problems[0], name), exc.problems) from None
    for field, words in (("on_warning", policy.on_warning), ("on_breach", policy.on_breach)):
        for index, word in enumerate(words):
            try:
                parse_action(word, groups)
            except ValueError as exc:
                raise ConfigError(field, [f"{name}.{field}[{index}]: {exc}"]) from None
    return policy


def choose_policy(
    policies: Iterable[StoredPolicy], priority: str, type: str
) -> StoredPolicy | None:
    """The first policy by position (then id) that covers the ticket; None: untracked."""
    for stored in sorted(policies, key=lambda p: (p.position, p.id)):
        if stored.covers(priority, type):
            return stored
    return None
