"""Who gets a group's new ticket: none, round robin, or the least loaded member.

A rule belongs to one ticket group. Candidates are the group's members, narrowed to
those with every skill the ticket asks for (its type and tags map to skills in the
rule; the skills are the agents' routing skills, `agent_profiles.skills`) and, when
the rule says so, to agents logged in now. `pick` runs inside the write transaction
that creates or changes the ticket, so round robin's place moves with the ticket it
was used for: a refused create leaves it where it was.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection, func, insert, select, update

from callcenter.agents.models import AgentProfileRow
from callcenter.customers.fields import normalize_tags
from callcenter.tickets.access import MEMBERS, TICKETS
from callcenter.tickets.automation_models import TicketAssignmentRule
from callcenter.tickets.models import TYPES

RULES = TicketAssignmentRule.__table__  # type: ignore[attr-defined]
PROFILES = AgentProfileRow.__table__  # type: ignore[attr-defined]

Strategy = Literal["none", "round_robin", "least_loaded"]
# The statuses in which a ticket is still someone's work: "least loaded" counts these.
OPEN_STATUSES = ("new", "open", "pending", "on_hold")
Skill = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class SkillMap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by_type: dict[str, Skill] = Field(default_factory=dict)
    by_tag: dict[str, Skill] = Field(default_factory=dict)

    @field_validator("by_type")
    @classmethod
    def _known_types(cls, value: dict[str, str]) -> dict[str, str]:
        if unknown := [t for t in value if t not in TYPES]:
            raise ValueError(f"unknown ticket type {', '.join(unknown)}; one of {', '.join(TYPES)}")
        return value

    @field_validator("by_tag")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for tag, skill in value.items():
            normal = normalize_tags([tag])
            if not normal:
                raise ValueError("an empty tag")
            out[normal[0]] = skill
        return out


class RuleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: Strategy
    skills: SkillMap = Field(default_factory=SkillMap)
    only_logged_in: bool = False


def required_skills(skills: Mapping[str, Any], ticket_type: str, tags: Collection[str]) -> set[str]:
    """The skills a ticket asks for, by its type and its tags."""
    wanted = set()
    if skill := (skills.get("by_type") or {}).get(ticket_type):
        wanted.add(skill)
    by_tag = skills.get("by_tag") or {}
    wanted.update(by_tag[t] for t in tags if t in by_tag)
    return wanted


def rule_of(conn: Connection, group_id: int) -> Mapping[Any, Any] | None:
    return conn.execute(select(RULES).where(RULES.c.group_id == group_id)).mappings().first()


def members_of(conn: Connection, group_id: int) -> list[int]:
    query = select(MEMBERS.c.user_id).where(MEMBERS.c.group_id == group_id)
    return sorted(int(u) for u in conn.execute(query).scalars())


def pick(
    conn: Connection,
    group_id: int,
    ticket_type: str,
    tags: Collection[str],
    online: Collection[int] | None,
) -> int | None:
    """The assignee the group's rule chooses, or None (no rule, `none`, nobody fits).

    `online`: the users logged in now (presence is in the controller's memory, read
    before the transaction); used only when the rule asks for it."""
    rule = rule_of(conn, group_id)
    if rule is None or rule["strategy"] == "none":
        return None
    candidates = members_of(conn, group_id)
    if rule["only_logged_in"]:
        here = set(online or ())
        candidates = [u for u in candidates if u in here]
    wanted = required_skills(rule["skills"], ticket_type, tags)
    if wanted and candidates:
        rows = conn.execute(select(PROFILES.c.user_id, PROFILES.c.skills)
                            .where(PROFILES.c.user_id.in_(candidates)))  # fmt: skip
        skilled = {r.user_id for r in rows if wanted <= {s for s, lv in (r.skills or {}).items()
                                                          if lv}}  # fmt: skip
        candidates = [u for u in candidates if u in skilled]
    if not candidates:
        return None
    if rule["strategy"] == "round_robin":
        last = rule["last_user_id"]
        after = [u for u in candidates if last is None or u > last]
        chosen = (after or candidates)[0]
    else:
        chosen = least_loaded(conn, candidates)
    conn.execute(update(RULES).where(RULES.c.group_id == group_id)
                 .values(last_user_id=chosen))  # fmt: skip
    return chosen


def least_loaded(conn: Connection, candidates: list[int]) -> int:
    """Fewest open tickets assigned, whatever their group; ties go to the lowest id."""
    rows = conn.execute(
        select(TICKETS.c.assignee_id, func.count())
        .where(TICKETS.c.assignee_id.in_(candidates), TICKETS.c.status.in_(OPEN_STATUSES))
        .group_by(TICKETS.c.assignee_id)
    )
    counts = {int(user): int(n) for user, n in rows}
    return min(candidates, key=lambda u: (counts.get(u, 0), u))


def store_rule(conn: Connection, group_id: int, body: RuleBody, now: datetime) -> None:
    values = {"strategy": body.strategy, "skills": body.skills.model_dump(),
              "only_logged_in": body.only_logged_in, "updated_at": now}  # fmt: skip
    if rule_of(conn, group_id) is None:
        conn.execute(insert(RULES).values(group_id=group_id, last_user_id=None, **values))
    else:
        conn.execute(update(RULES).where(RULES.c.group_id == group_id).values(values))


def rule_public(group_id: int, row: Mapping[Any, Any] | None) -> dict[str, Any]:
    if row is None:
        return {"group_id": group_id, "strategy": "none", "skills": SkillMap().model_dump(),
                "only_logged_in": False, "last_user_id": None}  # fmt: skip
    return {"group_id": group_id, "strategy": row["strategy"], "skills": row["skills"],
            "only_logged_in": bool(row["only_logged_in"]),
            "last_user_id": row["last_user_id"]}  # fmt: skip
