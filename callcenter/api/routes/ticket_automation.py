"""Ticket triggers, time-based automations and groups' assignment rules: admin API.

Thin: the rules are in callcenter.tickets (rules.py, rule_store.py, assignment.py).
Everything here needs `tickets.admin`. docs/automation.md.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Response, status
from sqlalchemy import Connection, select

from callcenter.api.deps import ServicesDep, invalid, require
from callcenter.auth.permissions import Permission, Principal
from callcenter.tickets.assignment import RuleBody, rule_of, rule_public, store_rule
from callcenter.tickets.rule_store import RuleNotFound, automations, triggers
from callcenter.tickets.rules import AutomationBody, TriggerBody
from callcenter.tickets.service import GROUPS, FieldError, GroupNotFound

router = APIRouter(prefix="/api", tags=["ticket automation"])
T = TypeVar("T")

Admin = Annotated[Principal, Depends(require(Permission.TICKETS_ADMIN))]


# ---- triggers ---------------------------------------------------------------------------


@router.get("/ticket-triggers")
async def list_triggers(services: ServicesDep, _: Admin) -> list[dict[str, Any]]:
    """In the order they are checked: position, then id."""
    return await triggers(services.db, services.clock, services.bus).listing()


@router.post("/ticket-triggers", status_code=status.HTTP_201_CREATED)
async def create_trigger(body: TriggerBody, services: ServicesDep, _: Admin) -> dict[str, Any]:
    return await _done(triggers(services.db, services.clock, services.bus).save(body))


@router.get("/ticket-triggers/{rule_id}")
async def get_trigger(rule_id: int, services: ServicesDep, _: Admin) -> dict[str, Any]:
    return await _done(triggers(services.db, services.clock, services.bus).get(rule_id))


@router.put("/ticket-triggers/{rule_id}")
async def replace_trigger(
    rule_id: int, body: TriggerBody, services: ServicesDep, _: Admin
) -> dict[str, Any]:
    return await _done(triggers(services.db, services.clock, services.bus).save(body, rule_id))


@router.delete("/ticket-triggers/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_trigger(rule_id: int, services: ServicesDep, _: Admin) -> Response:
    await _done(triggers(services.db, services.clock, services.bus).delete(rule_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---- time-based automations -------------------------------------------------------------


@router.get("/ticket-automations")
async def list_automations(services: ServicesDep, _: Admin) -> list[dict[str, Any]]:
    return await automations(services.db, services.clock, services.bus).listing()


@router.post("/ticket-automations", status_code=status.HTTP_201_CREATED)
async def create_automation(
    body: AutomationBody, services: ServicesDep, _: Admin
) -> dict[str, Any]:
    return await _done(automations(services.db, services.clock, services.bus).save(body))


@router.get("/ticket-automations/{rule_id}")
async def get_automation(rule_id: int, services: ServicesDep, _: Admin) -> dict[str, Any]:
    return await _done(automations(services.db, services.clock, services.bus).get(rule_id))


@router.put("/ticket-automations/{rule_id}")
async def replace_automation(
    rule_id: int, body: AutomationBody, services: ServicesDep, _: Admin
) -> dict[str, Any]:
    return await _done(automations(services.db, services.clock, services.bus).save(body, rule_id))


@router.delete("/ticket-automations/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_automation(rule_id: int, services: ServicesDep, _: Admin) -> Response:
    await _done(automations(services.db, services.clock, services.bus).delete(rule_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---- assignment rules -------------------------------------------------------------------


@router.get("/ticket-groups/{group_id}/assignment")
async def get_assignment(group_id: int, services: ServicesDep, _: Admin) -> dict[str, Any]:
    def read(conn: Connection) -> dict[str, Any]:
        _group(conn, group_id)
        return rule_public(group_id, rule_of(conn, group_id))

    return await _done(services.db.write(read))


@router.put("/ticket-groups/{group_id}/assignment")
async def set_assignment(
    group_id: int, body: RuleBody, services: ServicesDep, _: Admin
) -> dict[str, Any]:
    now = services.clock.now()

    def store(conn: Connection) -> dict[str, Any]:
        _group(conn, group_id)
        store_rule(conn, group_id, body, now)
        return rule_public(group_id, rule_of(conn, group_id))

    return await _done(services.db.write(store))


def _group(conn: Connection, group_id: int) -> None:
    if conn.execute(select(GROUPS.c.id).where(GROUPS.c.id == group_id)).first() is None:
        raise GroupNotFound(group_id)


async def _done(work: Awaitable[T]) -> T:
    try:
        return await work
    except RuleNotFound:
        raise HTTPException(404, "no such rule") from None
    except GroupNotFound:
        raise HTTPException(404, "group not found") from None
    except FieldError as exc:
        raise invalid(exc.message, exc.field) from None
