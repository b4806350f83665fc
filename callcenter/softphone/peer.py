"""The controller's end of an agent's WebRTC softphone (aiortc), relaying to Asterisk.

The browser and the controller agree on G.711 u-law, the codec Asterisk's externalMedia
channel speaks, so audio crosses the controller untouched in both directions: payloads
from Asterisk are handed to aiortc as encoded packets (re-packetized and encrypted, never
decoded), and the agent's payloads are taken as aiortc has decrypted them and sent on to
Asterisk as they are. The second needs one reach into aiortc: the receiver's RTP handler
is replaced on our instance, which skips its jitter buffer (20 ms per packet of delay at
best, 80 ms as configured), its decoder thread and a u-law encode back. Asterisk plays
out what it gets; the browser keeps its own jitter buffer. tests/integration exercise it
on real calls, so an aiortc release that moves the handler fails there first.
"""

from __future__ import annotations

import asyncio
import fractions
from collections.abc import Callable

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket
from av import Packet

TIME_BASE = fractions.Fraction(1, 8000)
MAX_BUFFERED_PACKETS = 10  # 200 ms: beyond it, old audio is dropped, not delayed
PCMU = 0


class CallAudio(MediaStreamTrack):
    """The call as the agent hears it: Asterisk's u-law payloads, passed on encoded."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: asyncio.Queue[Packet] = asyncio.Queue()
        self._pts = 0

    def push(self, payload: bytes) -> None:
        packet = Packet(payload)
        packet.pts = self._pts
        packet.time_base = TIME_BASE
        self._pts += len(payload)
        if self._queue.qsize() >= MAX_BUFFERED_PACKETS:
            self._queue.get_nowait()  # the browser fell behind: keep the latest audio
        self._queue.put_nowait(packet)

    async def recv(self) -> Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        return await self._queue.get()


def _pcmu_only() -> list:  # type: ignore[type-arg]
    return [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.mimeType == "audio/PCMU"]


class AgentPeer:
    """One agent's peer connection: answers the browser's offer, relays both directions."""

    def __init__(self, to_asterisk: Callable[[bytes], None]) -> None:
        self.pc = RTCPeerConnection()
        self.to_agent = CallAudio()
        self._to_asterisk = to_asterisk
        self.received = 0

    async def answer(self, offer_sdp: str) -> str:
        """The SDP answer (ICE candidates included: aiortc gathers before it answers)."""
        # The transceiver exists before the offer is applied: aiortc settles the codecs
        # then, and only a preference set beforehand narrows them to u-law.
        transceiver = self.pc.addTransceiver(self.to_agent, direction="sendrecv")
        transceiver.setCodecPreferences(_pcmu_only())
        transceiver.receiver._handle_rtp_packet = self._from_agent  # type: ignore[method-assign]
        await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    async def _from_agent(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        """The agent's voice, decrypted: on to Asterisk as it came."""
        if packet.payload_type == PCMU and packet.payload:
            self.received += 1
            self._to_asterisk(packet.payload)

    async def close(self) -> None:
        self.to_agent.stop()
        await self.pc.close()
