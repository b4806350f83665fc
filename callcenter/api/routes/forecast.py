"""Forecast and staffing per half hour for one queue and day (docs/forecast.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from callcenter.api.deps import ServicesDep, invalid, require
from callcenter.auth.permissions import Permission, Principal
from callcenter.forecast.calls_history import CallsHistory
from callcenter.forecast.staffing import (
    DayOutOfRange,
    ForecastService,
    StaffingDay,
    UnknownQueue,
)

router = APIRouter(prefix="/api/forecast", tags=["forecast"])
Reader = Annotated[Principal, Depends(require(Permission.REPORTS_READ))]
LOGGED_IN_NOTE = (
    "agents logged in (not offline) with the queue's skills, for the current half hour "
    "only: there are no schedules yet"
)


def forecast_service(services: ServicesDep) -> ForecastService:
    """Wired here, per request, from the long-lived services; the history source is the
    call records until the reports' rollup table can take its place."""
    zone = services.settings.zone
    history = CallsHistory(services.db, zone, before_read=services.calls.flush)
    return ForecastService(history, services.routing.router, services.agents, services.clock, zone)


Forecasts = Annotated[ForecastService, Depends(forecast_service)]


@router.get("")
async def forecast(
    forecasts: Forecasts,
    _: Reader,
    queue: Annotated[str, Query(min_length=1, max_length=64)],
    day: Annotated[dt.date | None, Query(alias="date")] = None,
    max_occupancy: Annotated[float | None, Query(gt=0, le=1)] = None,
    shrinkage: Annotated[float, Query(ge=0, lt=1)] = 0.0,
) -> dict[str, Any]:
    """The day's half hours (the center's time zone; today by default) for one queue."""
    try:
        staffing = await forecasts.staffing(
            day or forecasts.today(), queue, max_occupancy=max_occupancy, shrinkage=shrinkage
        )
    except UnknownQueue:
        known = ", ".join(forecasts.router.queue_names)
        raise _invalid("queue", f"unknown queue; use {known}") from None
    except DayOutOfRange as exc:
        raise _invalid("date", str(exc)) from None
    return _public(staffing, forecasts)


def _invalid(field: str, message: str) -> HTTPException:
    return invalid(message, field, where="query")


def _public(day: StaffingDay, forecasts: ForecastService) -> dict[str, Any]:
    zone = forecasts.zone
    forecast = day.forecast
    objective = day.queue.service_level
    first, last = forecast.history[0], forecast.history[1] - dt.timedelta(days=1)
    slots = [
        {
            "start": slot.start.astimezone(zone).isoformat(),
            "volume": round(slot.volume, 2),
            "aht": round(slot.aht, 1),
            "aht_from": slot.aht_from,
            "traffic": round(slot.staffing.traffic, 3),
            "agents_needed": slot.staffing.agents,
            "agents_scheduled": slot.staffing.scheduled,
            "service_level_at_needed": round(slot.staffing.service_level, 4),
            "asa": round(slot.staffing.asa, 1),
            "occupancy": round(slot.staffing.occupancy, 4),
            "limited_by": slot.staffing.limited_by,
            "logged_in": slot.logged_in,
        }
        for slot in day.slots
    ]
    method = dataclasses.asdict(forecasts.method)
    return {
        "date": forecast.day.isoformat(),
        "queue": day.queue.name,
        "time_zone": zone.key,
        "slots": slots,
        "parameters": {
            **method,
            "trend_limits": list(forecasts.method.trend_limits),
            "basis": forecast.basis,
            "days_used": forecast.days_used,
            "trend": round(forecast.trend, 4),
            "history": {"first_day": first.isoformat(), "last_day": last.isoformat()},
            "service_level": {"seconds": objective.seconds, "target": objective.target},
            "default_aht": day.queue.default_handle_seconds,
            "max_occupancy": day.max_occupancy,
            "shrinkage": day.shrinkage,
            "logged_in": LOGGED_IN_NOTE,
        },
    }
