"""Seeding for quality-review tests: finished calls with an agent and a recording."""

from __future__ import annotations

import math
import wave
from array import array
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from callcenter.calls.service import NewCall
from callcenter.clock import Clock, FixedClock

# A scorecard as the API takes it: two weighted criteria and a critical one.
CARD = {
    "name": "Phone support",
    "labels": {"en": "Phone support", "zh": "电话客服"},
    "criteria": [
        {"key": "greeting", "label": {"en": "Greeting", "zh": "问候"}, "weight": 1,
         "max_points": 5},
        {"key": "solution", "label": {"en": "Solved the problem", "zh": "解决问题"}, "weight": 3,
         "max_points": 5},
        {"key": "identity", "label": {"en": "Verified identity", "zh": "核实身份"}, "weight": 1,
         "max_points": 1, "critical": True},
    ],
}  # fmt: skip


def write_wav(path: Path, seconds: float = 1.0, freq: float = 440.0, rate: int = 8000) -> None:
    """A short 16-bit mono tone, as Asterisk's recordings are (8 kHz)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = array("h", (int(8000 * math.sin(2 * math.pi * freq * n / rate))
                          for n in range(int(seconds * rate))))  # fmt: skip
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())


async def finished_call(
    services: Any,
    channel: str,
    *,
    at: datetime | None = None,
    agent: int | None = None,
    talk: float | None = None,
    hold: float = 0.0,
    wrap_up: float = 0.0,
    recording: bool = False,
    end: bool = True,
) -> int:
    """A call through CallService as telephony would leave it: answered, taken by `agent`
    for `talk` seconds (with `hold`), ended, wrapped up after `wrap_up` seconds, and its
    recording (a real WAV) filed under the recordings directory. With a FixedClock, the
    call starts `at`; the clock is put back afterwards."""
    clock: Clock = services.clock
    fixed = clock if isinstance(clock, FixedClock) else None
    before = clock.now()
    if fixed is not None and at is not None:
        fixed.set(at)
    calls = services.calls
    call = await calls.start(NewCall(channel, "+8613800138000", "", "100"))
    assert call.id is not None
    await calls.answered(call.id)
    if agent is not None:
        await calls.connected(call.id, agent, ring_seconds=2.0)
        if talk is not None:
            await calls.talk_ended(call.id, seconds=talk, by="caller")
        if hold:
            await calls.held(call.id, seconds=hold)
    if not end:
        if fixed is not None:
            fixed.set(before)
        return call.id
    if fixed is not None:
        fixed.advance(timedelta(seconds=(talk or 0.0) + hold + 15))
    await calls.end(call.id, cause=16, cause_text="Normal Clearing", ended_by="caller")
    if wrap_up:
        if fixed is not None:
            fixed.advance(timedelta(seconds=wrap_up))
        await calls.wrap_up(call.id, code="resolved", notes="")
    if recording:
        relative = f"{call.started_at:%Y/%m/%d}/{channel}.wav"
        write_wav(services.settings.recordings_path / relative)
        await calls.recorded(call.id, path=relative, seconds=1.0)
    if fixed is not None:
        fixed.set(before)
    await calls.flush()
    return call.id
