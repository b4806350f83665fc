"""A supervisor on an agent's call: listen, whisper, barge in, take over, hang up.

The supervisor's own phone is called (an extension: their desk phone) and, once they
pick up, joined to the conversation as the mode asks:

* listen: a Snoop channel on the agent's leg spies on both directions (what the agent
  says and hears) and shares a bridge of its own with the supervisor, who is heard by
  nobody;
* whisper: the same Snoop also whispers toward the agent, so only the agent hears the
  supervisor (coaching), never the caller;
* barge: the supervisor joins the conversation's own bridge, and all three talk;
* take over: barge, then the agent leaves (to wrap-up) and the supervisor carries on
  with the caller, as with an attended transfer to them.

Modes switch on the same phone call. The monitor ends when the supervisor hangs up or
the conversation ends. Whisper, barge and take-over are noted on the call's timeline
(the agent hears them anyway); listening is not, and is audited like every other
supervisor action by the API.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from callcenter.calls.conversations import GONE_EVENTS, Conversation, Conversations
from callcenter.ids import unique_id
from callcenter.pbx.ari import AriError, quietly
from callcenter.pbx.channels import MONITOR_LEG_PREFIX, event_channel_id, helper_args

log = logging.getLogger(__name__)
MONITOR_RING_SECONDS = 30


class MonitorMode(StrEnum):
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"
    TAKEOVER = "takeover"


class SupervisionError(ValueError):
    """The action cannot be done now; the message says why."""


@dataclass
class Monitor:
    """One supervisor's phone call into one conversation."""

    id: str
    supervisor_id: int
    agent_id: int
    talk: Conversation
    mode: MonitorMode
    extension: str
    joined: bool = False
    snoop: str = ""  # the Snoop channel, while listening or whispering
    aside: bool = False  # in a bridge of its own with the Snoop (listen, whisper)
    in_talk: bool = False  # in the conversation's bridge (barge, take-over)

    @property
    def leg(self) -> str:
        return f"{MONITOR_LEG_PREFIX}{self.id}"

    @property
    def bridge_id(self) -> str:
        return f"monitor-{self.id}"

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "supervisor_id": self.supervisor_id,
            "agent_id": self.agent_id,
            "call_id": self.talk.call_id,
            "mode": str(self.mode),
            "extension": self.extension,
            "joined": self.joined,
        }


class Supervision(Conversations):
    def on_event(self, event: dict[str, Any]) -> None:
        channel_id = event_channel_id(event) or ""
        kind = event.get("type")
        monitor = self._monitors.get(channel_id)
        snooped = next((m for m in self._monitors.values() if m.snoop == channel_id), None)
        if snooped is not None and kind == "StasisStart":
            self._in_lane(snooped, self._snoop_ready(snooped, channel_id))
        elif monitor is None:
            super().on_event(event)
        elif kind == "StasisStart":
            self._in_lane(monitor, self._monitor_joined(monitor))
        elif kind in GONE_EVENTS:
            self._in_lane(monitor, self._monitor_left(monitor))

    def _in_lane(self, monitor: Monitor, job: Coroutine[Any, Any, None]) -> None:
        """In the conversation's lane, but a monitor that fails only ends itself: the
        caller's conversation must never suffer from a supervisor's phone."""

        async def guarded() -> None:
            try:
                await job
            except Exception as exc:
                log.warning("monitor %s of call %s failed: %r", monitor.id,
                            monitor.talk.call_id, exc)  # fmt: skip
                await quietly(self.ari.hangup(monitor.leg))

        self._serial.submit(monitor.talk.task.id, guarded(), name="monitor")

    def monitors(self) -> list[Monitor]:
        return list(self._monitors.values())

    async def monitor(
        self, supervisor_id: int, agent_id: int, mode: MonitorMode, extension: str
    ) -> Monitor:
        """Start monitoring the agent's call on the supervisor's phone, or switch the
        supervisor's running monitor of that call to `mode`."""
        talk = self._talk_of(agent_id)
        if talk is None or talk.ended:
            raise SupervisionError("that agent is not on a call")
        running = next(
            (m for m in self._monitors.values()
             if m.supervisor_id == supervisor_id and m.talk is talk),
            None,
        )  # fmt: skip
        if running is not None:
            if running.mode == MonitorMode.TAKEOVER:
                raise SupervisionError("you have taken this call over already")
            running.mode = mode
            if running.joined:
                self._in_lane(running, self._apply(running))
            return running
        if not extension:
            raise SupervisionError("no phone to call: give an extension, or set yours")
        monitor = Monitor(unique_id(), supervisor_id, agent_id, talk, mode, extension)
        self._monitors[monitor.leg] = monitor
        try:
            await self.ari.originate(
                f"PJSIP/{extension}",
                app=self.app,
                app_args=helper_args("monitor", monitor.id),
                channel_id=monitor.leg,
                caller_id=f'"Monitor" <{talk.call_id}>',
                timeout=MONITOR_RING_SECONDS,
            )
        except AriError as exc:
            self._monitors.pop(monitor.leg, None)
            raise SupervisionError(f"could not call extension {extension}: {exc}") from None
        return monitor

    async def stop_monitor(self, monitor_id: str) -> bool:
        monitor = self._monitors.get(f"{MONITOR_LEG_PREFIX}{monitor_id}")
        if monitor is None:
            return False
        await quietly(self.ari.hangup(monitor.leg))  # its StasisEnd cleans up
        return True

    async def force_hangup(self, supervisor_id: int | None, agent_id: int) -> None:
        """End the agent's call for everyone in it."""
        talk = self._talk_of(agent_id)
        if talk is None:
            raise SupervisionError("that agent is not on a call")
        await self.calls.note(talk.call_id, "monitor.hangup", {"supervisor_id": supervisor_id})
        self._serial.submit(talk.task.id, self._end(talk, by="supervisor"), name="force-hangup")

    # ---- in the conversation's lane ---------------------------------------------------

    async def _monitor_joined(self, monitor: Monitor) -> None:
        if monitor.talk.ended:
            await quietly(self.ari.hangup(monitor.leg))
            return
        monitor.joined = True
        await self._apply(monitor)

    async def _apply(self, monitor: Monitor) -> None:
        """Put the supervisor's phone where its mode wants it."""
        talk = monitor.talk
        if talk.ended:
            return
        if monitor.mode in (MonitorMode.LISTEN, MonitorMode.WHISPER):
            await self._out_of_talk(monitor)
            await self._drop_snoop(monitor)
            if not monitor.aside:
                await self.ari.create_bridge("mixing", monitor.bridge_id, name=monitor.bridge_id)
                await self.ari.add_to_bridge(monitor.bridge_id, monitor.leg)
                monitor.aside = True
            whisper = "out" if monitor.mode == MonitorMode.WHISPER else "none"
            monitor.snoop = f"{MONITOR_LEG_PREFIX}snoop-{unique_id()}"
            await self.ari.snoop(
                talk.agent,
                app=self.app,
                app_args=helper_args("snoop", monitor.id),
                spy="both",
                whisper=whisper,
                snoop_id=monitor.snoop,
            )  # it joins the bridge once it is in our app: _snoop_ready
        else:
            await self._drop_snoop(monitor)
            await self._leave_aside(monitor)
            if not monitor.in_talk:
                await self.ari.add_to_bridge(talk.bridge_id, monitor.leg)
                monitor.in_talk = True
        if monitor.mode != MonitorMode.LISTEN:
            data = {"supervisor_id": monitor.supervisor_id}
            await self.calls.note(talk.call_id, f"monitor.{monitor.mode}", data)
        if monitor.mode == MonitorMode.TAKEOVER:
            await self._take_over(monitor)

    async def _snoop_ready(self, monitor: Monitor, snoop: str) -> None:
        if monitor.snoop == snoop and not monitor.talk.ended:
            await self.ari.add_to_bridge(monitor.bridge_id, snoop)
        else:  # replaced by a newer mode meanwhile
            await quietly(self.ari.hangup(snoop))

    async def _take_over(self, monitor: Monitor) -> None:
        """The agent leaves; the supervisor stays with the caller as a third party would
        after an attended transfer (their hang-up ends the call)."""
        talk = monitor.talk
        self._monitors.pop(monitor.leg, None)
        talk.guests.add(monitor.leg)
        self._guests[monitor.leg] = talk
        if talk.held_since is not None:
            await self._hold(talk, False)
        await self._agent_leaves(talk, "supervisor")
        await self.calls.transferred(talk.call_id)

    async def _monitor_left(self, monitor: Monitor) -> None:
        self._monitors.pop(monitor.leg, None)
        await self._drop_snoop(monitor)
        await self._leave_aside(monitor)
        await self._out_of_talk(monitor)

    async def _leave_aside(self, monitor: Monitor) -> None:
        if monitor.aside:
            monitor.aside = False
            await quietly(self.ari.destroy_bridge(monitor.bridge_id))

    async def _out_of_talk(self, monitor: Monitor) -> None:
        if monitor.in_talk:
            monitor.in_talk = False
            await quietly(self.ari.remove_from_bridge(monitor.talk.bridge_id, monitor.leg))

    async def _drop_snoop(self, monitor: Monitor) -> None:
        if monitor.snoop:
            snoop, monitor.snoop = monitor.snoop, ""
            await quietly(self.ari.hangup(snoop))

    async def _close(self, talk: Conversation, *, keep_caller: bool = False) -> None:
        """The conversation is over: so are its monitors."""
        for monitor in [m for m in self._monitors.values() if m.talk is talk]:
            self._monitors.pop(monitor.leg, None)
            await self._drop_snoop(monitor)
            await self._leave_aside(monitor)
            await quietly(self.ari.hangup(monitor.leg))
        await super()._close(talk, keep_caller=keep_caller)
