"""The controller's end of an agent's WebRTC softphone (aiortc), relaying to Asterisk.

The browser and the controller agree on G.711 u-law, the codec Asterisk's externalMedia
channel speaks, so the call's audio reaches the browser untouched: each RTP payload from
Asterisk is handed to aiortc as an encoded packet and only re-packetized (no decode, no
encode). The agent's audio comes out of aiortc decoded, and is encoded back to u-law
(in C, by libavcodec) for Asterisk.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
from collections.abc import Callable

from aiortc import (
    MediaStreamTrack,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from av import AudioResampler, CodecContext, Packet
from av.audio.frame import AudioFrame

log = logging.getLogger(__name__)

TIME_BASE = fractions.Fraction(1, 8000)
MAX_BUFFERED_PACKETS = 10  # 200 ms: beyond it, old audio is dropped, not delayed


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
        self._pump: asyncio.Task[None] | None = None
        self.pc.on("track", self._on_track)

    async def answer(self, offer_sdp: str) -> str:
        """The SDP answer (ICE candidates included: aiortc gathers before it answers)."""
        # The transceiver exists before the offer is applied: aiortc settles the codecs
        # then, and only a preference set beforehand narrows them to u-law.
        transceiver = self.pc.addTransceiver(self.to_agent, direction="sendrecv")
        transceiver.setCodecPreferences(_pcmu_only())
        await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self._pump is None:
            self._pump = asyncio.create_task(self._relay(track), name="softphone-relay")

    async def _relay(self, track: MediaStreamTrack) -> None:
        """The agent's voice to Asterisk: decoded frames encoded back to u-law."""
        encoder = CodecContext.create("pcm_mulaw", "w")
        encoder.format = "s16"  # type: ignore[union-attr]
        encoder.layout = "mono"  # type: ignore[union-attr]
        encoder.sample_rate = 8000  # type: ignore[union-attr]
        encoder.time_base = TIME_BASE
        resampler = AudioResampler(format="s16", layout="mono", rate=8000, frame_size=160)
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, AudioFrame)
                for chunk in resampler.resample(frame):
                    for packet in encoder.encode(chunk):  # type: ignore[attr-defined]
                        self._to_asterisk(bytes(packet))

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        self.to_agent.stop()
        await self.pc.close()
