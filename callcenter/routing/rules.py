"""Routing rules: customer attributes choose the queue, add skills, raise priority.

Attributes a rule can test: `region` (from the caller's number prefix, or the chat's
IP later), `channel` (voice, chat), `tier` (the customer's class: new, returning, vip …),
`language` (en, zh), `queue` (the queue the IVR asked for) and `number` (a pattern).
Rules are read in order: the first matching rule that names a queue decides the queue;
every matching rule adds its skills and priority.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from callcenter.customers.phone import normalize_phone

# Country calling codes -> ISO 3166 region, longest prefix first when looked up.
CALLING_CODES: dict[str, str] = {
    "1": "US", "7": "RU", "20": "EG", "27": "ZA", "30": "GR", "31": "NL", "32": "BE",
    "33": "FR", "34": "ES", "39": "IT", "41": "CH", "44": "GB", "46": "SE", "47": "NO",
    "48": "PL", "49": "DE", "52": "MX", "55": "BR", "60": "MY", "61": "AU", "62": "ID",
    "63": "PH", "64": "NZ", "65": "SG", "66": "TH", "81": "JP", "82": "KR", "84": "VN",
    "86": "CN", "90": "TR", "91": "IN", "852": "HK", "853": "MO", "886": "TW", "971": "AE",
}  # fmt: skip
_LONGEST = max(map(len, CALLING_CODES))
ATTRIBUTES = ("region", "channel", "tier", "language", "queue", "number")


def region_for_number(raw: str) -> str:
    """ISO region of an international number ("+86 138…" -> "CN"); "" when unknown.

    A number without its country code (dialed nationally) says nothing certain.
    """
    number = normalize_phone(raw)
    if not number.startswith("+"):
        return ""
    digits = number[1:]
    for length in range(_LONGEST, 0, -1):
        region = CALLING_CODES.get(digits[:length])
        if region is not None:
            return region
    return ""


@dataclass(frozen=True)
class Rule:
    """`when` maps an attribute to the values (or number patterns) it may have."""

    when: Mapping[str, Sequence[str]]
    queue: str | None = None
    skills: Mapping[str, int] = field(default_factory=dict)
    priority: int = 0

    def matches(self, attributes: Mapping[str, str]) -> bool:
        for name, allowed in self.when.items():
            value = attributes.get(name, "")
            if name == "number":
                if not any(fnmatch.fnmatchcase(value, pattern) for pattern in allowed):
                    return False
            elif value.lower() not in {a.lower() for a in allowed}:
                return False
        return True


@dataclass(frozen=True)
class Route:
    """Where a task goes: the queue, the skills it needs beyond it, its priority."""

    queue: str
    skills: dict[str, int]
    priority: int
    matched: tuple[int, ...]  # indexes of the rules that applied, for the call's timeline


def route(rules: Sequence[Rule], requested_queue: str, attributes: Mapping[str, str]) -> Route:
    """Apply the rules to a task the IVR (or chat) sent to `requested_queue`."""
    facts = {"queue": requested_queue, **attributes}
    queue: str | None = None
    skills: dict[str, int] = {}
    priority, matched = 0, []
    for index, rule in enumerate(rules):
        if not rule.matches(facts):
            continue
        matched.append(index)
        if queue is None and rule.queue is not None:
            queue = rule.queue
        for skill, level in rule.skills.items():
            skills[skill] = max(level, skills.get(skill, 0))
        priority += rule.priority
    return Route(queue or requested_queue, skills, priority, tuple(matched))
