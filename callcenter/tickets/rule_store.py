"""Triggers and automations as stored rows: list, create, change, delete.

Both kinds have the same columns (name, position, active, conditions, actions), so one
store serves both tables. The body was validated by pydantic (rules.py); what needs the
database (a group, a user or a webhook named by id exists; the name is free) is checked
in the write's transaction, so a refused rule stores nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select, update

from callcenter.auth.models import User
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.events import Event, EventBus
from callcenter.tickets.automation_models import TicketAutomation, TicketTrigger
from callcenter.tickets.models import TicketGroup
from callcenter.tickets.rules import AutomationBody, Condition, SetField, TriggerBody, Webhook
from callcenter.tickets.service import FieldError
from callcenter.webhooks.models import WebhookRow

TRIGGERS = TicketTrigger.__table__  # type: ignore[attr-defined]
AUTOMATIONS = TicketAutomation.__table__  # type: ignore[attr-defined]
GROUPS = TicketGroup.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]
HOOKS = WebhookRow.__table__  # type: ignore[attr-defined]

Body = TriggerBody | AutomationBody
# Published after a rule is saved or deleted: the trigger runner keeps the rules in
# memory (one read per change, not per ticket event) and drops them on this.
RULES_CHANGED = "ticket_rules.changed"  # {table}


class RuleNotFound(LookupError):
    pass


class RuleStore:
    def __init__(
        self, db: Database, clock: Clock, table: Table, bus: EventBus | None = None
    ) -> None:
        """`bus`: where a change is announced (RULES_CHANGED); the API's stores have one."""
        self.db = db
        self.clock = clock
        self.table = table
        self.bus = bus

    async def _changed(self) -> None:
        if self.bus is not None:
            await self.bus.publish(Event(RULES_CHANGED, {"table": self.table.name}))

    async def listing(self, *, active_only: bool = False) -> list[dict[str, Any]]:
        """In the order they run: by position, then by id."""
        query = select(self.table).order_by(self.table.c.position, self.table.c.id)
        if active_only:
            query = query.where(self.table.c.active.is_(True))
        async with self.db.engine.connect() as conn:
            return [public(r) for r in (await conn.execute(query)).mappings()]

    async def get(self, rule_id: int) -> dict[str, Any]:
        async with self.db.engine.connect() as conn:
            row = await conn.execute(select(self.table).where(self.table.c.id == rule_id))
            found = row.mappings().first()
        if found is None:
            raise RuleNotFound(rule_id)
        return public(found)

    async def save(self, body: Body, rule_id: int | None = None) -> dict[str, Any]:
        """Create (`rule_id` None) or replace a rule."""
        now = self.clock.now()
        values = {"name": body.name, "position": body.position, "active": body.active,
                  "conditions": body.conditions.model_dump(exclude_none=True),
                  "actions": [a.model_dump(exclude_none=True) for a in body.actions],
                  "updated_at": now}  # fmt: skip
        table = self.table

        def store(conn: Connection) -> int:
            if (
                rule_id is not None
                and conn.execute(select(table.c.id).where(table.c.id == rule_id)).first() is None
            ):
                raise RuleNotFound(rule_id)
            taken = select(table.c.id).where(table.c.name == body.name, table.c.id != rule_id)
            if conn.execute(taken).first() is not None:
                raise FieldError("name", f"the name {body.name!r} is taken")
            check_references(conn, body)
            if rule_id is None:
                query = insert(table).values(created_at=now, **values).returning(table.c.id)
                return int(conn.execute(query).scalar_one())
            conn.execute(update(table).where(table.c.id == rule_id).values(values))
            return rule_id

        saved = await self.get(await self.db.write(store))
        await self._changed()
        return saved

    async def delete(self, rule_id: int) -> None:
        def store(conn: Connection) -> None:
            if conn.execute(delete(self.table).where(self.table.c.id == rule_id)).rowcount == 0:
                raise RuleNotFound(rule_id)

        await self.db.write(store)
        await self._changed()


def check_references(conn: Connection, body: Body) -> None:
    conds: list[Condition] = [*body.conditions.all, *body.conditions.any]
    for cond in conds:
        if cond.field == "group_id" and cond.op != "changed":
            _exists(conn, GROUPS, cond.value, "conditions", f"no group {cond.value}")
        if cond.field == "assignee_id" and cond.value is not None and cond.op != "changed":
            _exists(conn, USERS, cond.value, "conditions", f"no user {cond.value}")
    for n, action in enumerate(body.actions, 1):
        if isinstance(action, SetField) and action.field == "group_id":
            _exists(conn, GROUPS, action.value, "actions", f"action {n}: no group {action.value}")
        if isinstance(action, SetField) and action.field == "assignee_id" and action.value:
            _exists(conn, USERS, action.value, "actions", f"action {n}: no user {action.value}")
        if isinstance(action, Webhook):
            _exists(conn, HOOKS, action.webhook_id, "actions",
                    f"action {n}: no webhook {action.webhook_id}")  # fmt: skip


def _exists(conn: Connection, table: Table, row_id: Any, field: str, message: str) -> None:
    if conn.execute(select(table.c.id).where(table.c.id == row_id)).first() is None:
        raise FieldError(field, message)


def public(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "position": row["position"],
            "active": bool(row["active"]), "conditions": row["conditions"],
            "actions": row["actions"]}  # fmt: skip


def triggers(db: Database, clock: Clock, bus: EventBus | None = None) -> RuleStore:
    return RuleStore(db, clock, TRIGGERS, bus)


def automations(db: Database, clock: Clock, bus: EventBus | None = None) -> RuleStore:
    return RuleStore(db, clock, AUTOMATIONS, bus)
