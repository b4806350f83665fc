"""ARI event handlers for calls: the translation from Asterisk's Stasis app to the domain.

Events for one channel are handled strictly in order (a per-channel serial executor), and
different channels concurrently. Whatever goes wrong in a handler, the caller is never
left in silence: the channel continues in the `callcenter-failsafe` dialplan context
(an apology, then a clean hang-up), or is hung up if even that fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from callcenter.calls.models import Call, Disposition
from callcenter.calls.service import CallService, NewCall
from callcenter.clock import Clock
from callcenter.ivr.ari_port import AriCallPort, Handover, MediaResolver
from callcenter.ivr.engine import CallInfo, Engine
from callcenter.ivr.model import Flow
from callcenter.ivr.registry import FlowRegistry
from callcenter.ivr.speech import RecordingRecognizer
from callcenter.pbx.ari import AriClient, AriNotFound, quietly
from callcenter.pbx.channels import (
    AGENT_LEG_PREFIX,
    Channel,
    event_channel_id,
    hangup_cause_text,
    is_helper_channel,
    is_helper_name,
    is_talk_bridge,
)
from callcenter.routing.service import RoutingService
from callcenter.tasks import SerialExecutor, TaskSupervisor

log = logging.getLogger(__name__)

AdoptConversation = Callable[[Call, dict[str, Any]], Coroutine[Any, Any, None]]
FAILSAFE_CONTEXT = "callcenter-failsafe"
LIFECYCLE_EVENTS = frozenset({"ChannelHangupRequest", "StasisEnd", "ChannelDestroyed"})
TRANSFER_MAX_WAIT = 3600.0


@dataclass
class LiveCall:
    """What the controller keeps in memory about a call in progress on its channel."""

    call_id: int
    channel_id: str
    hangup_cause: int | None = None
    hangup_cause_text: str | None = None
    ended_by: str = "caller"
    failed: bool = False
    port: AriCallPort | None = None  # set while an IVR flow runs the call


class CallController:
    """Runs every inbound call: record it, answer it, greet it, hold it until it ends."""

    def __init__(
        self,
        ari: AriClient,
        calls: CallService,
        supervisor: TaskSupervisor,
        *,
        app: str,
        greeting: list[str],
        flows: FlowRegistry | None = None,
        media: MediaResolver | None = None,
        clock: Clock | None = None,
        speech: RecordingRecognizer | None = None,
        routing: RoutingService | None = None,
    ) -> None:
        self.ari = ari
        self.routing = routing
        self.calls = calls
        self.app = app
        self.greeting = greeting
        self.flows = flows
        self.media = media
        self.speech = speech
        self.clock = clock or Clock()
        self._supervisor = supervisor
        self.live: dict[str, LiveCall] = {}
        # adoption.py's: take back a conversation found going on after a restart.
        self.adopt_conversation: AdoptConversation | None = None
        self._serial: SerialExecutor[str] = SerialExecutor(supervisor, on_error=self._failsafe)
        self._handlers: dict[str, Callable[[dict[str, Any]], Coroutine[Any, Any, None]]] = {
            "StasisStart": self._on_stasis_start,
            "ChannelDtmfReceived": self._on_dtmf,
            "PlaybackFinished": self._on_playback_finished,
            "ChannelHangupRequest": self._on_hangup_request,
            "StasisEnd": self._on_stasis_end,
            "ChannelDestroyed": self._on_destroyed,
        }

    def attach(self) -> None:
        """Subscribe to the ARI client: events, and a resync after every (re)connect."""
        self.ari.add_handler(self.on_event)
        self.ari.add_on_connected(self.resync)

    def on_event(self, event: dict[str, Any]) -> None:
        """Route an ARI event: to the call's flow, and to its handler in the channel's lane.

        Synchronous on purpose: it runs inline as the event is read, so routing keeps the
        order of arrival and costs no task of its own.
        """
        key = event_channel_id(event)
        if key is None or key.startswith(AGENT_LEG_PREFIX):
            return  # an agent's phone ringing or talking: agent_legs.py handles it
        handler = self._handlers.get(event.get("type", ""))
        live = self.live.get(key)
        if live is not None and live.port is not None:
            # A flow runs this call: it waits on the channel's events, in arrival order,
            # and its steps record the digits; only the call's end is ours to handle.
            live.port.feed(event)
            if event.get("type") not in LIFECYCLE_EVENTS:
                return
        elif handler is None and event.get("type") != "StasisStart":
            return
        if handler is not None:
            self._serial.submit(key, handler(event), name=event["type"])

    # ---- handlers, one channel at a time -------------------------------------------

    async def _on_stasis_start(self, event: dict[str, Any]) -> None:
        if is_helper_channel(event):
            return  # snoop / externalMedia legs belong to whoever created them
        channel = Channel.from_ari(event["channel"])
        if channel.id in self.live:
            return
        args = list(event.get("args") or [])
        await self._begin(channel, args)

    async def _begin(self, channel: Channel, args: list[str]) -> None:
        direction = args[0] if args else "inbound"
        dialed = args[1] if len(args) > 1 else channel.dialed_exten
        new = NewCall(
            channel_id=channel.id,
            caller_number=channel.caller_number,
            caller_name=channel.caller_name,
            dialed_number=dialed,
            direction=direction,
        )
        # Answer while the record is written: the caller should not wait on our database.
        answered, call = await asyncio.gather(
            self.ari.answer(channel.id), self.calls.start(new), return_exceptions=True
        )
        if isinstance(call, BaseException):
            raise call
        live = LiveCall(call_id=call.id or 0, channel_id=channel.id)
        self.live[channel.id] = live
        if isinstance(answered, AriNotFound):
            return  # the caller hung up while ringing; StasisEnd closes the record
        if isinstance(answered, BaseException):
            raise answered
        await self.calls.answered(live.call_id)
        await self._run(live, call)

    async def _run(self, live: LiveCall, call: Call) -> None:
        """The flow for the dialed number if there is one, else the default greeting."""
        flow = self.flows.for_number(call.dialed_number) if self.flows else None
        if flow is None or self.media is None:
            await self._greet(live)
            return
        self._start_flow(live, call, flow)

    def _start_flow(
        self, live: LiveCall, call: Call, flow: Flow, handover: Handover | None = None
    ) -> None:
        assert self.media is not None
        live.port = AriCallPort(
            self.ari,
            live.channel_id,
            self.media,
            self.speech,
            call_id=live.call_id,
            routing=self.routing,
            on_queue_left=partial(self._queue_left, live.call_id),
            last_agent=self.calls.last_agent,
        )
        live.port.handover = handover
        self._supervisor.spawn(self._run_flow(live, call, flow), name=f"ivr:{live.channel_id}")

    async def requeue(
        self, channel_id: str, queue: str, task_data: Mapping[str, Any], handover: Handover
    ) -> bool:
        """An agent transferred the call to a queue or a colleague: the caller waits again
        as from the IVR (music, announcements, the queue's overflow), in the flow's
        language, and the next agent's screen-pop keeps what the IVR collected."""
        live = self.live.get(channel_id)
        if live is None or live.port is not None or self.media is None:
            return False
        flow = transfer_flow(
            queue, str(task_data.get("language") or "en"), task_data.get("variables") or {}
        )
        self._start_flow(live, await self.calls.call(live.call_id), flow, handover)
        return True

    async def _run_flow(self, live: LiveCall, call: Call, flow: Flow) -> None:
        """Runs beside the channel's event lane (which feeds it), until the flow ends."""
        assert live.port is not None
        port = live.port
        info = CallInfo(
            caller_number=call.caller_number,
            dialed_number=call.dialed_number,
            customer_class=await self.calls.customer_class(call.customer_id),
            customer_id=call.customer_id,
            now=self.clock.now,
        )

        async def on_step(kind: str, data: dict[str, Any]) -> None:
            await self.calls.note(live.call_id, kind, data)

        try:
            outcome = await Engine(flow, port, info, on_step=on_step, flows=self.flows).run()
        except Exception as exc:
            await self._failsafe(live.channel_id, exc)
            return
        if outcome.reason == "connected":
            live.port = None  # talking to an agent: the call's events are ours again
        elif outcome.reason not in ("caller", "transferred", "hangup") and not port.ended:
            await port.hangup()  # the flow ran out of nodes: end the call cleanly

    async def _queue_left(
        self, call_id: int, queue: str, seconds: float, abandoned: bool, position: int | None
    ) -> None:
        await self.calls.queue_left(
            call_id, queue=queue, seconds=seconds, abandoned=abandoned, position=position
        )

    async def _greet(self, live: LiveCall) -> None:
        """The default flow until the IVR takes over: a greeting, then music on hold."""
        await self.ari.play(live.channel_id, self.greeting, playback_id=_greet_id(live))
        await self.calls.note(live.call_id, "playback", {"media": self.greeting})

    async def _hold(self, live: LiveCall) -> None:
        await self.ari.start_moh(live.channel_id)
        await self.calls.note(live.call_id, "hold", {})

    async def _on_dtmf(self, event: dict[str, Any]) -> None:
        live = self.live.get(event["channel"]["id"])
        if live is not None:
            data = {"digit": event.get("digit"), "duration_ms": event.get("duration_ms")}
            await self.calls.note(live.call_id, "dtmf", data)

    async def _on_playback_finished(self, event: dict[str, Any]) -> None:
        playback = event.get("playback", {})
        channel_id = _target_channel(playback)
        live = self.live.get(channel_id or "")
        if live is not None and playback.get("id") == _greet_id(live):
            await self._hold(live)

    async def _on_hangup_request(self, event: dict[str, Any]) -> None:
        live = self.live.get(event["channel"]["id"])
        if live is not None and event.get("cause") is not None:
            live.hangup_cause = int(event["cause"])
            live.hangup_cause_text = hangup_cause_text(live.hangup_cause)

    async def _on_stasis_end(self, event: dict[str, Any]) -> None:
        channel_id = event["channel"]["id"]
        live = self.live.pop(channel_id, None)
        if live is not None:
            await self._finish(live)

    async def _on_destroyed(self, event: dict[str, Any]) -> None:
        channel_id = event["channel"]["id"]
        cause = event.get("cause")
        live = self.live.pop(channel_id, None)
        if live is not None:
            live.hangup_cause = int(cause) if cause is not None else live.hangup_cause
            live.hangup_cause_text = event.get("cause_txt")
            await self._finish(live)
            return
        # After StasisEnd the record is closed; the destroy event still knows the cause.
        call = await self.calls.by_channel(channel_id)
        if call is not None and call.id is not None:
            await self.calls.end(
                call.id, cause=_int(cause), cause_text=event.get("cause_txt"), ended_by="caller"
            )

    async def _finish(self, live: LiveCall) -> None:
        await self.calls.end(
            live.call_id,
            cause=live.hangup_cause,
            cause_text=live.hangup_cause_text,
            ended_by=_ended_by(live),
            disposition=_disposition(live),
        )

    # ---- never strand a caller ------------------------------------------------------

    async def _failsafe(self, channel_id: str, exc: BaseException) -> None:
        """A handler failed: send the caller to the apology context, else hang up.

        A 404 from ARI is no failure of ours: the caller hung up while we were acting
        on the channel, and the hang-up's own events close the record.
        """
        if isinstance(exc, AriNotFound):
            log.info("channel %s left while handled: %s", channel_id, exc)
            return
        log.error("call handler failed on %s: %r; sending to %s", channel_id, exc, FAILSAFE_CONTEXT)
        live = self.live.get(channel_id)
        if live is not None:
            live.failed, live.ended_by = True, "system"
        try:
            await self.ari.continue_in_dialplan(channel_id, context=FAILSAFE_CONTEXT, extension="s")
        except AriNotFound:
            return
        except Exception:
            log.exception("failsafe continue failed on %s; hanging up", channel_id)
            try:
                await self.ari.hangup(channel_id)
            except AriNotFound:
                return

    # ---- after a (re)connect: adopt what is still up, close what ended meanwhile -----

    async def resync(self) -> None:
        """Reconcile our records with the channels Asterisk still has in the app.

        Runs after every ARI (re)connect, including a restart of the controller: calls
        already in Asterisk keep their audio meanwhile and are adopted here; records
        whose channel vanished while nobody watched are closed as `lost`. A caller who
        was talking to an agent stays in that conversation (calls/adoption.py takes it back);
        an agent's own call is theirs too.
        """
        present = {c.id: c for c in await self._app_channels()}
        talking = await self._talking()
        for call in await self.calls.open_calls():
            channel = present.pop(call.channel_id, None)
            bridge = talking.get(call.channel_id)
            if call.id is None:
                continue
            if channel is not None and not channel.id.startswith(AGENT_LEG_PREFIX):
                self._serial.submit(channel.id, self._adopt(call, channel, bridge), name="adopt")
            elif channel is not None and bridge is not None and self.adopt_conversation:
                # An agent's own call, still talking: no flow of ours, only the agent's.
                await self.calls.note(call.id, "adopted", {"state": channel.state})
                self._serial.submit(channel.id, self.adopt_conversation(call, bridge))
            else:
                # Its StasisEnd was lost with the link (or it was an agent's own call
                # still ringing): close the record with what we know.
                self.live.pop(call.channel_id, None)
                if channel is not None:
                    await quietly(self.ari.hangup(channel.id))
                await self.calls.end(
                    call.id,
                    cause=None,
                    cause_text=None,
                    ended_by="unknown",
                    disposition=Disposition.LOST,
                )
        for channel in present.values():
            if channel.id.startswith(AGENT_LEG_PREFIX):
                if channel.id not in talking:
                    # An agent's leg the old process left behind (a softphone line's
                    # media leg, a ring nobody answered): nothing uses it any more.
                    await quietly(self.ari.hangup(channel.id))
            elif channel.id not in self.live:
                self._serial.submit(
                    channel.id, self._begin(channel, channel.stasis_args), name="begin"
                )

    async def _app_channels(self) -> list[Channel]:
        channels = [Channel.from_ari(raw) for raw in await self.ari.list_channels()]
        return [c for c in channels if c.stasis_app == self.app and not is_helper_name(c.name)]

    async def _talking(self) -> dict[str, dict[str, Any]]:
        """Conversations going on in Asterisk (calls/conversations.py's bridges), by each member."""
        bridges = [b for b in await self.ari.list_bridges() if is_talk_bridge(b.get("id", ""))]
        return {channel: b for b in bridges for channel in b.get("channels", [])}

    async def _adopt(
        self, call: Call, channel: Channel, talking: dict[str, Any] | None = None
    ) -> None:
        if channel.id in self.live or call.id is None:
            return
        live = LiveCall(call_id=call.id, channel_id=channel.id)
        self.live[channel.id] = live
        await self.calls.note(call.id, "adopted", {"state": channel.state})
        if talking is not None and self.adopt_conversation is not None:
            await self.adopt_conversation(call, talking)  # with its agent, as before
            return
        if call.answered_at is None and channel.state != "Up":
            await self.ari.answer(channel.id)
            await self.calls.answered(call.id)
            await self._run(live, call)
            return
        if self.flows is not None and self.flows.for_number(call.dialed_number) is not None:
            # Where it was in its flow died with the old process: start the flow over,
            # which callers know from any IVR ("let me take you back to the main menu").
            await self._run(live, call)
            return
        # The greeting still playing ends with a PlaybackFinished we will now see; else
        # the caller is on hold, and starting the music again only restarts the track.
        if not await self._greeting_playing(live):
            await self._hold(live)

    async def _greeting_playing(self, live: LiveCall) -> bool:
        try:
            await self.ari.request("GET", f"/playbacks/{_greet_id(live)}")
        except AriNotFound:
            return False
        return True


def transfer_flow(queue: str, language: str, variables: Mapping[str, str]) -> Flow:
    """The one-node flow a transferred call runs: wait in `queue` (its own max wait and
    overflow apply; the flow's limit is only a backstop)."""
    node = {"type": "queue", "queue": queue, "max_wait": TRANSFER_MAX_WAIT}
    return Flow.model_validate(
        {"name": "transfer", "language": language, "start": "queue",
         "variables": dict(variables), "nodes": {"queue": node}}
    )  # fmt: skip


def _disposition(live: LiveCall) -> Disposition | None:
    if live.failed:
        return Disposition.FAILED
    return Disposition.TRANSFERRED if live.port and live.port.transferred else None


def _ended_by(live: LiveCall) -> str:
    if live.port is not None and live.port.transferred:
        return "transfer"
    if live.port is not None and live.port.hung_up:
        return "system"
    return live.ended_by


def _greet_id(live: LiveCall) -> str:
    return f"greet-{live.channel_id}"


def _target_channel(playback: dict[str, Any]) -> str | None:
    target = str(playback.get("target_uri", ""))
    return target.removeprefix("channel:") if target.startswith("channel:") else None


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None
