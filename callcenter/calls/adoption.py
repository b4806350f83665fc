"""After a controller restart: conversations Asterisk kept going become ours again."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from callcenter.agents.state import AgentState
from callcenter.calls.conversations import Conversation, Conversations, Leg, bridge_age
from callcenter.calls.models import Call
from callcenter.calls.targets import Target
from callcenter.pbx.ari import quietly
from callcenter.pbx.channels import GUEST_LEG_PREFIX, MEDIA_LEG_PREFIX, OWN_CALL_PREFIX
from callcenter.routing.model import Task, call_task_id

log = logging.getLogger(__name__)


class Adoption(Conversations):
    async def adopt(self, call: Call, bridge: Mapping[str, Any]) -> None:
        """A caller found talking in one of our bridges is a conversation again: hang-ups,
        hold, transfers and the record work as before the restart.

        A desk phone's leg carried on by itself. A softphone's media leg went with the
        old process: the caller hears music until the agent's desktop reconnects (it
        does so by itself) and its new line joins the bridge; if it does not within
        `rejoin_seconds`, the caller goes back to the queue.
        """
        assert call.id is not None
        members = [c for c in bridge.get("channels", []) if c != call.channel_id]
        guests = {c for c in members if c.startswith(GUEST_LEG_PREFIX)}
        agent_leg = next((c for c in members if c not in guests), "")
        if call.agent_id is None or call.channel_id in self._talks:
            return
        outbound = call.channel_id.startswith(OWN_CALL_PREFIX)
        number = call.dialed_number if outbound else call.caller_number
        data = {"call_id": call.id, "channel_id": call.channel_id, "caller_number": number}
        talked = bridge_age(bridge)  # since the bridge was made, at the answer
        task_id = call_task_id(call.id, own=outbound)
        task = Task(id=task_id, queue=call.queue or "", customer_id=call.customer_id, data=data)
        talk = Conversation(
            task=task,
            agent_id=call.agent_id,
            caller=call.channel_id,
            agent=agent_leg,
            bridge_id=str(bridge["id"]),
            started=time.monotonic() - talked,
            softphone=agent_leg.startswith(MEDIA_LEG_PREFIX),
            guests=guests,
            agent_left=not agent_leg,
            back=(AgentState.AVAILABLE, ""),  # routing's memory of the task went too
        )
        self._talks[talk.caller] = talk
        for guest in guests:
            self._guests[guest] = talk
        if agent_leg:
            self._talks[agent_leg] = talk
            self._legs[agent_leg] = Leg(
                agent_leg, talk.task, talk.agent_id, answered=True, persistent=talk.softphone
            )
            await self.routing.adopted(talk.agent_id)
        if talk.softphone:  # its audio went with the old process: music until it rejoins
            await self._hold(talk, True)
            self._rejoin_timers[talk.agent_id] = asyncio.get_running_loop().call_later(
                self.rejoin_seconds, self._gave_up_rejoining, talk
            )
        log.info("call %s adopted with agent %s in %s", call.id, call.agent_id, talk.bridge_id)

    async def line_ready(self, agent_id: int, channel_id: str) -> None:
        """The agent's desktop is back: its new line takes the old one's place in the call."""
        timer = self._rejoin_timers.pop(agent_id, None)
        talk = self._talk_of(agent_id)
        if timer is None or talk is None:
            return
        timer.cancel()
        self._serial.submit(talk.task.id, self._rejoin(talk, channel_id), name="rejoin")

    async def _rejoin(self, talk: Conversation, channel_id: str) -> None:
        if talk.ended:
            return
        await self._drop_dead_leg(talk)
        talk.agent = channel_id
        self._legs[channel_id] = Leg(
            channel_id, talk.task, talk.agent_id, answered=True, persistent=True
        )
        self._talks[channel_id] = talk
        await self.ari.add_to_bridge(talk.bridge_id, channel_id)
        message = {"type": "connected", "task_id": talk.task.id, "call_id": talk.call_id}
        await self._tell(talk.agent_id, message)
        await self._hold(talk, False)

    def _gave_up_rejoining(self, talk: Conversation) -> None:
        self._rejoin_timers.pop(talk.agent_id, None)
        self._serial.submit(talk.task.id, self._give_up(talk), name="rejoin-timeout")

    async def _give_up(self, talk: Conversation) -> None:
        """The desktop never came back: the caller goes back to the queue (or, if no
        queue can take them, the call ends cleanly rather than on music forever)."""
        if talk.ended:
            return
        await self._drop_dead_leg(talk)
        back_to_queue = Target("queue", talk.task.queue)
        if talk.own_call or self._refusal(talk, back_to_queue):
            await self._end(talk, by="system")
        else:
            await self._routed_transfer(talk, back_to_queue)

    async def _drop_dead_leg(self, talk: Conversation) -> None:
        """The old line's media leg: nobody behind it. Forgotten first, so its end is not
        taken for the agent hanging up."""
        self._legs.pop(talk.agent, None)
        self._talks.pop(talk.agent, None)
        await quietly(self.ari.hangup(talk.agent))
