"""Call records: every change is stored as a row and published as a domain event.

This is the domain side of calls; `stasis.py` translates ARI events into these calls.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, update
from sqlmodel import col, select

from callcenter.calls.models import Call, CallEvent, CallState, Disposition
from callcenter.clock import Clock
from callcenter.customers.models import Customer
from callcenter.customers.service import ContactProfile, find_or_create_by_phone
from callcenter.db import Database
from callcenter.events import Event, EventBus


@dataclass(frozen=True)
class NewCall:
    """What the PBX tells us about a call as it arrives."""

    channel_id: str
    caller_number: str
    caller_name: str
    dialed_number: str
    direction: str = "inbound"  # or "outbound" (an agent dials a customer), "internal"

    @property
    def customer(self) -> tuple[str, str]:
        """The customer's number and name: who called in, or whom an agent dialed."""
        if self.direction == "inbound":
            return self.caller_number, self.caller_name
        return (self.dialed_number, "") if self.direction == "outbound" else ("", "")

    @property
    def source(self) -> str:
        """Where a new customer came from: the number they dialed, or an agent's call."""
        return f"phone:{self.dialed_number}" if self.direction == "inbound" else self.direction


def call_public(call: Call) -> dict[str, Any]:
    """The JSON shape of a call, the same in the REST API and on the events websocket."""
    return {
        "id": call.id,
        "channel_id": call.channel_id,
        "node": call.node,
        "direction": call.direction,
        "caller_number": call.caller_number,
        "caller_name": call.caller_name,
        "dialed_number": call.dialed_number,
        "customer_id": call.customer_id,
        "agent_id": call.agent_id,
        "state": call.state,
        "disposition": call.disposition,
        "hangup_cause": call.hangup_cause,
        "hangup_cause_text": call.hangup_cause_text,
        "ended_by": call.ended_by,
        "started_at": _iso(call.started_at),
        "answered_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
        "duration_seconds": _seconds(call.started_at, call.ended_at),
        "answered_seconds": _seconds(call.answered_at, call.ended_at),
        "queue": call.queue,
        "queue_seconds": call.queue_seconds,
        "ring_seconds": call.ring_seconds,
        "talk_seconds": call.talk_seconds,
        "hold_seconds": call.hold_seconds,
        "wrap_up_seconds": call.wrap_up_seconds,
        "abandoned": call.abandoned,
        "abandoned_position": call.abandoned_position,
        "transfers": call.transfers,
        "wrap_up_code": call.wrap_up_code,
        "notes": call.notes,
        "recording_seconds": call.recording_seconds,
        "recording_url": f"/api/calls/{call.id}/recording" if call.recording else None,
    }


def event_public(event: CallEvent) -> dict[str, Any]:
    return {"id": event.id, "at": _iso(event.at), "type": event.type, "data": event.data}


def _iso(at: datetime | None) -> str | None:
    return _aware(at).isoformat() if at is not None else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((_aware(end) - _aware(start)).total_seconds(), 3)


def _aware(at: datetime) -> datetime:
    # SQLite returns naive datetimes even for timezone=True columns; we only store UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


NOTE_FLUSH_SECONDS = 0.5  # how stale the stored timeline may be; readers flush first
ENDED_KEPT = 1000  # ended records kept in memory for the cause reported after the end

CALLS = Call.__table__  # type: ignore[attr-defined]
EVENTS = CallEvent.__table__  # type: ignore[attr-defined]
# What changes in a call record after it is created: written back in one UPDATE.
MUTABLE = (
    "state", "disposition", "hangup_cause", "hangup_cause_text", "ended_by",
    "answered_at", "ended_at", "agent_id", "queue", "queue_seconds", "ring_seconds",
    "talk_seconds", "hold_seconds", "wrap_up_seconds", "abandoned", "abandoned_position",
    "transfers", "wrap_up_code", "notes", "recording", "recording_seconds",
)  # fmt: skip
UPDATE_CALL = (
    update(CALLS)
    .where(CALLS.c.id == bindparam("b_id"))
    .values({name: bindparam(f"v_{name}") for name in MUTABLE})
)


# Told of every change to a record: its MUTABLE fields before and after (reports keep
# their handle-time totals in step with it).
RecordHook = Callable[[Mapping[str, Any], Mapping[str, Any]], None]
# Told of every call recorded, with its customer's class at that moment (None: no
# profile, an anonymous caller): the customer side of reports.
StartHook = Callable[[Call, str | None], None]


class CallNotFound(LookupError):
    pass


class CallService:
    """Creates and updates call records; the only writer of `calls` and `call_events`.

    A call in progress lives in memory: its changes and timeline steps are published at
    once and written together with every other call's a moment later (one transaction
    per 500 ms). A busy IVR adds several steps per caller per second, and a transaction
    per step or per state change was most of the controller's CPU. Only the record's
    creation waits on the database, for its id. Anything that reads records from the
    database flushes first, so readers never see an older state than was published.
    """

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        clock: Clock,
        node: str = "local",
        *,
        on_change: RecordHook | None = None,
        on_start: StartHook | None = None,
    ) -> None:
        self.db = db
        self.on_change = on_change
        self.on_start = on_start
        self.bus = bus
        self.clock = clock
        self.node = node
        self._pending: list[dict[str, Any]] = []  # call_events rows not yet written
        self._dirty: dict[int, Call] = {}  # records changed since they were last written
        self._flusher: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._live: dict[int, Call] = {}  # records of calls in progress
        self._ended: OrderedDict[int, Call] = OrderedDict()  # the latest ended records
        self._channels: dict[str, int] = {}  # channel id -> call id, for the two above
        self._snapshots: dict[int, dict[str, Any]] = {}  # calls in progress, as published
        self._classes: dict[int, str] = {}  # customer id -> class, read once by the flow

    async def start(self, new: NewCall) -> Call:
        """Record a call and link it to the customer's profile (made if new)."""
        now = self.clock.now()
        call = Call(
            channel_id=new.channel_id,
            node=self.node,
            direction=new.direction,
            caller_number=new.caller_number,
            caller_name=new.caller_name,
            dialed_number=new.dialed_number,
            started_at=now,
        )
        values = call.model_dump(exclude={"id"})

        def record(conn: Connection) -> tuple[int, ContactProfile | None]:
            number, name = new.customer
            profile = find_or_create_by_phone(conn, number, at=now, name=name, source=new.source)
            if profile is not None:
                values["customer_id"] = profile.customer_id
            inserted = conn.execute(insert(CALLS).values(values).returning(CALLS.c.id))
            return inserted.scalar_one(), profile

        call.id, profile = await self.db.write(record)
        if profile is not None:
            call.customer_id = profile.customer_id
            self._classes[profile.customer_id] = profile.customer_class
        assert call.id is not None
        if self.on_start is not None:
            self.on_start(call, profile.customer_class if profile is not None else None)
        self._remember(call)
        await self._step(call.id, call_public(call), now, "started", {})
        return call

    async def answered(self, call_id: int) -> Call:
        async def change(call: Call, now: datetime) -> bool:
            if call.answered_at is not None:
                return False
            call.answered_at = now
            call.state = CallState.ANSWERED
            return True

        return await self._update(call_id, "answered", {}, change)

    async def queue_left(
        self, call_id: int, *, queue: str, seconds: float, abandoned: bool, position: int | None
    ) -> Call:
        """The call stopped waiting in `queue`: answered, overflowed, or abandoned at
        `position` when the caller hung up first."""

        async def change(call: Call, now: datetime) -> bool:
            call.queue = queue
            call.queue_seconds = round((call.queue_seconds or 0.0) + seconds, 3)
            call.abandoned, call.abandoned_position = abandoned, position if abandoned else None
            return True

        data = {"queue": queue, "seconds": round(seconds, 3), "abandoned": abandoned,
                "position": position}  # fmt: skip
        return await self._update(call_id, "queue_left", data, change)

    async def connected(self, call_id: int, agent_id: int, *, ring_seconds: float) -> Call:
        """An agent answered: the call is theirs (records, reports and who may see it)."""

        async def change(call: Call, now: datetime) -> bool:
            call.agent_id = agent_id
            call.ring_seconds = round(ring_seconds, 3)
            return True

        data = {"agent_id": agent_id, "ring_seconds": round(ring_seconds, 3)}
        return await self._update(call_id, "assigned", data, change)

    async def talk_ended(self, call_id: int, *, seconds: float, by: str) -> Call:
        async def change(call: Call, now: datetime) -> bool:
            call.talk_seconds = round((call.talk_seconds or 0.0) + seconds, 3)
            return True

        data = {"by": by, "talk_seconds": round(seconds, 1)}
        return await self._update(call_id, "agent.ended", data, change)

    async def transferred(self, call_id: int) -> Call:
        """The agent handed the caller to someone they brought in (and left)."""

        async def change(call: Call, now: datetime) -> bool:
            call.transfers += 1
            return True

        return await self._update(call_id, "transferred", {}, change)

    async def held(self, call_id: int, *, seconds: float) -> Call:
        """A stretch on hold is over: added to the call's hold time."""

        async def change(call: Call, now: datetime) -> bool:
            call.hold_seconds = round((call.hold_seconds or 0.0) + seconds, 3)
            return False  # the hold and unhold steps are on the timeline already

        return await self._update(call_id, "held", {}, change)

    async def recorded(self, call_id: int, *, path: str, seconds: float) -> Call:
        """The conversation's recording is stored (relative to the recordings directory)."""

        async def change(call: Call, now: datetime) -> bool:
            call.recording, call.recording_seconds = path, round(seconds, 3)
            return True

        data = {"seconds": round(seconds, 3)}
        return await self._update(call_id, "recorded", data, change)

    async def wrap_up(self, call_id: int, *, code: str, notes: str) -> Call:
        """The agent's wrap-up: a disposition code and notes; its time runs from the end
        of the talk to now (a second form only replaces code and notes)."""

        async def change(call: Call, now: datetime) -> bool:
            if call.wrap_up_seconds is None and call.ended_at is not None:
                call.wrap_up_seconds = round((now - _aware(call.ended_at)).total_seconds(), 3)
            call.wrap_up_code, call.notes = code, notes
            return True

        return await self._update(call_id, "wrap_up", {"code": code}, change)

    async def note(self, call_id: int, type_: str, data: dict[str, Any] | None = None) -> None:
        """Add a step to the call's timeline (DTMF, a flow's node, …) and publish it."""
        snapshot = self._snapshots.get(call_id) or call_public(await self._record(call_id))
        await self._step(call_id, snapshot, self.clock.now(), type_, data or {})

    async def _step(
        self, call_id: int, snapshot: dict[str, Any], at: datetime, type_: str, data: dict[str, Any]
    ) -> None:
        """A timeline step: published now with the call as it is, written with the batch."""
        self._pending.append({"call_id": call_id, "at": at, "type": type_, "data": data})
        self._flush_later()
        event = {"id": None, "at": _iso(at), "type": type_, "data": data}
        await self.bus.publish(Event(type=f"call.{type_}", data={"call": snapshot, "event": event}))

    def _flush_later(self) -> None:
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(NOTE_FLUSH_SECONDS)
        await self.flush()

    async def close(self) -> None:
        """Write what is still pending; called when the services stop."""
        if self._flusher is not None:
            self._flusher.cancel()
        await self.flush()

    async def flush(self) -> None:
        """Write the changed records and the steps noted so far, in one transaction."""
        async with self._flush_lock:
            self._flusher = None
            rows, self._pending = self._pending, []
            dirty, self._dirty = list(self._dirty.values()), {}
            if not rows and not dirty:
                return
            changes = [
                {"b_id": call.id, **{f"v_{name}": getattr(call, name) for name in MUTABLE}}
                for call in dirty
            ]

            def write(conn: Connection) -> None:
                # executemany statements: the ORM's unit of work costs more than the rows.
                if changes:
                    conn.execute(UPDATE_CALL, changes)
                if rows:
                    conn.execute(insert(EVENTS), rows)

            await self.db.write(write)

    async def end(
        self,
        call_id: int,
        *,
        cause: int | None,
        cause_text: str | None,
        ended_by: str,
        disposition: Disposition | None = None,
    ) -> Call:
        """Close the record once; a later report of the same end only fills in the cause."""

        async def change(call: Call, now: datetime) -> bool:
            if call.state == CallState.ENDED:
                # StasisEnd closes the record; ChannelDestroyed comes after with the text.
                if call.hangup_cause is None:
                    call.hangup_cause = cause
                if call.hangup_cause_text is None:
                    call.hangup_cause_text = cause_text
                return False
            call.state = CallState.ENDED
            call.ended_at = now
            call.hangup_cause, call.hangup_cause_text = cause, cause_text
            call.ended_by = ended_by
            # Abandoned: hung up before anyone answered, or while waiting for an agent.
            answered = call.answered_at is not None and not call.abandoned
            call.disposition = disposition or (
                Disposition.COMPLETED if answered else Disposition.ABANDONED
            )
            return True

        data = {"cause": cause, "cause_text": cause_text, "ended_by": ended_by}
        return await self._update(call_id, "ended", data, change)

    async def _update(
        self,
        call_id: int,
        type_: str,
        data: dict[str, Any],
        change: Any,
    ) -> Call:
        call = await self._record(call_id)
        now = self.clock.now()
        before = _mutable(call)
        changed = await change(call, now)
        after = _mutable(call)
        if after != before:
            self._dirty[call_id] = call
            self._flush_later()
            if self.on_change is not None:
                self.on_change(dict(zip(MUTABLE, before, strict=True)),
                               dict(zip(MUTABLE, after, strict=True)))  # fmt: skip
        self._remember(call)
        if changed:
            await self._step(call_id, call_public(call), now, type_, data)
        return call

    async def call(self, call_id: int) -> Call:
        """One call's record without its timeline (memory first); CallNotFound if none."""
        return await self._record(call_id)

    async def _record(self, call_id: int) -> Call:
        """The call's record: from memory while it is in progress, else from the database."""
        call = self._live.get(call_id) or self._ended.get(call_id)
        if call is not None:
            return call
        await self.flush()
        async with self.db.session() as s:
            call = await s.get(Call, call_id)
        if call is None:
            raise CallNotFound(call_id)
        self._remember(call)
        return call

    def _remember(self, call: Call) -> None:
        if call.id is None:
            return
        self._channels[call.channel_id] = call.id
        if call.state != CallState.ENDED:
            self._live[call.id] = call
            self._snapshots[call.id] = call_public(call)
            return
        self._live.pop(call.id, None)
        self._snapshots.pop(call.id, None)
        self._ended[call.id] = call
        self._ended.move_to_end(call.id)
        while len(self._ended) > ENDED_KEPT:
            _, old = self._ended.popitem(last=False)
            self._channels.pop(old.channel_id, None)

    async def customer_class(self, customer_id: int | None) -> str:
        """ "new", "returning", "vip"...: what IVR conditions branch on."""
        if customer_id is None:
            return "new"
        if customer_id in self._classes:  # known since the call started: no query
            return self._classes.pop(customer_id)
        async with self.db.session() as s:
            customer = await s.get(Customer, customer_id)
        return customer.customer_class if customer is not None else "new"

    async def customer(self, customer_id: int | None) -> dict[str, Any] | None:
        """The customer's profile as a screen-pop shows it (None for an anonymous caller)."""
        if customer_id is None:
            return None
        async with self.db.session() as s:
            customer = await s.get(Customer, customer_id)
        if customer is None:
            return None
        return {
            "id": customer.id,
            "name": customer.display_name,
            "class": customer.customer_class,
            "since": _aware(customer.created_at).isoformat(),
            "tags": list(customer.tags or []),
            "region": customer.region,
            "notes": customer.notes,
        }

    async def last_agent(self, customer_id: int | None) -> int | None:
        """Who last talked with this customer: routing offers them first (sticky)."""
        if customer_id is None:
            return None
        for call in reversed(self._ended.values()):  # recent calls are in memory
            if call.customer_id == customer_id and call.agent_id is not None:
                return call.agent_id
        await self.flush()
        async with self.db.session() as s:
            stmt = (
                select(Call.agent_id)
                .where(Call.customer_id == customer_id, col(Call.agent_id).is_not(None))
                .order_by(col(Call.id).desc())
                .limit(1)
            )
            return (await s.exec(stmt)).first()

    async def by_channel(self, channel_id: str) -> Call | None:
        call_id = self._channels.get(channel_id)
        if call_id is not None:
            return await self._record(call_id)
        await self.flush()
        async with self.db.session() as s:
            stmt = select(Call).where(Call.channel_id == channel_id)
            return (await s.exec(stmt)).first()

    async def open_calls(self) -> list[Call]:
        """Calls of this node not yet ended: what a restarted controller must account for."""
        await self.flush()
        async with self.db.session() as s:
            stmt = select(Call).where(Call.node == self.node, Call.state != CallState.ENDED)
            found = list((await s.exec(stmt)).all())
        # Ours in memory are the newer copies: the rows were just written from them.
        return [self._live.get(call.id or 0, call) for call in found]

    async def list_calls(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        agent_id: int | None = None,
        caller_number: str | None = None,
        state: str | None = None,
    ) -> tuple[list[Call], int]:
        await self.flush()
        async with self.db.session() as s:
            stmt = select(Call)
            count = select(func.count()).select_from(Call)
            for cond in _filters(agent_id, caller_number, state):
                stmt, count = stmt.where(cond), count.where(cond)
            stmt = stmt.order_by(col(Call.id).desc()).offset(offset).limit(limit)
            rows = list((await s.exec(stmt)).all())
            total = (await s.exec(count)).one()
        return rows, int(total)

    async def get_call(self, call_id: int) -> tuple[Call, list[CallEvent]]:
        await self.flush()
        async with self.db.session() as s:
            call = await s.get(Call, call_id)
            if call is None:
                raise CallNotFound(call_id)
            stmt = select(CallEvent).where(CallEvent.call_id == call_id).order_by(col(CallEvent.id))
            events = list((await s.exec(stmt)).all())
        return call, events


def _mutable(call: Call) -> tuple[Any, ...]:
    return tuple(getattr(call, name) for name in MUTABLE)


def _filters(agent_id: int | None, caller_number: str | None, state: str | None) -> list[Any]:
    conds: list[Any] = []
    if agent_id is not None:
        conds.append(Call.agent_id == agent_id)
    if caller_number:
        conds.append(Call.caller_number == caller_number)
    if state:
        conds.append(Call.state == state)
    return conds
