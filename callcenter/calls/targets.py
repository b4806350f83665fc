"""Where an agent sends a caller: a transfer's or a conference invitation's target."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["extension", "number", "queue", "agent"]
# A desk phone or a dialplan extension; an outside number as dialled (E.164 or local);
# a queue of routing.yaml; an agent by user id.
_PATTERNS: dict[Kind, re.Pattern[str]] = {
    "extension": re.compile(r"^[0-9]{1,16}$"),
    "number": re.compile(r"^\+?[0-9]{3,20}$"),
    "queue": re.compile(r"^[A-Za-z0-9_-]{1,64}$"),
    "agent": re.compile(r"^[0-9]{1,12}$"),
}
PHONE_KINDS: frozenset[Kind] = frozenset({"extension", "number"})


class BadTarget(ValueError):
    pass


@dataclass(frozen=True)
class Target:
    kind: Kind
    value: str

    @property
    def endpoint(self) -> str:
        """The Asterisk endpoint that rings a phone target."""
        if self.kind == "extension":
            return f"PJSIP/{self.value}"
        if self.kind == "number":
            return f"PJSIP/{self.value}@trunk"
        raise BadTarget(f"a {self.kind} is not a phone")


def target_of(message: Mapping[str, Any], kinds: frozenset[Kind] | None = None) -> Target:
    """The one target a desktop message names (`{"queue": "sales"}`), checked."""
    named = [(kind, str(message[kind]).strip()) for kind in _PATTERNS if message.get(kind)]
    if len(named) != 1:
        raise BadTarget("name one of: " + ", ".join(sorted(kinds or _PATTERNS)))
    kind, value = named[0]
    if kinds is not None and kind not in kinds:
        raise BadTarget(f"not to a {kind}: one of {', '.join(sorted(kinds))}")
    if not _PATTERNS[kind].match(value):
        raise BadTarget(f"not a valid {kind}: {value!r}")
    return Target(kind, value)
