"""SLA over REST: calendars and policies (tickets.admin writes, tickets.read reads), a
ticket's clocks, the tickets with a clock breached or warning, and the "% SLA met"
report (reports.read, like the other reports). Thin: the domain is callcenter.tickets
(sla_store, sla_scheduler); docs/sla.md, "Wiring".
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, status
from fastapi.responses import Response

from callcenter.api.deps import ServicesDep, invalid, require
from callcenter.api.routes.reports import Format, From, To
from callcenter.auth.permissions import Permission, Principal
from callcenter.reports.export import to_csv
from callcenter.services import Services
from callcenter.tickets.access import TicketScope
from callcenter.tickets.sla_config import ConfigError
from callcenter.tickets.sla_report import By, columns
from callcenter.tickets.sla_store import ConfigInUse, ConfigNotFound, SlaStore

router = APIRouter(prefix="/api", tags=["sla"])
T = TypeVar("T")

Reader = Annotated[Principal, Depends(require(Permission.TICKETS_READ))]
Admin = Annotated[Principal, Depends(require(Permission.TICKETS_ADMIN))]
ReportReader = Annotated[Principal, Depends(require(Permission.REPORTS_READ))]
MAX_REPORT_DAYS = 366


def get_store(services: ServicesDep) -> SlaStore:
    return SlaStore(services.db, services.clock)


Store = Annotated[SlaStore, Depends(get_store)]


async def _reload(services: Services) -> None:
    """Configuration changed: open tickets are judged again under it."""
    if services.sla is not None:
        await services.sla.reload()


async def _done(work: Awaitable[T]) -> T:
    try:
        return await work
    except ConfigError as exc:
        raise invalid("; ".join(exc.problems), exc.field) from None
    except ConfigNotFound:
        raise HTTPException(404, "not found") from None
    except ConfigInUse as exc:
        raise HTTPException(409, str(exc)) from None


# ---- calendars ---------------------------------------------------------------------------


@router.get("/sla/calendars")
async def calendars(store: Store, _: Reader) -> list[dict[str, Any]]:
    return await store.calendars()


@router.put("/sla/calendars/{name}")
async def put_calendar(
    name: str, body: Annotated[dict[str, Any], Body()], store: Store, services: ServicesDep,
    _: Admin,
) -> dict[str, Any]:  # fmt: skip
    """Create or replace: `{timezone, hours, holidays, special_days}` (docs/sla.md)."""
    saved = await _done(store.put_calendar(name, body))
    await _reload(services)
    return saved


@router.delete("/sla/calendars/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_calendar(name: str, store: Store, services: ServicesDep, _: Admin) -> None:
    await _done(store.delete_calendar(name))
    await _reload(services)


# ---- policies ----------------------------------------------------------------------------


@router.get("/sla/policies")
async def policies(store: Store, _: Reader) -> list[dict[str, Any]]:
    return await store.policies()


@router.put("/sla/policies/{name}")
async def put_policy(
    name: str, body: Annotated[dict[str, Any], Body()], store: Store, services: ServicesDep,
    _: Admin,
) -> dict[str, Any]:  # fmt: skip
    """Create or replace: `{position, priorities, types, calendar, default, targets,
    warn_before, on_warning, on_breach}`; open tickets are judged again under it."""
    saved = await _done(store.put_policy(name, body))
    await _reload(services)
    return saved


@router.delete("/sla/policies/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_policy(name: str, store: Store, services: ServicesDep, _: Admin) -> None:
    await _done(store.delete_policy(name))
    await _reload(services)


# ---- tickets' clocks ---------------------------------------------------------------------


@router.get("/tickets/{ticket_id}/sla")
async def ticket_sla(ticket_id: int, store: Store, who: Reader) -> dict[str, Any]:
    found = await store.ticket(ticket_id, TicketScope.of(who))
    if found is None:
        raise HTTPException(404, "ticket not found")
    return found


@router.get("/sla/tickets")
async def breaching(
    store: Store,
    who: Reader,
    *,
    status: Literal["breached", "warning", "active", "paused"] = "breached",
    due_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Tickets you may see with a clock in `status`, soonest due first: `warning` is
    "breaching soon"; `status=active&due_before=…` the clocks due before a time."""
    if due_before is not None and due_before.tzinfo is None:
        due_before = due_before.replace(tzinfo=UTC)
    items = await store.breaching(TicketScope.of(who), status, due_before, limit)
    return {"status": status, "items": items}


# ---- report ------------------------------------------------------------------------------


@router.get("/reports/sla")
async def report(
    request: Request,
    services: ServicesDep,
    store: Store,
    _: ReportReader,
    *,
    first: From,
    to: To,
    by: By = "priority",
    format: Format = None,
) -> Any:
    """% SLA met per metric for the tickets created from `from` to `to` (local days of
    the center's time zone), by priority, type, group or policy."""
    if to < first:
        raise _invalid("to", "must not be before 'from'")
    if (to - first).days + 1 > MAX_REPORT_DAYS:
        raise _invalid("to", f"at most {MAX_REPORT_DAYS} days")
    zone = services.settings.zone
    start = datetime.combine(first, time(), zone).astimezone(UTC)
    end = datetime.combine(to + timedelta(days=1), time(), zone).astimezone(UTC)
    rows = await store.report(start, end, by)
    body = {"from": first.isoformat(), "to": to.isoformat(), "by": by,
            "timezone": services.settings.timezone, "rows": rows}  # fmt: skip
    if not _wants_csv(request, format):
        return body
    filename = f"sla-{first}-{to}-{by}.csv"
    return Response(
        to_csv(columns(by), rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _wants_csv(request: Request, format_: str | None) -> bool:
    if format_ is not None:
        return format_ == "csv"
    return "text/csv" in request.headers.get("accept", "")


def _invalid(name: str, message: str) -> HTTPException:
    return invalid(message, name, where="query")
