"""A headless agent softphone: what the desktop page does, in aiortc, for tests and benches.

It logs in over `/ws/softphone`, offers WebRTC audio that is a steady tone, and keeps
what it hears as a WAV, so a test can prove both directions with tone detection.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import math
import time
import wave
from array import array
from pathlib import Path
from typing import Any

import websockets
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av.audio.frame import AudioFrame

RATE = 8000
FRAME_SAMPLES = 160  # 20 ms


class ToneTrack(MediaStreamTrack):
    """A microphone that only ever plays one tone, in real time."""

    kind = "audio"

    def __init__(self, freq: float, amplitude: int = 8000) -> None:
        super().__init__()
        step = 2 * math.pi * freq / RATE
        period = array("h", (int(amplitude * math.sin(step * i)) for i in range(RATE)))
        self._samples = period.tobytes()  # one second; 8000 samples hold whole cycles
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._pts / RATE
        if (wait := due - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        offset = (self._pts % RATE) * 2
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(self._samples[offset : offset + FRAME_SAMPLES * 2])
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += FRAME_SAMPLES
        return frame


class HeadlessSoftphone:
    def __init__(self, ws_url: str, token: str, *, tone: float) -> None:
        self.url = f"{ws_url}/ws/softphone?token={token}"
        self.tone = tone
        self.messages: list[dict[str, Any]] = []
        self.heard = bytearray()  # s16 mono 8 kHz
        self._pc = RTCPeerConnection()
        self._ws: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._changed = asyncio.Event()

    async def connect(self) -> None:
        """Open the line: offer, answer, and wait until the controller says it is ready."""
        since = self.mark()
        self._ws = await websockets.connect(self.url)
        self._tasks.append(asyncio.create_task(self._read()))
        self._pc.addTrack(ToneTrack(self.tone))
        self._pc.on("track", self._on_track)
        await self._pc.setLocalDescription(await self._pc.createOffer())
        await self.send({"type": "offer", "sdp": self._pc.localDescription.sdp})
        answer = await self.wait_for("answer", since=since)
        await self._pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await self.wait_for("ready", since=since)

    async def reconnect(self, within: float = 30.0) -> None:
        """What the desktop does when its line drops (a controller restart): a new peer
        and websocket, retried until the server takes them. What was heard is kept."""
        await self.close()
        self._pc = RTCPeerConnection()
        deadline = time.monotonic() + within
        while True:
            try:
                await self.connect()
                return
            except (OSError, websockets.InvalidStatus):
                if time.monotonic() > deadline:
                    raise
                await self.close()
                self._pc = RTCPeerConnection()
                await asyncio.sleep(0.5)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.create_task(self._listen(track)))

    async def _listen(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, AudioFrame)
                self.heard += bytes(frame.planes[0])[: frame.samples * 2]

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self._ws:
                self.messages.append(json.loads(raw))
                self._changed.set()

    async def send(self, message: dict[str, Any]) -> None:
        await self._ws.send(json.dumps(message))

    def mark(self) -> int:
        return len(self.messages)

    async def wait_for(self, kind: str, within: float = 15.0, *, since: int = 0) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while True:
                for message in self.messages[since:]:
                    if message.get("type") == kind:
                        return message
                self._changed.clear()
                await self._changed.wait()

    def save_heard(self, path: Path, since_byte: int = 0, until_byte: int | None = None) -> Path:
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(RATE)
            wav.writeframes(bytes(self.heard[since_byte:until_byte]))
        return path

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        await self._pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
