"""Voicemails transcribed: the filed message, decoded by the speech pool, stored as
segments with source 'voicemail' before its ticket is made (so the ticket tells it).

Called by `tickets.voicemail.VoicemailTickets` once the message is filed under the
recordings directory. The message is converted with sox to what the engines take
(16 kHz, 16-bit signed little-endian mono), as the IVR's speech menus do; decoding
happens in the pool, whose back-pressure also covers voicemails.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from callcenter.auth.models import aware
from callcenter.speech.engine import Utterance
from callcenter.transcripts.store import Segment, TranscriptStore

log = logging.getLogger(__name__)


class Transcriber(Protocol):
    """The speech pool's whole-recording entry (callcenter.speech.pool)."""

    async def transcribe(self, pcm16k: bytes) -> list[Utterance]: ...


def to_pcm16k(path: Path) -> bytes:
    """The recording as 16 kHz 16-bit signed mono raw PCM."""
    result = subprocess.run(
        ["sox", str(path), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer",
         "-L", "-t", "raw", "-"],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    return result.stdout


class VoicemailTranscriber:
    def __init__(
        self, store: TranscriptStore, pool: Transcriber, recordings: Path, *, language: str
    ) -> None:
        self.store = store
        self.pool = pool
        self.recordings = recordings
        self.language = language

    async def __call__(self, call_id: int, recording: str, seconds: float) -> list[Segment]:
        """Transcribe the call's filed message (`recording`, under the recordings
        directory, `seconds` long); the segments stored. It ended about now, so it
        started `seconds` ago: that places it on the call's timeline."""
        path = self.recordings / recording
        pcm = await asyncio.to_thread(to_pcm16k, path)
        utterances = await self.pool.transcribe(pcm)
        call = await self.store.calls.call(call_id)
        started = self.store.clock.now() - timedelta(seconds=seconds)
        answered = aware(call.answered_at or call.started_at)  # SQLite gives naive ones
        started = max(started, answered)  # never before the call was answered
        stored = []
        for utterance in utterances:
            segment = await self.store.store(
                call, "caller", None, started, utterance, source="voicemail",
                language=self.language,
            )  # fmt: skip
            if segment is not None:
                stored.append(segment)
        log.info("call %s: voicemail transcribed, %d segments", call_id, len(stored))
        return stored
