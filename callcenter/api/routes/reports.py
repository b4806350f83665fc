"""Historical reports over REST, as JSON or CSV: thin, the domain is callcenter.reports."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from callcenter.api.deps import ServicesDep, invalid, require
from callcenter.auth.permissions import Permission, Principal
from callcenter.reports.buckets import Period, Span
from callcenter.reports.export import to_csv
from callcenter.reports.service import Group

router = APIRouter(prefix="/api/reports", tags=["reports"])
Reader = Annotated[Principal, Depends(require(Permission.REPORTS_READ))]
From = Annotated[date, Query(alias="from", description="first local day, e.g. 2026-03-01")]
To = Annotated[date, Query(description="last local day, included")]
Format = Annotated[Literal["json", "csv"] | None, Query(description="or Accept: text/csv")]
# The longest range per granularity: a year of days or weeks, a month of hours.
MAX_DAYS = {Period.HOUR: 31, Period.DAY: 366, Period.WEEK: 371}


def _span(services: ServicesDep, first: date, last: date, by: Period) -> Span:
    if last < first:
        raise _invalid("to", "must not be before 'from'")
    span = services.reports.span(first, last)
    if span.days > MAX_DAYS[by]:
        raise _invalid("to", f"at most {MAX_DAYS[by]} days by {by.value}; choose a coarser 'by'")
    return span


def _invalid(name: str, message: str) -> HTTPException:
    return invalid(message, name, where="query")


def _wants_csv(request: Request, format_: str | None) -> bool:
    if format_ is not None:
        return format_ == "csv"
    return "text/csv" in request.headers.get("accept", "")


def _answer(
    request: Request, format_: str | None, name: str, columns: list[str], body: dict[str, Any]
) -> Any:
    if not _wants_csv(request, format_):
        return body
    filename = f"{name}-{body['from']}-{body['to']}-{body['by']}.csv"
    return Response(
        to_csv(columns, body["rows"]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/service")
async def service(
    request: Request,
    services: ServicesDep,
    _: Reader,
    *,
    first: From,
    to: To,
    by: Period = Period.DAY,
    group: Group = Group.QUEUE,
    format: Format = None,
) -> Any:
    """Offered, answered, abandoned (with time-to-abandon buckets), service level, ASA,
    AHT, transfers and callbacks per local hour/day/week and queue/agent/team/channel."""
    span = _span(services, first, to, by)
    rows = await services.reports.service(span, by, group)
    body = {"from": first.isoformat(), "to": to.isoformat(), "by": by.value,
            "group": group.value, "timezone": services.settings.timezone, "rows": rows}  # fmt: skip
    columns = services.reports.columns(group)
    return _answer(request, format, f"service-{group.value}", columns, body)


@router.get("/customers")
async def customers(
    request: Request,
    services: ServicesDep,
    _: Reader,
    *,
    first: From,
    to: To,
    by: Period = Period.DAY,
    format: Format = None,
) -> Any:
    """Inbound calls per period by source (number dialed), region (caller's country
    prefix) and customer (new, returning, anonymous)."""
    span = _span(services, first, to, by)
    rows = await services.reports.customers(span, by)
    body = {"from": first.isoformat(), "to": to.isoformat(), "by": by.value,
            "timezone": services.settings.timezone, "rows": rows}  # fmt: skip
    return _answer(request, format, "customers", ["period", "dimension", "value", "calls"], body)
