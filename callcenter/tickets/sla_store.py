"""SLA calendars and policies in the database, each ticket's stored clocks, and the
rows of the "% SLA met" report (docs/sla.md, "Wiring").

Writes run in one transaction on the writer thread with every check inside, so a
refused definition stores nothing; the scheduler is told to reload afterwards by the
caller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from callcenter.auth.models import aware
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.tickets.access import TICKETS, TicketScope, ticket_visible
from callcenter.tickets.sla_config import ConfigError, check_calendar, check_policy
from callcenter.tickets.sla_report import By, summarize
from callcenter.tickets.sla_scheduler import CALENDARS, GROUPS, METRICS, POLICIES, STATES

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Keys of a policy body that are not the engine's: which tickets it covers.
COVER_KEYS = ("position", "priorities", "types")


class ConfigNotFound(LookupError):
    pass


class ConfigInUse(ValueError):
    """A calendar a policy still names: delete or change the policy first."""


def _check_name(name: str) -> None:
    if not NAME.match(name):
        raise ConfigError("name", ["letters, digits, '.', '_' or '-', at most 64"])


def _iso(value: datetime | None) -> str | None:
    stamped = aware(value)
    return stamped.isoformat() if stamped is not None else None


def _calendar_item(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {"name": row["name"], **row["definition"], "updated_at": _iso(row["updated_at"])}


def _policy_item(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "position": row["position"],
            "priorities": list(row["priorities"]), "types": list(row["types"]),
            **row["definition"], "updated_at": _iso(row["updated_at"])}  # fmt: skip


def metric_item(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "metric": row["metric"],
        "cycle": row["cycle"],
        "status": row["status"],
        "target_minutes": row["target_seconds"] / 60,
        "elapsed_minutes": round(row["elapsed_seconds"] / 60, 2),
        "started_at": _iso(row["started_at"]),
        "due_at": _iso(row["due_at"]),
        "warning_at": _iso(row["warning_at"]),
        "breached_at": _iso(row["breached_at"]),
        "achieved_at": _iso(row["achieved_at"]),
    }


class SlaStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def _rows(self, query: Any) -> list[RowMapping]:
        async with self.db.engine.connect() as conn:
            return list((await conn.execute(query)).mappings().all())

    # ------------------------------------------------------------------ calendars

    async def calendars(self) -> list[dict[str, Any]]:
        rows = await self._rows(select(CALENDARS).order_by(CALENDARS.c.name))
        return [_calendar_item(r) for r in rows]

    async def put_calendar(self, name: str, definition: dict[str, Any]) -> dict[str, Any]:
        """Create or replace; validated by the engine (`calendar_from_dict`)."""
        _check_name(name)
        check_calendar(name, definition)
        now = self.clock.now()

        def store(conn: Connection) -> None:
            found = conn.execute(select(CALENDARS.c.id).where(CALENDARS.c.name == name)).first()
            values = {"name": name, "definition": definition, "updated_at": now}
            if found is None:
                conn.execute(insert(CALENDARS).values(values))
            else:
                conn.execute(update(CALENDARS).where(CALENDARS.c.name == name).values(values))

        await self.db.write(store)
        return {"name": name, **definition, "updated_at": _iso(now)}

    async def delete_calendar(self, name: str) -> None:
        def store(conn: Connection) -> None:
            if conn.execute(select(CALENDARS.c.id).where(CALENDARS.c.name == name)).first() is None:
                raise ConfigNotFound(name)
            for row in conn.execute(select(POLICIES.c.name, POLICIES.c.definition)).mappings():
                if row["definition"].get("calendar") == name:
                    raise ConfigInUse(f"policy {row['name']!r} uses calendar {name!r}")
            conn.execute(delete(CALENDARS).where(CALENDARS.c.name == name))

        await self.db.write(store)

    # ------------------------------------------------------------------ policies

    async def policies(self) -> list[dict[str, Any]]:
        query = select(POLICIES).order_by(POLICIES.c.position, POLICIES.c.id)
        return [_policy_item(r) for r in await self._rows(query)]

    async def put_policy(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create or replace. `position`, `priorities` and `types` say which tickets it
        covers; the rest is the engine's policy (`policy_from_dict`), checked against
        the stored calendars and ticket groups (for `group:` actions)."""
        _check_name(name)
        definition = {k: v for k, v in body.items() if k not in COVER_KEYS}
        position = body.get("position", 0)
        if not isinstance(position, int) or isinstance(position, bool):
            raise ConfigError("position", ["must be an integer"])
        cover: dict[str, list[str]] = {}
        for key in ("priorities", "types"):
            value = body.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(key, ["must be a list of names"])
            cover[key] = value
        now = self.clock.now()

        def store(conn: Connection) -> int:
            calendars = set(conn.execute(select(CALENDARS.c.name)).scalars())
            groups = set(conn.execute(select(GROUPS.c.name)).scalars())
            check_policy(name, definition, calendars=calendars, groups=groups, **cover)
            values = {"name": name, "position": position, **cover, "definition": definition,
                      "updated_at": now}  # fmt: skip
            found = conn.execute(select(POLICIES.c.id).where(POLICIES.c.name == name)).scalar()
            if found is None:
                return int(
                    conn.execute(insert(POLICIES).values(values).returning(POLICIES.c.id))
                    .scalar_one()
                )  # fmt: skip
            conn.execute(update(POLICIES).where(POLICIES.c.id == found).values(values))
            return int(found)

        policy_id = await self.db.write(store)
        return {"id": policy_id, "name": name, "position": position, **cover, **definition,
                "updated_at": _iso(now)}  # fmt: skip

    async def delete_policy(self, name: str) -> None:
        """Its tickets are no longer under it: the scheduler's reload re-chooses for the
        open ones; a solved or closed ticket keeps its clocks, without a policy."""

        def store(conn: Connection) -> None:
            found = conn.execute(select(POLICIES.c.id).where(POLICIES.c.name == name)).scalar()
            if found is None:
                raise ConfigNotFound(name)
            conn.execute(update(STATES).where(STATES.c.policy_id == found).values(policy_id=None))
            conn.execute(delete(POLICIES).where(POLICIES.c.id == found))

        await self.db.write(store)

    # ------------------------------------------------------------------ tickets' clocks

    async def ticket(self, ticket_id: int, scope: TicketScope) -> dict[str, Any] | None:
        """The ticket's clocks, or None when the reader may not see the ticket."""
        seen = await self._rows(
            select(TICKETS.c.id).where(TICKETS.c.id == ticket_id, ticket_visible(scope))
        )
        if not seen:
            return None
        state = await self._rows(
            select(STATES, POLICIES.c.name)
            .select_from(STATES.outerjoin(POLICIES, POLICIES.c.id == STATES.c.policy_id))
            .where(STATES.c.ticket_id == ticket_id)
        )
        metrics = await self._rows(
            select(METRICS).where(METRICS.c.ticket_id == ticket_id).order_by(METRICS.c.id)
        )
        policy = None
        evaluated = None
        if state:
            evaluated = _iso(state[0]["evaluated_at"])
            if state[0]["policy_id"] is not None:
                policy = {"id": state[0]["policy_id"], "name": state[0]["name"]}
        return {"ticket_id": ticket_id, "policy": policy, "evaluated_at": evaluated,
                "metrics": [metric_item(m) for m in metrics]}  # fmt: skip

    async def breaching(
        self, scope: TicketScope, status: str, due_before: datetime | None, limit: int
    ) -> list[dict[str, Any]]:
        """Visible tickets with a clock in `status` (breached, warning, active, paused),
        soonest due first; `due_before` keeps the clocks due before then."""
        conds: list[Any] = [METRICS.c.status == status, ticket_visible(scope)]
        if due_before is not None:
            conds.append(METRICS.c.due_at < due_before)
        query = (
            select(METRICS, TICKETS.c.subject, TICKETS.c.priority, TICKETS.c.status.label("ts"),
                   TICKETS.c.group_id, TICKETS.c.assignee_id)
            .select_from(METRICS.join(TICKETS, TICKETS.c.id == METRICS.c.ticket_id))
            .where(*conds)
            .order_by(METRICS.c.due_at.is_(None), METRICS.c.due_at, METRICS.c.ticket_id)
            .limit(limit)
        )  # fmt: skip
        return [
            {"ticket_id": r["ticket_id"], "subject": r["subject"], "priority": r["priority"],
             "status": r["ts"], "group_id": r["group_id"], "assignee_id": r["assignee_id"],
             "clock": metric_item(r)}
            for r in await self._rows(query)
        ]  # fmt: skip

    # ------------------------------------------------------------------ report

    async def report(self, start: datetime, end: datetime, by: By) -> list[dict[str, Any]]:
        """Clocks of the tickets created in [start, end), grouped by `by`."""
        key: Any
        joins = METRICS.join(TICKETS, TICKETS.c.id == METRICS.c.ticket_id)
        if by == "group":
            joins = joins.join(GROUPS, GROUPS.c.id == TICKETS.c.group_id)
            key = GROUPS.c.name
        elif by == "policy":
            joins = joins.join(STATES, STATES.c.ticket_id == METRICS.c.ticket_id).outerjoin(
                POLICIES, POLICIES.c.id == STATES.c.policy_id
            )
            key = func.coalesce(POLICIES.c.name, "")
        else:
            key = TICKETS.c[by]
        query = (
            select(key.label("key"), METRICS.c.ticket_id, METRICS.c.metric, METRICS.c.status,
                   METRICS.c.elapsed_seconds, METRICS.c.achieved_at)
            .select_from(joins)
            .where(TICKETS.c.created_at >= start, TICKETS.c.created_at < end)
        )  # fmt: skip
        return summarize(await self._rows(query), by)
