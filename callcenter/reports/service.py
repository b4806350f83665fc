"""Report queries: sum the half-hour rollups, fold them into the center's periods.

A query reads the rollup rows of its half hours (at most one per half hour, queue and
channel, or per agent too; per source, region and kind of customer), never the calls:
its cost follows the length of the period and the size of the floor, not the number
of calls stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BindParameter, Table, select, text

from callcenter.agents.models import AgentProfileRow
from callcenter.auth.models import User
from callcenter.db import Database
from callcenter.metrics import ServiceLevel, Tally
from callcenter.reports.buckets import Folding, Period, Span
from callcenter.reports.models import (
    ABANDON_COLUMNS,
    AGENT_HALF_HOURS,
    CUSTOMER_HALF_HOURS,
    INTEGER_MEASURES,
    MEASURES,
    QUEUE_HALF_HOURS,
)
from callcenter.reports.writer import ReportWriter

TALLY_FIELDS = tuple(f.name for f in fields(Tally))
NO_TEAM = ""  # agents without a team


class Group(StrEnum):
    NONE = "none"
    QUEUE = "queue"
    AGENT = "agent"
    TEAM = "team"
    CHANNEL = "channel"


# What a report row is summed by in SQL, per group (the queue: for its objective).
GROUP_COLUMNS: dict[Group, tuple[str, ...]] = {
    Group.NONE: ("queue",),
    Group.QUEUE: ("queue",),
    Group.CHANNEL: ("channel", "queue"),
    Group.AGENT: ("agent_id",),
    Group.TEAM: ("agent_id",),
}


@dataclass
class Cell:
    """One report row being summed: a period and a group's value."""

    tally: Tally = field(default_factory=Tally)
    abandons: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ABANDON_COLUMNS, 0))
    callbacks: int = 0
    queues: set[str] = field(default_factory=set)

    def add(self, row: Mapping[Any, Any]) -> None:
        # int/float: PostgreSQL's SUM of integers is a Decimal.
        values: dict[str, Any] = {
            name: int(row[name]) if name in INTEGER_MEASURES else float(row[name])
            for name in TALLY_FIELDS
        }
        self.tally = self.tally + Tally(**values)
        for column in ABANDON_COLUMNS:
            self.abandons[column] += int(row[column])
        self.callbacks += int(row["callbacks"])
        if "queue" in row:
            self.queues.add(row["queue"])


def objective_of(objectives: Iterable[ServiceLevel]) -> ServiceLevel:
    """The objective a row over several queues is read with.

    Each visit was already judged in time or not, and short or not, by its own queue's
    threshold when it was stored; what is left to choose is whether abandoned contacts
    count (and the target shown). Queues that agree give theirs; queues that differ give
    `counted`, the industry's usual reading, and the first queue's target.
    """
    found = list(objectives) or [ServiceLevel()]
    modes = {sl.abandoned for sl in found}
    first = found[0]
    mode = first.abandoned if len(modes) == 1 else "counted"
    return ServiceLevel(first.seconds, first.target, mode, first.short_abandon)


class ReportService:
    def __init__(
        self,
        db: Database,
        writer: ReportWriter,
        zone: ZoneInfo,
    ) -> None:
        self.db = db
        self.writer = writer
        self.zone = zone

    def span(self, first: date, last: date) -> Span:
        """Local days `first` to `last` (both included) in the center's zone."""
        return Span(first, last, self.zone)

    async def service(self, span: Span, by: Period, group: Group) -> list[dict[str, Any]]:
        """Offered, answered, abandoned, service level, ASA, AHT … per period and group."""
        await self.writer.flush()
        return await self.summed(_rollup(group).name, span, by, group)

    async def summed(
        self,
        source: str,
        span: Span,
        by: Period,
        group: Group,
        params: Sequence[BindParameter[Any]] = (),
    ) -> list[dict[str, Any]]:
        """`source` (a rollup, or any FROM giving its columns) summed per period and group.

        The database sums each local period (`Folding`); rows keep the queue where the
        service level needs each queue's objective. Agent rows hold no abandons or
        overflows, so theirs does not depend on it.
        """
        cells, names = await self._cells(source, span, by, group, params)
        return [
            self._public(period, key, cell, group, names)
            for (period, key), cell in sorted(cells.items(), key=_order)
        ]

    async def day_tallies(self, day: date, group: Group) -> dict[str, Cell]:
        """One local day's sums per queue or agent: what the wallboard starts from after
        a restart, so "today" keeps what happened before it."""
        await self.writer.flush()
        cells, _ = await self._cells(_rollup(group).name, self.span(day, day), Period.DAY, group)
        return {key: cell for (_, key), cell in cells.items()}

    async def _cells(
        self,
        source: str,
        span: Span,
        by: Period,
        group: Group,
        params: Sequence[BindParameter[Any]] = (),
    ) -> tuple[dict[tuple[str, str], Cell], dict[int, str]]:
        folding = Folding(span, by)
        keys = ", ".join(GROUP_COLUMNS[group])
        sums = ", ".join(f"SUM({m}) AS {m}" for m in MEASURES)
        sql = text(
            f"SELECT {folding.sql()} AS period, {keys}, {sums} FROM {source} "
            f"WHERE bucket >= :first AND bucket < :stop GROUP BY 1, {keys}"
        ).bindparams(*params, first=span.buckets.start, stop=span.buckets.stop)
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(sql)).mappings().all()
        names: dict[int, str] = {}
        teams: dict[int, list[str]] = {}
        if group in (Group.AGENT, Group.TEAM):
            names, teams = await self._agents()
        cells: dict[tuple[str, str], Cell] = defaultdict(Cell)
        labels: dict[int, str] = {}
        for row in rows:
            number = int(row["period"])
            period = labels.get(number)
            if period is None:
                period = labels[number] = folding.label(number)
            for key in _keys(row, group, teams):
                cells[(period, key)].add(row)
        return cells, names

    def _public(
        self, period: str, key: str, cell: Cell, group: Group, names: Mapping[int, str]
    ) -> dict[str, Any]:
        objective = objective_of(self.writer.objective(q) for q in sorted(cell.queues))
        # Agents answer in several queues: no one queue's target is theirs.
        target = objective.target if cell.queues else None
        out: dict[str, Any] = {"period": period, "group": key}
        if group == Group.AGENT:
            out["name"] = names.get(int(key), "") if key.isdigit() else ""
        out |= cell.tally.summary(objective)
        out["service_level_target"] = target
        out |= cell.abandons
        out["callbacks"] = cell.callbacks
        return out

    def columns(self, group: Group) -> list[str]:
        """The fields of a service report row, in order (a CSV header with no rows)."""
        return list(self._public("", "", Cell(), group, {}))

    async def _agents(self) -> tuple[dict[int, str], dict[int, list[str]]]:
        """Agents' names and *current* teams (an agent in two teams counts in both)."""
        users = User.__table__  # type: ignore[attr-defined]
        profiles = AgentProfileRow.__table__  # type: ignore[attr-defined]
        async with self.db.engine.connect() as conn:
            people = await conn.execute(select(users.c.id, users.c.username, users.c.display_name))
            names = {row.id: row.display_name or row.username for row in people}
            found = await conn.execute(select(profiles.c.user_id, profiles.c.teams))
            teams = {row.user_id: list(row.teams or []) for row in found}
        return names, teams

    async def customers(self, span: Span, by: Period) -> list[dict[str, Any]]:
        """Inbound calls per period by source (the number dialed), region (from the
        caller's international prefix) and customer (new, returning, anonymous)."""
        await self.writer.flush()
        folding = Folding(span, by)
        sql = text(
            f"SELECT {folding.sql()} AS period, dimension, value, SUM(calls) AS calls "
            f"FROM {CUSTOMER_HALF_HOURS.name} WHERE bucket >= :first AND bucket < :stop "
            "GROUP BY 1, 2, 3"
        ).bindparams(first=span.buckets.start, stop=span.buckets.stop)
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(sql)).all()
        found = [
            {"period": folding.label(int(period)), "dimension": dimension, "value": value,
             "calls": int(calls)}
            for period, dimension, value, calls in rows
        ]  # fmt: skip
        return sorted(found, key=lambda r: (r["period"], r["dimension"], r["value"]))


def _rollup(group: Group) -> Table:
    """Agents' and teams' rows come from the per-agent rollup, the rest per queue."""
    return AGENT_HALF_HOURS if group in (Group.AGENT, Group.TEAM) else QUEUE_HALF_HOURS


def _keys(row: Mapping[Any, Any], group: Group, teams: Mapping[int, list[str]]) -> list[str]:
    if group == Group.NONE:
        return [""]
    if group == Group.QUEUE:
        return [row["queue"]]
    if group == Group.CHANNEL:
        return [row["channel"]]
    if group == Group.AGENT:
        return [str(row["agent_id"])]
    return teams.get(row["agent_id"]) or [NO_TEAM]


def _order(item: tuple[tuple[str, str], Cell]) -> tuple[str, str]:
    period, key = item[0]
    return period, key.zfill(20) if key.isdigit() else key  # agent 2 before agent 10
