"""An agent's own calls from the softphone's dial pad, and keys sent during a call.

The agent hears ringing in a bridge of their own; when the other side answers, the call
becomes a Conversation like a queue call's (hold, conference, blind transfer, hang-up).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from callcenter.calls.conversations import (
    GONE_EVENTS,
    TALK_BRIDGE,
    Conversation,
    Conversations,
    Dialing,
)
from callcenter.calls.models import Disposition
from callcenter.calls.service import NewCall
from callcenter.calls.targets import Target
from callcenter.ids import unique_id
from callcenter.pbx.ari import AriError, quietly
from callcenter.pbx.channels import OWN_CALL_PREFIX, event_channel_id, helper_args
from callcenter.routing.model import Task

log = logging.getLogger(__name__)

DIAL_SECONDS = 45  # an agent's own call rings this long before it counts as unanswered


class OwnCalls(Conversations):
    def on_event(self, event: dict[str, Any]) -> None:
        """A dialed party's events: answered, or gone before it (busy, no answer)."""
        dialing = self._dialing.get(event_channel_id(event) or "")
        if dialing is None:
            super().on_event(event)
        elif event.get("type") == "StasisStart":
            self._serial.submit(dialing.lane, self._dial_answered(dialing), name="dial-answered")
        elif event.get("type") in GONE_EVENTS:
            self._serial.submit(dialing.lane, self._dial_failed(dialing), name="dial-failed")

    async def hang_up(self, agent_id: int) -> None:
        """Hanging up while it still rings gives up the call."""
        dialing = self._dialing_of(agent_id)
        if dialing is None:
            await super().hang_up(agent_id)
        else:
            self._serial.submit(dialing.lane, self._dial_failed(dialing), name="dial-cancel")

    async def line_lost(self, agent_id: int, channel_id: str) -> None:
        dialing = next((d for d in self._dialing.values() if d.line == channel_id), None)
        if dialing is None:
            await super().line_lost(agent_id, channel_id)
        else:
            await quietly(self.ari.hangup(dialing.channel))  # gone: its failure cleans up

    async def dial(self, agent_id: int, target: Target) -> None:
        """Call a number (through the trunk) or a colleague's extension from the softphone.

        The agent hears ringing until the other side answers; then both are in one
        bridge, and hold, conference, blind transfer and hang-up work as on a queue call.
        No offers reach the agent meanwhile; afterwards they are back where they were.
        """
        line = self.softphones.line(agent_id) if self.softphones else None
        if line is None:
            return  # only a ready line dials
        if self._talk_of(agent_id) or self._dialing_of(agent_id):
            await self._tell(agent_id, {"type": "error", "message": "dial: already on a call"})
            return
        back = await self.routing.dialing_out(agent_id)
        if back is None:
            await self._tell(agent_id, {"type": "error", "message": "dial: not now (busy)"})
            return
        view = await self.agents.agent(agent_id)
        channel = f"{OWN_CALL_PREFIX}{unique_id()}"
        direction = "internal" if target.kind == "extension" else "outbound"
        call = await self.calls.start(
            NewCall(
                channel_id=channel,
                caller_number=view.extension or view.username,
                caller_name=view.display_name or view.username,
                dialed_number=target.value,
                direction=direction,
            )
        )
        assert call.id is not None
        dialing = Dialing(
            agent_id,
            call.id,
            target.value,
            channel,
            line.channel_id,
            f"dial-{channel}",
            back,
            ringback=f"ringback-{channel}",
        )
        self._dialing[channel] = dialing
        self._serial.submit(dialing.lane, self._ring_out(dialing, target, view.extension))

    async def _ring_out(self, dialing: Dialing, target: Target, extension: str) -> None:
        await self.ari.create_bridge(TALK_BRIDGE, dialing.bridge_id, name=f"call-{dialing.call_id}")
        await self.ari.add_to_bridge(dialing.bridge_id, dialing.line)
        await self._tell(
            dialing.agent_id,
            {"type": "dialing", "call_id": dialing.call_id, "number": dialing.number},
        )
        await quietly(
            self.ari.request(
                "POST",
                f"bridges/{dialing.bridge_id}/play/{dialing.ringback}",
                params={"media": "tone:ring"},
            )
        )
        try:
            await self.ari.originate(
                target.endpoint,
                app=self.app,
                app_args=helper_args("outbound", str(dialing.call_id)),
                channel_id=dialing.channel,
                caller_id=f'"{extension}" <{extension}>' if extension else "",
                timeout=DIAL_SECONDS,
            )
        except AriError as exc:
            log.warning("could not dial %s: %s", target.endpoint, exc)
            await self._dial_failed(dialing)

    async def _dial_answered(self, dialing: Dialing) -> None:
        """The other side picked up: a conversation like any other, from now on."""
        if dialing.channel not in self._dialing:
            return  # the agent hung up first
        del self._dialing[dialing.channel]
        await quietly(self.ari.request("DELETE", f"playbacks/{dialing.ringback}"))
        task = Task(
            id=dialing.lane,
            queue="",
            data={
                "call_id": dialing.call_id,
                "channel_id": dialing.channel,
                "caller_number": dialing.number,
            },
        )
        talk = Conversation(
            task=task,
            agent_id=dialing.agent_id,
            caller=dialing.channel,
            agent=dialing.line,
            bridge_id=dialing.bridge_id,
            started=time.monotonic(),
            softphone=True,
            back=dialing.back,
        )
        self._talks[talk.caller] = self._talks[talk.agent] = talk
        await self.ari.add_to_bridge(dialing.bridge_id, dialing.channel)
        await self.calls.answered(dialing.call_id)
        ring_seconds = time.monotonic() - dialing.started
        await self.calls.connected(dialing.call_id, dialing.agent_id, ring_seconds=ring_seconds)
        await self._tell(dialing.agent_id, {"type": "connected", "call_id": dialing.call_id})

    async def _dial_failed(self, dialing: Dialing) -> None:
        """Nobody answered (busy, no answer, unreachable), or the agent gave up."""
        if self._dialing.pop(dialing.channel, None) is None:
            return
        await quietly(self.ari.hangup(dialing.channel))
        await quietly(self.ari.remove_from_bridge(dialing.bridge_id, dialing.line))
        await quietly(self.ari.destroy_bridge(dialing.bridge_id))
        await self.calls.end(
            dialing.call_id,
            cause=None,
            cause_text=None,
            ended_by="agent",
            disposition=Disposition.UNANSWERED,
        )
        await self.routing.dialed_out(dialing.agent_id, dialing.back)
        await self._tell(
            dialing.agent_id, {"type": "ended", "call_id": dialing.call_id, "by": "unanswered"}
        )

    async def send_digits(self, agent_id: int, digits: str) -> None:
        """Keys pressed on the dial pad during a call reach the other side as DTMF (an
        IVR the agent called, a conference bridge's PIN)."""
        talk = self._talk_of(agent_id)
        if talk is not None:
            params = {"dtmf": digits, "between": 100, "duration": 120}
            await quietly(self.ari.request("POST", f"channels/{talk.caller}/dtmf", params=params))
