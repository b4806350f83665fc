"""Agents' softphone lines: the websocket, the WebRTC peer and the persistent media leg.

A line opens when the agent desktop connects `/ws/softphone` and sends its SDP offer.
The controller answers it and creates the agent's media leg in Asterisk at once: an
externalMedia channel that stays up, outside any bridge, for as long as the line is
open. Answering a call is then only a bridge operation (caller + this leg): no call
set-up, no ICE, no DTLS while the caller waits.

Messages, JSON over the websocket:
- desktop -> controller: `offer {sdp}`, `accept {task_id}`, `decline {task_id}`,
  `hangup` (in a conference: leave it, the others talk on), `hold`, `unhold`,
  `conference {extension | number}`, `transfer {extension | number | queue | agent}`
  (blind; `agent` is a user id), `consult {extension | number}` (the caller on hold, a
  private talk) then `complete_transfer` or `cancel_consult`, `dial {extension |
  number}` (the dial pad: a call of the agent's own), `dtmf {digits}` (keys during a
  call, sent to the other side),
  `pause_recording`, `resume_recording`;
- controller -> desktop: `answer {sdp}`, `ready`, `offered {task_id, ring_timeout,
  call: screen-pop}`, `withdrawn {task_id}`, `connected {task_id}`, `held {on}`,
  `party {joined}`, `dialing {call_id, number}`, `connected {call_id}` (an own call
  answered), `ended {task_id | call_id, by}` (`by` `unanswered`: nobody picked up),
  `error {message}`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from callcenter.calls.targets import PHONE_KINDS, BadTarget, Target, target_of
from callcenter.ids import unique_id
from callcenter.pbx.ari import AriClient, quietly
from callcenter.pbx.channels import MEDIA_LEG_PREFIX, helper_args
from callcenter.softphone.peer import AgentPeer
from callcenter.softphone.rtp import RtpEndpoint

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]
DIGITS = re.compile(r"^[0-9*#]{1,32}$")
# Messages that name a target (calls/targets.py).
TARGETED = frozenset({"conference", "consult", "transfer", "dial"})


class Answering(Protocol):
    """What a line asks of the call side (calls/agent_legs.py) on the agent's behalf."""

    async def accept(self, agent_id: int, task_id: str) -> None: ...

    async def decline(self, agent_id: int, task_id: str) -> None: ...

    async def hang_up(self, agent_id: int) -> None: ...

    async def pause_recording(self, agent_id: int, paused: bool) -> None: ...

    async def hold(self, agent_id: int, on: bool) -> None: ...

    async def add_party(self, agent_id: int, target: Target) -> None: ...

    async def transfer(self, agent_id: int, target: Target) -> None: ...

    async def consult(self, agent_id: int, target: Target) -> None: ...

    async def finish_consult(self, agent_id: int, *, transfer: bool) -> None: ...

    async def dial(self, agent_id: int, target: Target) -> None: ...

    async def send_digits(self, agent_id: int, digits: str) -> None: ...

    async def line_ready(self, agent_id: int, channel_id: str) -> None: ...

    async def line_lost(self, agent_id: int, channel_id: str) -> None: ...


@dataclass
class Line:
    agent_id: int
    send: Send
    peer: AgentPeer | None = None
    rtp: RtpEndpoint | None = None
    channel_id: str = ""  # the media leg in Asterisk, once created
    offered: set[str] = field(default_factory=set)

    @property
    def ready(self) -> bool:
        return bool(self.channel_id)


class Softphones:
    def __init__(self, ari: AriClient, *, app: str, media_host: str = "127.0.0.1") -> None:
        self.ari = ari
        self.app = app
        self.media_host = media_host  # where Asterisk sends the legs' RTP
        self.answering: Answering | None = None
        self._lines: dict[int, Line] = {}

    def line(self, agent_id: int) -> Line | None:
        line = self._lines.get(agent_id)
        return line if line is not None and line.ready else None

    # ---- the websocket's life ---------------------------------------------------------

    async def open(self, agent_id: int, send: Send) -> Line:
        """A desktop connected; an older line of the same agent (another tab) is closed."""
        old = self._lines.pop(agent_id, None)
        if old is not None:
            await old.send({"type": "error", "message": "the softphone opened elsewhere"})
            await self._teardown(old)
        line = Line(agent_id, send)
        self._lines[agent_id] = line
        return line

    async def close(self, line: Line) -> None:
        """The desktop went away: whatever rang or talked on this line ends."""
        if self._lines.get(line.agent_id) is line:
            del self._lines[line.agent_id]
            if self.answering is not None and line.channel_id:
                await self.answering.line_lost(line.agent_id, line.channel_id)
        await self._teardown(line)

    async def close_all(self) -> None:
        """The server stops: every line's media leg and peer go."""
        for line in list(self._lines.values()):
            await self.close(line)

    async def handle(self, line: Line, message: dict[str, Any]) -> None:
        kind = message.get("type")
        task_id = str(message.get("task_id", ""))
        if kind == "offer":
            await self._connect(line, str(message.get("sdp", "")))
        elif self.answering is None:
            await line.send({"type": "error", "message": "no telephony on this server"})
        elif kind == "accept" and task_id in line.offered:
            await self.answering.accept(line.agent_id, task_id)
        elif kind == "decline" and task_id in line.offered:
            await self.answering.decline(line.agent_id, task_id)
        elif kind == "hangup":
            await self.answering.hang_up(line.agent_id)
        elif kind in TARGETED:
            try:
                target = target_of(message, None if kind == "transfer" else PHONE_KINDS)
            except BadTarget as exc:
                await line.send({"type": "error", "message": f"{kind}: {exc}"})
                return
            answering = self.answering
            act = {"conference": answering.add_party, "consult": answering.consult,
                   "transfer": answering.transfer, "dial": answering.dial}[kind]  # fmt: skip
            await act(line.agent_id, target)
        elif kind in ("complete_transfer", "cancel_consult"):
            transfer = kind == "complete_transfer"
            await self.answering.finish_consult(line.agent_id, transfer=transfer)
        elif kind == "dtmf":
            digits = str(message.get("digits", ""))
            if not DIGITS.match(digits):
                await line.send({"type": "error", "message": "dtmf: 0-9, *, # (up to 32)"})
                return
            await self.answering.send_digits(line.agent_id, digits)
        elif kind in ("hold", "unhold"):
            await self.answering.hold(line.agent_id, kind == "hold")
        elif kind in ("pause_recording", "resume_recording"):
            await self.answering.pause_recording(line.agent_id, kind == "pause_recording")
        else:
            await line.send({"type": "error", "message": f"unexpected {kind!r}"})

    async def _connect(self, line: Line, sdp: str) -> None:
        """Answer the browser, then create the media leg: the line is ready."""
        if line.peer is not None:
            await line.send({"type": "error", "message": "already connected"})
            return
        line.rtp = await RtpEndpoint.open(self.media_host, lambda _: None)
        line.peer = AgentPeer(line.rtp.send)
        line.rtp.on_payload = line.peer.to_agent.push
        await line.send({"type": "answer", "sdp": await line.peer.answer(sdp)})
        host, port = line.rtp.local_address
        channel_id = f"{MEDIA_LEG_PREFIX}{unique_id()}"
        created = await self.ari.external_media(
            app=self.app,
            external_host=f"{host}:{port}",
            format="ulaw",
            channel_id=channel_id,
            data=helper_args("media", str(line.agent_id)),
        )
        line.rtp.remote = _asterisk_rtp_address(created)
        line.channel_id = channel_id
        await line.send({"type": "ready"})
        if self.answering is not None:  # a call that outlived a restart rejoins this line
            await self.answering.line_ready(line.agent_id, channel_id)

    async def _teardown(self, line: Line) -> None:
        if line.channel_id:
            await quietly(self.ari.hangup(line.channel_id))
            line.channel_id = ""
        if line.peer is not None:
            await line.peer.close()
        if line.rtp is not None:
            line.rtp.close()

    # ---- what the call side tells the agent ------------------------------------------

    async def tell(self, agent_id: int, message: dict[str, Any]) -> None:
        line = self._lines.get(agent_id)
        if line is None:
            return
        task_id = str(message.get("task_id", ""))
        if message["type"] == "offered":
            line.offered.add(task_id)
        elif message["type"] in ("withdrawn", "ended"):
            line.offered.discard(task_id)
        await line.send(message)


def _asterisk_rtp_address(channel: dict[str, Any]) -> tuple[str, int]:
    """Where Asterisk listens for this externalMedia channel's RTP (its channel vars)."""
    variables = channel.get("channelvars") or {}
    host = str(variables.get("UNICASTRTP_LOCAL_ADDRESS") or "")
    port = int(variables.get("UNICASTRTP_LOCAL_PORT") or 0)
    if not host or not port:
        raise RuntimeError(f"externalMedia channel without its RTP address: {variables}")
    return host, port
