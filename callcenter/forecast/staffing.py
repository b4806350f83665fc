"""Staffing for one queue and day: the forecast per half hour, the agents it needs by
Erlang C for the queue's service-level objective, and the agents logged in now.

There are no schedules yet, so the only staff to compare with is who is logged in, and
that is known only for the half hour going on now: the other half hours show none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from callcenter.agents.service import AgentService
from callcenter.agents.state import AgentState
from callcenter.clock import Clock
from callcenter.forecast.erlang import Staffing, agents_needed
from callcenter.forecast.history import SLOT, SLOT_SECONDS, HistorySource, day_start
from callcenter.forecast.model import DayForecast, Method, forecast_day, history_window
from callcenter.routing.model import QueueSpec
from callcenter.routing.router import Router

# Days that can be forecast, from today: a year ahead at most (the trend line is no
# guide further out), ten years back (a backtest against what really happened).
DAYS_AHEAD = 366
DAYS_BACK = 3653


class UnknownQueue(LookupError):
    pass


class DayOutOfRange(ValueError):
    pass


@dataclass(frozen=True)
class StaffingSlot:
    start: datetime  # UTC
    volume: float
    aht: float
    aht_from: Literal["history", "default"]  # default: the queue's handle_seconds
    staffing: Staffing
    logged_in: int | None  # only for the half hour going on now


@dataclass(frozen=True)
class StaffingDay:
    queue: QueueSpec
    forecast: DayForecast
    slots: list[StaffingSlot]
    max_occupancy: float | None
    shrinkage: float


class ForecastService:
    """Reads history, forecasts, staffs. Built per use: it holds nothing of its own."""

    def __init__(
        self,
        history: HistorySource,
        router: Router,
        agents: AgentService,
        clock: Clock,
        zone: ZoneInfo,
        *,
        method: Method | None = None,
    ) -> None:
        self.history = history
        self.router = router
        self.agents = agents
        self.clock = clock
        self.zone = zone
        self.method = method or Method()

    def today(self) -> date:
        return self.clock.now().astimezone(self.zone).date()

    def queue(self, name: str) -> QueueSpec:
        if name not in self.router.queue_names:
            raise UnknownQueue(name)
        return self.router.queue(name)

    async def staffing(
        self,
        day: date,
        queue: str,
        *,
        max_occupancy: float | None = None,
        shrinkage: float = 0.0,
    ) -> StaffingDay:
        spec = self.queue(queue)
        today = self.today()
        earliest, latest = today - timedelta(days=DAYS_BACK), today + timedelta(days=DAYS_AHEAD)
        if not earliest <= day <= latest:
            raise DayOutOfRange(f"choose a day from {earliest} to {latest}")
        first, end = history_window(day, today, self.method)
        seen = await self.history(day_start(first, self.zone), day_start(end, self.zone), queue)
        forecast = forecast_day(seen, day, self.zone, today=today, method=self.method)
        now = self.clock.now()
        objective = spec.service_level
        slots = []
        for slot in forecast.slots:
            aht = slot.aht if slot.aht is not None else spec.default_handle_seconds
            staffing = agents_needed(
                slot.volume * aht / SLOT_SECONDS,
                aht,
                objective.seconds,
                objective.target,
                max_occupancy=max_occupancy,
                shrinkage=shrinkage,
            )
            current = slot.start <= now < slot.start + SLOT
            slots.append(
                StaffingSlot(
                    start=slot.start,
                    volume=slot.volume,
                    aht=aht,
                    aht_from="history" if slot.aht is not None else "default",
                    staffing=staffing,
                    logged_in=await self.logged_in(spec) if current else None,
                )
            )
        return StaffingDay(spec, forecast, slots, max_occupancy, shrinkage)

    async def logged_in(self, spec: QueueSpec) -> int:
        """Agents not offline who could take the queue's contacts: the skills it asks
        for, and room for its channel. On a break counts: they are at work."""
        return sum(
            1
            for view in await self.agents.agents()
            if view.state != AgentState.OFFLINE
            and view.profile.qualifies(spec.skills)
            and view.profile.capacity.get(spec.channel, 0) > 0
        )
