"""Routing at work: tasks in, offers out, agents' states kept in step with both.

The router decides; this service carries its decisions out over time. It rings the
offered agent through a `Ringer` (the agent's desk phone or softphone: telephony's
part), times the ring and the wrap-up, moves the agent's state (offered, on call,
wrap-up, a "missed" break), overflows tasks that waited too long, and tells whoever
submitted a task (the IVR's queue node) how it ended: connected to an agent, or
overflowed (to voicemail or a callback; overflowing into another queue is no end, the
task waits on there). Agents becoming available, taking a break or logging out reach the router
through the agent service's listener.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from callcenter.agents.service import AgentService
from callcenter.agents.state import AgentState
from callcenter.clock import Clock
from callcenter.events import Event, EventBus
from callcenter.metrics import VisitOutcome
from callcenter.routing.config import Routing
from callcenter.routing.model import Offer, Overflowed, OverflowKind, Queued, Task
from callcenter.routing.router import Decision, Router, UnknownTask
from callcenter.routing.rules import route
from callcenter.tasks import TaskSupervisor

log = logging.getLogger(__name__)
EXPIRY_SECONDS = 1.0  # how often waiting tasks are checked against their max wait
MISSED = "missed"  # the break reason of an agent who let an offer ring out


class Ringer(Protocol):
    """Telephony's side: make the agent's device ring with the task, or stop it."""

    async def ring(self, offer: Offer) -> None: ...

    async def stop_ringing(self, task_id: str) -> None: ...


class ChannelOffers(Protocol):
    """A channel other than voice (chat): its offers appear on the agent's desktop
    instead of ringing a phone, and taking one leaves the agent's state as it is (an
    agent holds several chats while available; only a call makes them "on call")."""

    async def offered(self, offer: Offer) -> None: ...

    async def withdrawn(self, offer: Offer) -> None: ...


@dataclass(frozen=True)
class Connected:
    task: Task
    agent_id: int


Outcome = Connected | Overflowed
# Told of every queue visit as it ends: the task, when it entered (epoch seconds), and
# the `queue.left` event's data. Reports store visits through it, exactly once each.
VisitHook = Callable[[Task, float, dict[str, Any]], Awaitable[None]]


class RoutingService:
    def __init__(
        self,
        routing: Routing,
        agents: AgentService,
        clock: Clock,
        supervisor: TaskSupervisor,
        *,
        ringer: Ringer | None = None,
        bus: EventBus | None = None,
        on_visit: VisitHook | None = None,
    ) -> None:
        self.router = Router(routing.queues)
        self.rules = routing.rules
        self.wrap_up_codes = routing.wrap_up_codes
        self.agents = agents
        self.clock = clock
        self.ringer = ringer
        self.bus = bus
        self.on_visit = on_visit
        self.channels: dict[str, ChannelOffers] = {}  # e.g. "chat": the chat service
        self._visits: dict[str, tuple[Task, float]] = {}  # waiting in a queue since
        self._supervisor = supervisor
        self._outcomes: dict[str, asyncio.Future[Outcome]] = {}
        self._ringing: dict[str, asyncio.TimerHandle] = {}
        self._wrap_ups: dict[int, asyncio.TimerHandle] = {}
        self._expiry: asyncio.Task[None] | None = None
        agents.add_listener(self._on_presence)

    async def configure(self, routing: Routing) -> None:
        """Apply edited queues, rules and wrap-up codes to the running router."""
        decisions = self.router.configure(routing.queues, self._now())
        self.rules = routing.rules
        self.wrap_up_codes = routing.wrap_up_codes
        await self._carry_out(decisions)

    def start(self) -> None:
        self._expiry = self._supervisor.spawn(self._expire_forever(), name="routing-expiry")

    def _now(self) -> float:
        return self.clock.now().timestamp()

    # ---- tasks -------------------------------------------------------------------

    async def submit(self, task: Task, attributes: Mapping[str, str]) -> asyncio.Future[Outcome]:
        """Route a task (rules first); the future ends connected or overflowed."""
        decided = route(self.rules, task.queue, attributes)
        skills = {**task.skills, **decided.skills}
        task = replace(task, queue=decided.queue, skills=skills,
                       priority=task.priority + decided.priority)  # fmt: skip
        outcome: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._outcomes[task.id] = outcome
        await self._joined(task)
        await self._carry_out([self.router.enqueue(task, self._now())])
        return outcome

    async def cancel(self, task_id: str, *, abandoned: bool = True) -> None:
        """The customer left while waiting or ringing (`abandoned`), or whoever submitted
        the task took it back (an IVR flow's own time limit: an overflow for reports)."""
        offer = self.router.offer_of(task_id)
        self._stop_timer(task_id)
        if task_id in self._visits:
            outcome = VisitOutcome.ABANDONED if abandoned else VisitOutcome.OVERFLOWED
            position = self.router.position(task_id) if self.router.has_task(task_id) else None
            await self._left(task_id, outcome, position=position)
        decisions = self.router.cancel(task_id, self._now())
        self._outcomes.pop(task_id, None)
        if offer is not None and not await self._withdrawn(offer):
            await self._stop_ringing(task_id)
            await self._set(offer.agent_id, AgentState.AVAILABLE)
        await self._carry_out(decisions)

    async def answered(self, task_id: str, agent_id: int | None = None) -> int | None:
        """The offered agent picked up; returns who, or None if the offer is gone.

        With `agent_id` (telephony reporting which phone answered), an answer from a phone
        whose offer already moved on (rang out at that very moment) is refused: None.
        """
        offer = self.router.offer_of(task_id)
        if offer is None or (agent_id is not None and offer.agent_id != agent_id):
            return None
        self._stop_timer(task_id)
        accepted = self.router.accept(task_id, self._now())
        await self._left(task_id, VisitOutcome.ANSWERED, agent_id=accepted)
        if offer.task.channel == "voice":
            await self._set(accepted, AgentState.ON_CALL)
        outcome = self._outcomes.pop(task_id, None)
        if outcome is not None and not outcome.done():
            outcome.set_result(Connected(offer.task, accepted))
        return accepted

    async def missed(
        self, task_id: str, *, declined: bool = False, agent_id: int | None = None
    ) -> None:
        """The offer rang out (or the agent declined it): on to the next agent.

        With `agent_id` (telephony reporting that this agent's phone stopped ringing),
        a report that arrives after the task already rings someone else is ignored.
        """
        offer = self.router.offer_of(task_id)
        if offer is None or (agent_id is not None and offer.agent_id != agent_id):
            return
        # Decided before anything is awaited: a second report of the same miss (the ring
        # timer and the phone's hang-up) must find the offer gone, not withdraw the next.
        self._stop_timer(task_id)
        decisions = self.router.reject(task_id, self._now(), missed=not declined)
        other_channel = await self._withdrawn(offer)
        if not other_channel:
            await self._stop_ringing(task_id)
        spec = self.router.queue(offer.queue)
        if not declined and spec.missed_offer_break:
            await self._set(offer.agent_id, AgentState.BREAK, MISSED)
        elif not other_channel:
            await self._set(offer.agent_id, AgentState.AVAILABLE)
        await self._carry_out(decisions)

    async def finished(self, task_id: str, handle_seconds: float) -> None:
        """The conversation is over: wrap-up, then available again.

        The agent's state moves first, so the router offers new work only to an agent
        who is already out of the call (at once without wrap-up, after it with).
        """
        try:
            agent_id = self.router.agent_of(task_id)
            task = self.router.task(task_id)
            queue = self.router.queue(task.queue)
        except UnknownTask:
            return
        if task.channel in self.channels:  # a chat: the agent's state never moved for it
            await self._carry_out(self.router.finish(task_id, self._now(), handle_seconds))
            return
        following = AgentState.WRAP_UP if queue.wrap_up > 0 else AgentState.AVAILABLE
        await self._set(agent_id, following)
        await self._carry_out(self.router.finish(task_id, self._now(), handle_seconds))
        if following == AgentState.WRAP_UP:
            loop = asyncio.get_running_loop()
            self._wrap_ups[agent_id] = loop.call_later(queue.wrap_up, self._wrap_up_over, agent_id)

    # ---- agents' own calls -----------------------------------------------------------

    async def dialing_out(self, agent_id: int) -> tuple[AgentState, str] | None:
        """An agent places a call of their own: no offers until it ends.

        Returns the state (and reason) to go back to afterwards, or None when the agent
        cannot dial now (offline, or a call rings or talks on them). Decided before
        anything is awaited, so no offer slips in between.
        """
        presence = self.agents.presence(agent_id)
        if presence.state in (AgentState.OFFLINE, AgentState.OFFERED, AgentState.ON_CALL):
            return None
        back = (presence.state, presence.reason)
        if presence.state == AgentState.WRAP_UP:  # its timer goes: ready after the call
            back = (AgentState.AVAILABLE, "")
        self._cancel_wrap_up(agent_id)
        await self.adopted(agent_id)
        return back

    async def adopted(self, agent_id: int) -> None:
        """The agent talks on a call routing did not give them (their own, or one found
        going on after a restart): on a call, so no offers until it ends."""
        if self.router.knows(agent_id):
            self.router.set_not_ready(agent_id)
        await self._set(agent_id, AgentState.ON_CALL)

    async def dialed_out(self, agent_id: int, back: tuple[AgentState, str]) -> None:
        """The agent's own call ended: back to where they were (available: offers again)."""
        await self._set(agent_id, *back)

    def position(self, task_id: str) -> int:
        return self.router.position(task_id)

    def estimated_wait(self, task_id: str) -> float:
        return self.router.estimated_wait(task_id)

    # ---- queue visits: what the wallboard and the reports count ---------------------

    async def _joined(self, task: Task) -> None:
        self._visits[task.id] = (task, self._now())
        await self._publish("queue.joined", task, {})

    async def _left(
        self,
        task_id: str,
        outcome: VisitOutcome,
        *,
        agent_id: int | None = None,
        position: int | None = None,
        to: str | None = None,
    ) -> None:
        visit = self._visits.pop(task_id, None)
        if visit is None:
            return
        task, since = visit
        data = {"outcome": str(outcome), "waited": round(self._now() - since, 3),
                "agent_id": agent_id, "position": position, "to": to}  # fmt: skip
        await self._publish("queue.left", task, data)
        if self.on_visit is not None:
            await self.on_visit(task, since, data)

    async def _publish(self, type_: str, task: Task, data: dict[str, Any]) -> None:
        if self.bus is not None:
            data = {"queue": task.queue, "task_id": task.id, "channel": task.channel,
                    "call_id": task.data.get("call_id")} | data  # fmt: skip
            await self.bus.publish(Event(type=type_, data=data))

    # ---- carrying decisions out ---------------------------------------------------

    async def _carry_out(self, decisions: list[Decision]) -> None:
        for decision in decisions:
            if isinstance(decision, Offer):
                await self._offer(decision)
            elif isinstance(decision, Overflowed) and decision.overflow.kind == OverflowKind.QUEUE:
                # Another team takes it: the customer waits on, in the next queue.
                moved = replace(decision.task, queue=decision.overflow.target)
                log.info("task %s overflows from %s to %s", moved.id, decision.queue, moved.queue)
                await self._left(moved.id, VisitOutcome.OVERFLOWED, to=f"queue:{moved.queue}")
                await self._joined(moved)
                await self._carry_out([self.router.enqueue(moved, self._now())])
            elif isinstance(decision, Overflowed):
                await self._left(decision.task.id, VisitOutcome.OVERFLOWED,
                                 to=str(decision.overflow.kind))  # fmt: skip
                outcome = self._outcomes.pop(decision.task.id, None)
                if outcome is not None and not outcome.done():
                    outcome.set_result(decision)
            elif isinstance(decision, Queued):
                log.debug("task %s waits at %d", decision.task.id, decision.position)

    async def _offer(self, offer: Offer) -> None:
        self._stop_timer(offer.task.id)
        channel = self.channels.get(offer.task.channel)
        if channel is None:
            await self._set(offer.agent_id, AgentState.OFFERED)
        loop = asyncio.get_running_loop()
        self._ringing[offer.task.id] = loop.call_later(
            offer.ring_timeout, self._spawn_missed, offer.task.id
        )
        if channel is not None:
            await channel.offered(offer)
        elif self.ringer is not None:
            await self.ringer.ring(offer)

    async def _withdrawn(self, offer: Offer) -> bool:
        """Tell the offer's channel it is gone; False for voice (telephony's to stop)."""
        channel = self.channels.get(offer.task.channel)
        if channel is None:
            return False
        await channel.withdrawn(offer)
        return True

    def _spawn_missed(self, task_id: str) -> None:
        self._ringing.pop(task_id, None)
        self._supervisor.spawn(self.missed(task_id), name=f"routing-missed:{task_id}")

    def _cancel_wrap_up(self, agent_id: int) -> None:
        timer = self._wrap_ups.pop(agent_id, None)
        if timer is not None:
            timer.cancel()

    def _wrap_up_over(self, agent_id: int) -> None:
        self._wrap_ups.pop(agent_id, None)
        if self.agents.presence(agent_id).state == AgentState.WRAP_UP:
            coro = self._set(agent_id, AgentState.AVAILABLE)
            self._supervisor.spawn(coro, name=f"routing-wrap-up:{agent_id}")

    def _stop_timer(self, task_id: str) -> None:
        timer = self._ringing.pop(task_id, None)
        if timer is not None:
            timer.cancel()

    async def _stop_ringing(self, task_id: str) -> None:
        if self.ringer is not None:
            await self.ringer.stop_ringing(task_id)

    async def _set(self, agent_id: int, state: AgentState, reason: str = "") -> None:
        if self.agents.presence(agent_id).state != state or reason:
            await self.agents.change(agent_id, state, reason)

    async def _expire_forever(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_SECONDS)
            await self._carry_out(list(self.router.expire(self._now())))

    # ---- agents ------------------------------------------------------------------

    async def _on_presence(self, agent_id: int, state: AgentState) -> None:
        """Keep the router in step with the floor (called after every state change)."""
        if state == AgentState.OFFLINE:
            for offer in self.router.offers_to(agent_id):  # their phone stops ringing
                self._stop_timer(offer.task.id)
                await self._stop_ringing(offer.task.id)
            await self._carry_out(self.router.logout(agent_id))
            return
        if not self.router.knows(agent_id):
            self.router.login((await self.agents.agent(agent_id)).profile, self._now())
        if state == AgentState.AVAILABLE:
            self._cancel_wrap_up(agent_id)
            await self._carry_out(self.router.set_ready(agent_id, self._now()))
        elif state in (AgentState.BREAK, AgentState.WRAP_UP):
            self.router.set_not_ready(agent_id)
