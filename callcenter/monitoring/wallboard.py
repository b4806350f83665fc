"""The wallboard service: keeps the `Floor` current and pushes its changes to screens.

Pushing every event to every screen would cost events x screens messages (200 events/s
to 300 screens is 60,000 sends a second) and make each screen redraw for each. Instead
the tiles an event changed are collected and sent at most every `window` seconds, the
first change at once: an idle floor updates the instant something happens, a busy one
sends one message per window with every tile that changed in it, serialized once for
all screens. Running figures (time waiting, time in state) are ticked by the page from
the timestamps sent, so nothing needs a push while nothing happens.

A screen that cannot keep up loses its queued updates and gets a full snapshot instead,
so it is never left showing a tile that changed in an update it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from datetime import date
from zoneinfo import ZoneInfo

from callcenter.agents.service import AgentNotFound, AgentService
from callcenter.agents.state import AgentState
from callcenter.events import Event, EventBus, handle_each
from callcenter.monitoring.floor import Floor
from callcenter.reports.service import Group, ReportService
from callcenter.routing.model import QueueSpec
from callcenter.routing.service import RoutingService

log = logging.getLogger(__name__)

EVENT_TYPES = ("queue.", "agent.state", "call.agent.", "call.wrap_up", "call.transferred")
SCREEN_QUEUE = 64  # updates one screen may be behind before it is resynced
TICK_SECONDS = 1.0  # midnight and routing edits are checked this often


class Screen:
    """One connected wallboard: the messages waiting to be sent to it."""

    def __init__(self) -> None:
        self.outbox: asyncio.Queue[str] = asyncio.Queue(SCREEN_QUEUE)
        self.behind = False


class Wallboard:
    def __init__(
        self,
        bus: EventBus,
        agents: AgentService,
        routing: RoutingService,
        zone: ZoneInfo,
        *,
        history: ReportService | None = None,
        window: float = 0.05,
    ) -> None:
        self.bus = bus
        self.agents = agents
        self.routing = routing
        self.window = window
        self.history = history
        self.floor = Floor(zone, self._queue_specs(), time.time())
        self._screens: set[Screen] = set()
        self._changed: set[str] = set()
        self._last_push = 0.0
        self._push_timer: asyncio.TimerHandle | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for view in await self.agents.agents():
            if view.role != "agent" and view.state == AgentState.OFFLINE:
                continue  # a supervisor or admin shows up once they take calls
            self.floor.agent_known(view.profile)
            if view.state != AgentState.OFFLINE:  # adopted on a call after a restart
                event = {"agent_id": view.user_id, "state": str(view.state),
                         "reason": view.reason, "since": view.since.isoformat()}  # fmt: skip
                self.floor.apply(Event("agent.state", event))
        subscription = self.bus.subscribe(*EVENT_TYPES, maxsize=100_000)
        if self.history is not None:
            await self._seed(self.history)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(
                handle_each(subscription, self._apply, log=log, what="wallboard"),
                name="wallboard-events",
            ),
            loop.create_task(self._tick(), name="wallboard-tick"),
        ]

    async def _seed(self, history: ReportService) -> None:
        """Today so far from the stored rollups, so a restart does not zero the board.

        Subscribed first: an event published meanwhile is counted on top; one the
        rollup also had by then is counted twice, a rare error of one on a restart.
        """
        today = date.fromisoformat(self.floor.today())
        queues = await history.day_tallies(today, Group.QUEUE)
        agents = await history.day_tallies(today, Group.AGENT)
        self.floor.seed(
            {name: (cell.tally, cell.callbacks) for name, cell in queues.items()},
            {int(key): cell.tally for key, cell in agents.items() if key.isdigit()},
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._push_timer is not None:
            self._push_timer.cancel()

    # ---- screens ------------------------------------------------------------------------

    def connect(self) -> Screen:
        screen = Screen()
        screen.outbox.put_nowait(self._message("snapshot", None))
        self._screens.add(screen)
        return screen

    def disconnect(self, screen: Screen) -> None:
        self._screens.discard(screen)

    def snapshot(self) -> dict[str, object]:
        return self.floor.snapshot(time.time())

    async def next_message(self, screen: Screen) -> str:
        message = await screen.outbox.get()
        if screen.behind:  # what it missed is in a fresh snapshot
            screen.behind = False
            while not screen.outbox.empty():
                screen.outbox.get_nowait()
            return self._message("snapshot", None)
        return message

    # ---- keeping the floor current ------------------------------------------------------

    async def _apply(self, event: Event) -> None:
        if event.type == "agent.state":
            await self._know_agent(int(event.data["agent_id"]), event)
        changed = self.floor.apply(event)
        if changed:
            self._changed |= changed
            self._schedule_push()

    async def _know_agent(self, agent_id: int, event: Event) -> None:
        """Profiles are read when an agent is first seen and at each login (skills and
        teams may have changed while they were away)."""
        if agent_id in self.floor.agents and event.data.get("previous") != "offline":
            return
        with contextlib.suppress(AgentNotFound):
            self.floor.agent_known((await self.agents.agent(agent_id)).profile)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            specs = self._queue_specs()
            if [q.spec for q in self.floor.queues.values()] != specs:
                self.floor.configure(specs)
                self._push_all()
            if self.floor.roll(time.time()):
                self._push_all()

    def _queue_specs(self) -> list[QueueSpec]:
        router = self.routing.router
        return [router.queue(name) for name in router.queue_names]

    # ---- pushing ------------------------------------------------------------------------

    def _push_all(self) -> None:
        if self._push_timer is not None:
            self._push_timer.cancel()
            self._push_timer = None
        self._changed = set()
        self._send(self._message("snapshot", None))

    def _schedule_push(self) -> None:
        if self._push_timer is not None:
            return
        wait = self._last_push + self.window - time.monotonic()
        if wait <= 0:
            self._push()
        else:
            self._push_timer = asyncio.get_running_loop().call_later(wait, self._push)

    def _push(self) -> None:
        self._push_timer = None
        self._last_push = time.monotonic()
        changed, self._changed = self._changed, set()
        if changed and self._screens:
            self._send(self._message("update", changed))

    def _send(self, message: str) -> None:
        for screen in self._screens:
            try:
                screen.outbox.put_nowait(message)
            except asyncio.QueueFull:
                screen.behind = True

    def _message(self, kind: str, keys: set[str] | None) -> str:
        body = {"type": kind, **self.floor.snapshot(time.time(), keys)}
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False)
