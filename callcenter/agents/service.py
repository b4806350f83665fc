"""Agents on the floor: routing profiles (stored) and presence (in memory, logged).

Presence lives in the controller's memory, like calls in progress: every change is
published at once (`agent.state`, for desktops and the wallboard) and the span it
closes is stored for reports. After a controller restart every agent shows offline
and logs in again, as with a phone system that rebooted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert
from sqlmodel import col, select

from callcenter.agents.models import AgentProfileRow, AgentStateSpanRow
from callcenter.agents.state import AgentState, InvalidTransition, Presence, StateSpan
from callcenter.auth.models import User
from callcenter.clock import Clock
from callcenter.db import Database
from callcenter.events import Event, EventBus
from callcenter.routing.model import AgentProfile

PresenceListener = Callable[[int, AgentState], Awaitable[None]]
SPANS = AgentStateSpanRow.__table__  # type: ignore[attr-defined]
# What an agent (or a supervisor for them) may choose; offered, on call and wrap-up
# follow from calls and are set by routing, never by hand.
CHOSEN_STATES = frozenset({AgentState.AVAILABLE, AgentState.BREAK, AgentState.OFFLINE})


class AgentNotFound(LookupError):
    pass


class AgentStateError(ValueError):
    """A state change the floor's rules refuse; the message says why."""


@dataclass(frozen=True)
class AgentView:
    """An agent as the API shows it: who, what routing knows, where they are now."""

    user_id: int
    username: str
    display_name: str
    extension: str
    profile: AgentProfile
    state: AgentState
    reason: str
    since: datetime
    role: str = "agent"


class AgentService:
    def __init__(self, db: Database, bus: EventBus, clock: Clock) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self._presence: dict[int, Presence] = {}
        self._listeners: list[PresenceListener] = []

    def add_listener(self, listener: PresenceListener) -> None:
        """Called after every state change (routing follows who is available)."""
        self._listeners.append(listener)

    # ---- profiles --------------------------------------------------------------------

    async def set_profile(
        self,
        user_id: int,
        *,
        extension: str,
        skills: dict[str, int],
        teams: Iterable[str],
        voice_capacity: int,
        chat_capacity: int,
    ) -> AgentView:
        async with self.db.session() as s:
            if await s.get(User, user_id) is None:
                raise AgentNotFound(user_id)
            row = await s.get(AgentProfileRow, user_id) or AgentProfileRow(
                user_id=user_id, updated_at=self.clock.now()
            )
            row.extension, row.skills = extension, dict(skills)
            row.teams = sorted(set(teams))
            row.voice_capacity, row.chat_capacity = voice_capacity, chat_capacity
            row.updated_at = self.clock.now()
            s.add(row)
            await s.commit()
        return await self.agent(user_id)

    async def agent(self, user_id: int) -> AgentView:
        found = await self.agents([user_id])
        if not found:
            raise AgentNotFound(user_id)
        return found[0]

    async def agents(self, user_ids: Iterable[int] | None = None) -> list[AgentView]:
        """Active users with their profiles (defaults where none is set) and presence."""
        async with self.db.session() as s:
            stmt = select(User).where(col(User.is_active).is_(True)).order_by(col(User.id))
            if user_ids is not None:
                stmt = stmt.where(col(User.id).in_(list(user_ids)))
            users = list((await s.exec(stmt)).all())
            ids = [u.id for u in users]
            having = select(AgentProfileRow).where(col(AgentProfileRow.user_id).in_(ids))
            rows = (await s.exec(having)).all()
        profiles = {row.user_id: row for row in rows}
        return [self._view(user, profiles.get(user.id or 0)) for user in users]

    def _view(self, user: User, row: AgentProfileRow | None) -> AgentView:
        assert user.id is not None
        presence = self.presence(user.id)
        profile = AgentProfile(
            id=user.id,
            name=user.display_name or user.username,
            skills=dict(row.skills) if row else {},
            teams=frozenset(row.teams) if row else frozenset(),
            capacity={"voice": row.voice_capacity, "chat": row.chat_capacity}
            if row
            else {"voice": 1, "chat": 3},
        )
        return AgentView(
            user_id=user.id, username=user.username, display_name=user.display_name,
            extension=row.extension if row else "", profile=profile, state=presence.state,
            reason=presence.reason, since=datetime.fromtimestamp(presence.since, UTC),
            role=user.role,
        )  # fmt: skip

    # ---- presence --------------------------------------------------------------------

    def presence(self, user_id: int) -> Presence:
        presence = self._presence.get(user_id)
        if presence is None:
            presence = Presence(user_id, since=self.clock.now().timestamp())
            self._presence[user_id] = presence
        return presence

    def logged_in(self) -> frozenset[int]:
        """The agents not offline now (ticket assignment may want only them)."""
        return frozenset(u for u, p in self._presence.items() if p.state != AgentState.OFFLINE)

    async def choose_state(self, user_id: int, state: AgentState, reason: str = "") -> AgentView:
        """The agent (or a supervisor for them) logs in, takes a break, comes back, leaves."""
        if state not in CHOSEN_STATES:
            raise AgentStateError(f"{state} follows from calls; choose available, break or offline")
        view = await self.agent(user_id)  # raises AgentNotFound for an unknown user
        await self.change(user_id, state, reason)
        return await self.agent(view.user_id)

    async def change(self, user_id: int, state: AgentState, reason: str = "") -> StateSpan:
        """Any state change (routing's too): checked, published, its closed span stored."""
        presence = self.presence(user_id)
        previous = presence.state
        try:
            span = presence.change(state, self.clock.now().timestamp(), reason)
        except InvalidTransition as exc:
            raise AgentStateError(str(exc)) from None
        row = {
            "agent_id": user_id, "state": str(span.state), "reason": span.reason,
            "started_at": _utc(span.started), "ended_at": _utc(span.ended),
        }  # fmt: skip

        def store(conn: Connection) -> None:
            conn.execute(insert(SPANS).values(row))

        await self.db.write(store)
        data: dict[str, Any] = {
            "agent_id": user_id, "state": str(state), "reason": presence.reason,
            "previous": str(previous), "since": _utc(presence.since).isoformat(),
        }  # fmt: skip
        await self.bus.publish(Event(type="agent.state", data=data))
        for listener in list(self._listeners):
            await listener(user_id, state)
        return span

    async def spans(self, user_id: int, since: datetime) -> list[AgentStateSpanRow]:
        async with self.db.session() as s:
            stmt = (
                select(AgentStateSpanRow)
                .where(AgentStateSpanRow.agent_id == user_id)
                .where(col(AgentStateSpanRow.started_at) >= since)
                .order_by(col(AgentStateSpanRow.id))
            )
            return list((await s.exec(stmt)).all())


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
