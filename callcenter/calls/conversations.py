"""Conversations of callers and agents: ring the offered agent, join, part them.

Routing decides who gets a call and when to stop ringing; this is its telephony. An
agent whose desktop softphone is connected gets the offer there (softphone/lines.py):
accepting puts the caller in one bridge with the agent's persistent media leg. Otherwise
the offer rings the agent's desk phone (an ARI originate to the PJSIP endpoint named by
the agent's extension) as a leg of its own, tagged as a helper so the call controller
never takes it for a new call; when the agent picks up, the leg enters our Stasis app
and is put in one bridge with the caller. Either side hanging up ends the conversation:
the other side is hung up, the call record says who ended it, and routing starts the
agent's wrap-up. A leg that ends without being answered (rang out, busy, phone not
registered) is a missed offer, and routing rings the next agent.

Events of one conversation (its caller's channel and its agent legs) are handled in
order, in one lane keyed by the routing task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from callcenter.agents.service import AgentService
from callcenter.agents.state import AgentState
from callcenter.calls.models import Disposition
from callcenter.calls.recordings import Recorder
from callcenter.calls.service import CallService
from callcenter.calls.targets import PHONE_KINDS, Target
from callcenter.ids import unique_id
from callcenter.ivr.ari_port import Handover
from callcenter.pbx.ari import AriClient, AriError, quietly
from callcenter.pbx.channels import (
    AGENT_LEG_PREFIX,
    GUEST_LEG_PREFIX,
    OWN_CALL_PREFIX,
    event_channel_id,
    helper_args,
)
from callcenter.routing.model import Offer, Task, call_task_id
from callcenter.routing.service import RoutingService
from callcenter.softphone.lines import Softphones
from callcenter.tasks import SerialExecutor, TaskSupervisor

if TYPE_CHECKING:
    from callcenter.calls.supervision import Monitor

log = logging.getLogger(__name__)

DIAL_SECONDS = 45  # an agent's own call rings this long before it counts as unanswered
RING_GRACE_SECONDS = 5  # Asterisk's own no-answer limit, beyond routing's ring timeout
GONE_EVENTS = frozenset({"StasisEnd", "ChannelDestroyed"})
NORMAL_CLEARING = 16
# proxy_media: audio goes through Asterisk's core, never natively between the two RTP
# legs, so recording, listening in and a third party all work on the same bridge.
TALK_BRIDGE = "mixing,proxy_media"


# The call controller's requeue: (caller channel, queue, task data, handover) -> taken.
Requeue = Callable[[str, str, Mapping[str, Any], Handover], Awaitable[bool]]


@dataclass
class Leg:
    """One ring of one agent's phone for one task."""

    id: str  # the agent channel's id, chosen by us
    task: Task
    agent_id: int
    answered: bool = False
    persistent: bool = False  # a softphone's media leg: outlives the call
    offered_at: float = field(default_factory=time.monotonic)


@dataclass
class Dialing:
    """An agent's own call while it rings: the agent hears ringing in a bridge of its own."""

    agent_id: int
    call_id: int
    number: str
    channel: str  # the dialed party's channel
    line: str  # the agent's media leg
    bridge_id: str
    back: tuple[AgentState, str]
    ringback: str  # the ringing tone's playback id
    started: float = field(default_factory=time.monotonic)

    @property
    def lane(self) -> str:
        return call_task_id(self.call_id, own=True)


@dataclass
class Conversation:
    task: Task
    agent_id: int
    caller: str  # channel ids
    agent: str
    bridge_id: str
    started: float  # monotonic
    ended: bool = False
    softphone: bool = False
    recording: str = ""  # the live recording's name, when the queue records
    held_since: float | None = None  # monotonic, while the caller is on hold
    held: float = 0.0  # seconds on hold so far: talk time leaves them out
    guests: set[str] = field(default_factory=set)  # third parties in the bridge
    agent_left: bool = False  # the agent hung up a conference: the others talk on
    consulting: bool = False  # the caller on hold while the agent talks to a third party
    # An agent's own call (the dial pad): the state to go back to, instead of wrap-up.
    back: tuple[AgentState, str] | None = None

    @property
    def call_id(self) -> int:
        return int(self.task.data["call_id"])

    @property
    def own_call(self) -> bool:
        """The agent dialed it (the other side is not a caller routing could take)."""
        return self.caller.startswith(OWN_CALL_PREFIX)


class Conversations:
    """Queue calls from the ring to the hang-up, and what agents do with them: hold,
    transfers, conference and consult. own_calls.py and adoption.py add the rest."""

    def __init__(
        self,
        ari: AriClient,
        calls: CallService,
        agents: AgentService,
        routing: RoutingService,
        supervisor: TaskSupervisor,
        *,
        app: str,
        softphones: Softphones | None = None,
        recorder: Recorder | None = None,
        requeue: Requeue | None = None,
        rejoin_seconds: float = 30.0,
    ) -> None:
        self.ari = ari
        self.requeue = requeue
        self.rejoin_seconds = rejoin_seconds  # for a softphone after a restart
        self.recorder = recorder
        self.softphones = softphones
        self.calls = calls
        self.agents = agents
        self.routing = routing
        self.app = app
        self._supervisor = supervisor
        self._legs: dict[str, Leg] = {}  # agent channel id -> leg (ringing or talking)
        self._ringing: dict[str, str] = {}  # task id -> agent channel id
        self._talks: dict[str, Conversation] = {}  # caller's and agent's channel ids
        self._guests: dict[str, Conversation] = {}  # third parties' channel ids
        self._dialing: dict[str, Dialing] = {}  # own_calls.py: dialed channel id -> call
        self._monitors: dict[str, Monitor] = {}  # supervision.py: supervisor's channel id
        self._rejoin_timers: dict[int, asyncio.TimerHandle] = {}  # agent id -> after restart
        self._serial: SerialExecutor[str] = SerialExecutor(supervisor, on_error=self._failed)

    def attach(self) -> None:
        """Receive ARI events beside the call controller (which ignores agent legs)."""
        self.ari.add_handler(self.on_event)

    # ---- Ringer ---------------------------------------------------------------------

    async def ring(self, offer: Offer) -> None:
        line = self.softphones.line(offer.agent_id) if self.softphones else None
        if line is not None:
            await self._ring_softphone(offer, line.channel_id)
            return
        view = await self.agents.agent(offer.agent_id)
        if not view.extension:
            log.warning("agent %s has no phone to ring; offer of %s missed",
                        view.username, offer.task.id)  # fmt: skip
            self._report_missed(offer.task.id, offer.agent_id)
            return
        leg = Leg(f"{AGENT_LEG_PREFIX}{unique_id()}", offer.task, offer.agent_id)
        self._legs[leg.id] = leg
        self._ringing[offer.task.id] = leg.id
        try:
            await self.ari.originate(
                f"PJSIP/{view.extension}",
                app=self.app,
                app_args=helper_args("agent", offer.task.id),
                channel_id=leg.id,
                caller_id=caller_id(offer.task),
                timeout=round(offer.ring_timeout) + RING_GRACE_SECONDS,
            )
        except AriError as exc:
            log.warning("could not ring %s for %s: %s", view.extension, offer.task.id, exc)
            self._legs.pop(leg.id, None)
            self._ringing.pop(offer.task.id, None)
            self._report_missed(offer.task.id, offer.agent_id)

    async def _ring_softphone(self, offer: Offer, channel_id: str) -> None:
        assert self.softphones is not None
        leg = Leg(channel_id, offer.task, offer.agent_id, persistent=True)
        self._legs[leg.id] = leg
        self._ringing[offer.task.id] = leg.id
        message = {
            "type": "offered",
            "task_id": offer.task.id,
            "ring_timeout": offer.ring_timeout,
            "call": await self._screen_pop(offer.task),
        }
        await self.softphones.tell(offer.agent_id, message)

    async def _screen_pop(self, task: Task) -> dict[str, Any]:
        """What the agent sees while it rings: who calls, what they did in the IVR, and
        their earlier calls."""
        number = str(task.data.get("caller_number") or "")
        earlier, _ = (
            await self.calls.list_calls(caller_number=number, limit=6) if number else ([], 0)
        )
        return {
            "call_id": task.data.get("call_id"),
            "queue": task.queue,
            "caller_number": number,
            "customer_id": task.customer_id,
            "vip": task.vip,
            "waited_seconds": round(max(0.0, time.time() - task.enqueued_at), 1),
            "variables": task.data.get("variables", {}),
            "ivr_path": task.data.get("ivr_path", []),
            "customer": await self.calls.customer(task.customer_id),
            "earlier_calls": [
                {
                    "id": c.id,
                    "started_at": c.started_at.isoformat(),
                    "agent_id": c.agent_id,
                    "disposition": c.disposition,
                }
                for c in earlier
                if c.id != task.data.get("call_id")
            ][:5],
        }

    async def stop_ringing(self, task_id: str) -> None:
        leg_id = self._ringing.pop(task_id, None)
        leg = self._legs.get(leg_id or "")
        if leg is None or leg.answered:
            return
        if leg.persistent:
            self._legs.pop(leg.id, None)
            if self.softphones is not None:
                await self.softphones.tell(leg.agent_id, {"type": "withdrawn", "task_id": task_id})
            return
        await quietly(self.ari.hangup(leg.id))

    def _report_missed(self, task_id: str, agent_id: int) -> None:
        """Told to routing from a task of its own: routing is still inside its offer."""
        coro = self.routing.missed(task_id, agent_id=agent_id)
        self._supervisor.spawn(coro, name=f"agent-missed:{task_id}")

    # ---- events -----------------------------------------------------------------------

    def on_event(self, event: dict[str, Any]) -> None:
        """Agent legs' events, and the end of a caller who talks to an agent."""
        channel_id = event_channel_id(event)
        if channel_id is None:
            return
        kind = event.get("type")
        leg = self._legs.get(channel_id)
        talk = self._talks.get(channel_id)
        guest_of = self._guests.get(channel_id)
        if guest_of is not None and kind == "StasisStart":
            self._serial.submit(guest_of.task.id, self._guest_joined(guest_of, channel_id))
        elif guest_of is not None and kind in GONE_EVENTS:
            self._serial.submit(guest_of.task.id, self._guest_left(guest_of, channel_id))
        elif leg is not None and kind == "StasisStart" and not leg.persistent:
            self._serial.submit(leg.task.id, self._answered(leg), name="agent-answered")
        elif leg is not None and kind in GONE_EVENTS:
            self._serial.submit(leg.task.id, self._leg_gone(leg), name="agent-leg-gone")
        elif talk is not None and kind in GONE_EVENTS:
            self._serial.submit(talk.task.id, self._end(talk, by="caller"), name="caller-gone")

    async def _answered(self, leg: Leg) -> None:
        """The agent picked up: into one bridge with the caller, unless the offer moved on."""
        leg.answered = True
        if self._ringing.get(leg.task.id) == leg.id:
            del self._ringing[leg.task.id]
        agent_id = await self.routing.answered(leg.task.id, agent_id=leg.agent_id)
        if agent_id is None:  # rang out or the caller left as the agent answered
            self._legs.pop(leg.id, None)
            if not leg.persistent:
                await quietly(self.ari.hangup(leg.id))
            return
        caller = str(leg.task.data["channel_id"])
        talk = Conversation(
            task=leg.task,
            agent_id=agent_id,
            caller=caller,
            agent=leg.id,
            bridge_id=f"talk-{leg.id}",
            started=time.monotonic(),
            softphone=leg.persistent,
        )
        self._talks[caller] = self._talks[leg.id] = talk
        await quietly(self.ari.stop_moh(caller))
        await self.ari.create_bridge(TALK_BRIDGE, talk.bridge_id, name=f"call-{talk.call_id}")
        await self.ari.add_to_bridge(talk.bridge_id, [caller, leg.id])
        if self.recorder is not None and self.routing.router.queue(leg.task.queue).record:
            talk.recording = f"call-{talk.call_id}-{unique_id()}"
            await self.recorder.start(talk.bridge_id, talk.recording)
        ring_seconds = time.monotonic() - leg.offered_at
        await self.calls.connected(talk.call_id, agent_id, ring_seconds=ring_seconds)
        await self.calls.note(talk.call_id, "agent.connected",
                              {"agent_id": agent_id, "queue": leg.task.queue})  # fmt: skip
        if talk.softphone and self.softphones is not None:
            await self.softphones.tell(agent_id, {"type": "connected", "task_id": leg.task.id})

    async def _leg_gone(self, leg: Leg) -> None:
        self._legs.pop(leg.id, None)
        talk = self._talks.get(leg.id)
        if talk is not None:
            await self._end(talk, by="agent")
            return
        if leg.answered:
            return  # answered too late: already refused
        if self._ringing.get(leg.task.id) == leg.id:
            del self._ringing[leg.task.id]
        # Unanswered: rang out, declined on the phone, busy or not registered.
        await self.routing.missed(leg.task.id, agent_id=leg.agent_id)

    async def _end(self, talk: Conversation, *, by: str) -> None:
        """Someone hung up. The agent leaving a conference leaves the others talking (an
        attended transfer); otherwise everybody else is hung up, and the agent goes on
        to wrap-up."""
        if talk.ended:
            return
        if by == "agent" and talk.guests and not talk.agent_left:
            if talk.held_since is not None:  # hung up while consulting: the caller joins
                await self._hold(talk, False)
            await self._agent_leaves(talk, by)
            await self.calls.transferred(talk.call_id)
            return
        talk.ended = True
        if not talk.agent_left:
            await self._agent_leaves(talk, by)
        # The controller closes an inbound caller's record; the rest is closed here.
        if by != "caller" or talk.back is not None:
            await self.calls.end(talk.call_id, cause=NORMAL_CLEARING,
                                 cause_text="Normal Clearing", ended_by=by)  # fmt: skip
        await self._close(talk)

    async def _close(self, talk: Conversation, *, keep_caller: bool = False) -> None:
        """The conversation is over: whoever is left is hung up (the caller too, unless
        they go on elsewhere), the recording filed, the bridge gone."""
        self._talks.pop(talk.caller, None)
        for channel_id in [*([] if keep_caller else [talk.caller]), *talk.guests]:
            self._guests.pop(channel_id, None)
            await quietly(self.ari.hangup(channel_id))
        await self._file_recording(talk)
        if keep_caller:
            await quietly(self.ari.remove_from_bridge(talk.bridge_id, talk.caller))
        await quietly(self.ari.destroy_bridge(talk.bridge_id))

    async def _file_recording(self, talk: Conversation) -> None:
        if talk.recording and self.recorder is not None:
            earlier = (await self.calls.call(talk.call_id)).recording  # before a transfer
            now = self.calls.clock.now()
            stored = await self.recorder.finish(talk.recording, now, after=earlier)
            if stored is not None:
                await self.calls.recorded(talk.call_id, path=stored[0], seconds=stored[1])

    async def _agent_leaves(self, talk: Conversation, by: str) -> None:
        """The agent's part of the call is over: talk time, phone, wrap-up."""
        talk.agent_left = True
        self._talks.pop(talk.agent, None)
        self._legs.pop(talk.agent, None)
        await self._unheld(talk)  # hung up while on hold
        seconds = time.monotonic() - talk.started - talk.held
        await self.calls.talk_ended(talk.call_id, seconds=seconds, by=by)
        if talk.softphone:  # the media leg stays up, out of this call
            await quietly(self.ari.remove_from_bridge(talk.bridge_id, talk.agent))
            if self.softphones is not None:
                message = {"type": "ended", "task_id": talk.task.id, "by": by}
                await self.softphones.tell(talk.agent_id, message)
        elif by != "agent":
            await quietly(self.ari.hangup(talk.agent))
        if talk.back is not None:
            await self.routing.dialed_out(talk.agent_id, talk.back)
        else:
            await self.routing.finished(talk.task.id, seconds + talk.held)

    # ---- blind transfer: the caller goes on elsewhere, the agent is free -------------

    async def transfer(self, agent_id: int, target: Target) -> None:
        """Send the caller to a phone (the dialplan rings it), or back into routing: to a
        queue, or to a named colleague who is free (if they do not answer, their queue
        takes the call). The agent leaves at once and goes to wrap-up."""
        talk = self._talk_of(agent_id)
        if talk is None:
            return
        if target.kind in PHONE_KINDS:
            job = self._blind_transfer(talk, target)
        else:
            job = self._routed_transfer(talk, target)
        self._serial.submit(talk.task.id, job, name="transfer")

    async def _blind_transfer(self, talk: Conversation, target: Target) -> None:
        if talk.ended:
            return
        await self._transferred(talk, target, end_record=True)
        # The dialplan rings the target and apologises if nobody answers (as IVR transfers).
        context = "callcenter-transfer" if target.kind == "extension" else (
            "callcenter-transfer-external")  # fmt: skip
        await quietly(self.ari.continue_in_dialplan(talk.caller, context, target.value, 1))

    async def _routed_transfer(self, talk: Conversation, target: Target) -> None:
        if talk.ended or self.requeue is None:
            return
        refusal = self._refusal(talk, target)
        if refusal:
            await self._tell_party(talk, {"type": "error", "message": refusal})
            return
        colleague = int(target.value) if target.kind == "agent" else None
        queue = target.value if target.kind == "queue" else talk.task.queue
        await self._transferred(talk, target, end_record=False)
        path = tuple(talk.task.data.get("ivr_path", ()))
        handover = Handover(from_agent=talk.agent_id, to_agent=colleague, ivr_path=path)
        if not await self.requeue(talk.caller, queue, talk.task.data, handover):
            await quietly(self.ari.hangup(talk.caller))  # left meanwhile, or nowhere to go

    def _refusal(self, talk: Conversation, target: Target) -> str:
        """Why routing cannot take the caller there now ('' when it can)."""
        router = self.routing.router
        if talk.own_call:
            return "transfer: only a caller who came in through a queue goes back to routing"
        if target.kind == "queue" and target.value not in router.queue_names:
            return f"transfer: no queue named {target.value!r}"
        if target.kind == "agent":
            colleague = int(target.value)
            if colleague == talk.agent_id:
                return "transfer: that is you"
            if not router.free(colleague):
                return "transfer: that agent is not free now"
        return ""

    async def _transferred(self, talk: Conversation, target: Target, *, end_record: bool) -> None:
        """The agent's part ends; the caller stays up for where they go next."""
        talk.ended = True
        await self.calls.note(talk.call_id, f"transfer.{target.kind}", {"to": target.value})
        await self._agent_leaves(talk, "transfer")
        await self.calls.transferred(talk.call_id)
        if end_record:  # it leaves our hands: the record closes here
            await self.calls.end(
                talk.call_id, cause=NORMAL_CLEARING, cause_text="Transferred",
                ended_by="transfer", disposition=Disposition.TRANSFERRED,
            )  # fmt: skip
        await self._close(talk, keep_caller=True)

    # ---- conference: a third party joins the call ------------------------------------

    async def add_party(self, agent_id: int, target: Target) -> None:
        """Call a colleague's extension or an outside number into the conversation."""
        talk = self._talk_of(agent_id)
        if talk is None:
            return
        endpoint = target.endpoint
        leg_id = f"{GUEST_LEG_PREFIX}{unique_id()}"
        self._guests[leg_id] = talk
        await self.calls.note(talk.call_id, "conference.dialing", {target.kind: target.value})
        try:
            await self.ari.originate(
                endpoint,
                app=self.app,
                app_args=helper_args("guest", talk.task.id),
                channel_id=leg_id,
                caller_id=caller_id(talk.task),
                timeout=30,
            )
        except AriError as exc:
            self._guests.pop(leg_id, None)
            log.warning("could not call %s into %s: %s", endpoint, talk.task.id, exc)
            await self._tell_party(talk, {"type": "party", "joined": False, "error": str(exc)})

    async def _guest_joined(self, talk: Conversation, channel_id: str) -> None:
        if talk.ended:
            await quietly(self.ari.hangup(channel_id))
            return
        talk.guests.add(channel_id)
        await self.ari.add_to_bridge(talk.bridge_id, channel_id)
        await self.calls.note(talk.call_id, "conference.joined", {"parties": 2 + len(talk.guests)})
        await self._tell_party(talk, {"type": "party", "joined": True})

    async def _guest_left(self, talk: Conversation, channel_id: str) -> None:
        self._guests.pop(channel_id, None)
        joined = channel_id in talk.guests
        talk.guests.discard(channel_id)
        if talk.ended:
            return
        await self.calls.note(talk.call_id, "conference.left" if joined else "conference.failed")
        await self._tell_party(talk, {"type": "party", "joined": False})
        if talk.agent_left and not talk.guests:  # the last one talking with the caller
            await self._end(talk, by="transfer_target")
        elif talk.consulting and not talk.guests:  # no answer, or they hung up: back
            talk.consulting = False
            if talk.held_since is not None:
                await self._hold(talk, False)

    # ---- consult: talk to a third party privately, then hand the caller over ----------

    async def consult(self, agent_id: int, target: Target) -> None:
        """The caller goes on hold and the third party is called into the agent's bridge:
        a private talk. Then `finish_consult`: hand over (an attended transfer), or back."""
        talk = self._talk_of(agent_id)
        if talk is None or talk.consulting or talk.guests:
            return
        talk.consulting = True
        if talk.held_since is None:
            self._serial.submit(talk.task.id, self._hold(talk, True), name="consult-hold")
        await self.calls.note(talk.call_id, "consult", {target.kind: target.value})
        await self.add_party(agent_id, target)

    async def finish_consult(self, agent_id: int, *, transfer: bool) -> None:
        """`transfer`: the caller joins the third party and the agent leaves; else the
        third party is hung up and the caller is back with the agent."""
        talk = self._talk_of(agent_id)
        if talk is None or not talk.consulting:
            return
        job = self._hand_over(talk) if transfer else self._drop_guests(talk)
        self._serial.submit(talk.task.id, job, name="consult-finish")

    async def _hand_over(self, talk: Conversation) -> None:
        if talk.ended or not talk.guests:
            return
        talk.consulting = False
        await self._end(talk, by="agent")  # unholds the caller, then leaves the two talking

    async def _drop_guests(self, talk: Conversation) -> None:
        for channel_id in [c for c, t in self._guests.items() if t is talk]:
            await quietly(self.ari.hangup(channel_id))  # _guest_left brings the caller back

    async def _tell_party(self, talk: Conversation, message: dict[str, Any]) -> None:
        if talk.softphone and not talk.agent_left and self.softphones is not None:
            await self.softphones.tell(talk.agent_id, message)

    async def _tell(self, agent_id: int, message: dict[str, Any]) -> None:
        if self.softphones is not None:
            await self.softphones.tell(agent_id, message)

    # ---- the softphone's buttons (softphone.lines.Answering) ---------------------------

    async def accept(self, agent_id: int, task_id: str) -> None:
        leg = self._legs.get(self._ringing.get(task_id, ""))
        if leg is not None and leg.agent_id == agent_id and not leg.answered:
            self._serial.submit(task_id, self._answered(leg), name="softphone-accept")

    async def decline(self, agent_id: int, task_id: str) -> None:
        await self.routing.missed(task_id, declined=True, agent_id=agent_id)

    async def hang_up(self, agent_id: int) -> None:
        talk = self._talk_of(agent_id)
        if talk is not None:
            self._serial.submit(talk.task.id, self._end(talk, by="agent"), name="hangup")

    async def pause_recording(self, agent_id: int, paused: bool) -> None:
        """The agent keeps a card number out of the recording (silence in its place)."""
        talk = self._talk_of(agent_id)
        if talk is None or not talk.recording or self.recorder is None:
            return
        await self.recorder.pause(talk.recording, paused)
        await self.calls.note(talk.call_id, "recording.paused" if paused else "recording.resumed")

    async def hold(self, agent_id: int, on: bool) -> None:
        """The caller out of the bridge with music, or back; the time held is recorded."""
        talk = self._talk_of(agent_id)
        if talk is None or (talk.held_since is not None) == on:
            return
        self._serial.submit(talk.task.id, self._hold(talk, on), name="hold")

    async def _hold(self, talk: Conversation, on: bool) -> None:
        if talk.ended:
            return
        if on:
            talk.held_since = time.monotonic()
            await self.ari.remove_from_bridge(talk.bridge_id, talk.caller)
            await self.ari.start_moh(talk.caller)
        else:
            await quietly(self.ari.stop_moh(talk.caller))
            await self.ari.add_to_bridge(talk.bridge_id, talk.caller)
            await self._unheld(talk)
        await self.calls.note(talk.call_id, "hold" if on else "unhold")
        if talk.softphone and self.softphones is not None:
            await self.softphones.tell(talk.agent_id, {"type": "held", "on": on})

    async def _unheld(self, talk: Conversation) -> None:
        if talk.held_since is not None:
            seconds, talk.held_since = time.monotonic() - talk.held_since, None
            talk.held += seconds
            await self.calls.held(talk.call_id, seconds=seconds)

    def _dialing_of(self, agent_id: int) -> Dialing | None:
        """The agent's own call while it still rings (own_calls.py)."""
        return next((d for d in self._dialing.values() if d.agent_id == agent_id), None)

    def _talk_of(self, agent_id: int) -> Conversation | None:
        talks = self._talks.values()
        return next((t for t in talks if t.agent_id == agent_id and not t.agent_left), None)

    async def line_lost(self, agent_id: int, channel_id: str) -> None:
        """The desktop closed: a call it rang moves on, a call it talked on ends."""
        leg = self._legs.get(channel_id)
        talk = self._talk_of(agent_id)
        if leg is not None:
            self._serial.submit(leg.task.id, self._leg_gone(leg), name="softphone-lost")
        elif talk is not None:  # on a call of their own
            self._serial.submit(talk.task.id, self._end(talk, by="agent"), name="softphone-lost")

    async def _failed(self, task_id: str, exc: BaseException) -> None:
        """Joining failed (the caller left mid-way, Asterisk refused): end it cleanly."""
        log.warning("agent leg of %s failed: %r", task_id, exc)
        talk = next((t for t in self._talks.values() if t.task.id == task_id), None)
        if talk is not None:
            await self._end(talk, by="system")


def bridge_age(bridge: Mapping[str, Any]) -> float:
    """Seconds since Asterisk made the bridge (0 if it does not say)."""
    try:
        made = datetime.strptime(str(bridge.get("creationtime")), "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return 0.0
    return max(0.0, (datetime.now(UTC) - made).total_seconds())


def caller_id(task: Task) -> str:
    """What the agent's phone shows: the caller's number."""
    number = str(task.data.get("caller_number") or "")
    return f'"{number}" <{number}>' if number else ""
