"""A voicemail is transcribed by the real speech pool (pocketsphinx in a worker process)
from a real espeak-ng recording filed as Asterisk's would be, its segments stored with
source 'voicemail' where they were said in the message, and its ticket tells them.

What was heard is not bounded here: free-form pocketsphinx on a first, robotic
utterance gets few words right (its accuracy is measured in bench/speech.py and the
engines' tests); this is about the message's way from the spool to the ticket. Short
audio: the machine is shared."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from callcenter.calls.recordings import file_spooled
from callcenter.calls.service import NewCall
from callcenter.clock import FixedClock
from callcenter.config import Settings
from callcenter.services import Services, running_services, transcribe_voicemails
from callcenter.speech.engines import EngineSpec
from callcenter.speech.pool import TranscriptionPool
from callcenter.tickets.access import ALL_TICKETS
from callcenter.tickets.voicemail import VoicemailTickets

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SAID = "please call me back tomorrow morning"


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings(_env_file=None, env="test", data_dir=tmp_path,  # type: ignore[call-arg]
                        voicemail_ticket_group="messages")  # fmt: skip
    pool = TranscriptionPool(EngineSpec("pocketsphinx"), workers=1)
    await pool.start()
    try:
        async with running_services(settings, clock=FixedClock(START)) as built:
            await built.tickets().create_group("messages")
            spool = tmp_path / "spool"
            spool.mkdir()
            maker = built.extras["voicemail_tickets"]
            assert isinstance(maker, VoicemailTickets)
            maker.file_recording = partial(file_spooled, lambda name: spool / f"{name}.wav",
                                           settings.recordings_path)  # fmt: skip
            transcribe_voicemails(built, pool)
            yield built
    finally:
        await pool.stop()


def _record(path: Path, text: str) -> None:
    """espeak-ng speech as Asterisk stores a voicemail: 8 kHz 16-bit mono WAV."""
    spoken = path.with_suffix(".spoken.wav")
    subprocess.run(["espeak-ng", "-v", "en-us+m3", "-s", "140", "-w", str(spoken), text],
                   check=True)  # fmt: skip
    subprocess.run(["sox", str(spoken), "-r", "8000", "-c", "1", "-b", "16", str(path),
                    "pad", "0.5", "0.8"], check=True)  # fmt: skip
    spoken.unlink()


async def _ticket(services: Services) -> dict[str, Any]:
    for _ in range(600):
        items, total = await services.tickets().search(ALL_TICKETS)
        if total:
            return items[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the voicemail made no ticket")


async def test_a_voicemail_is_transcribed_and_its_ticket_tells_it(services):
    _record(services.settings.data_dir / "spool" / "voicemail-vm1.wav", SAID)
    call = await services.calls.start(NewCall("vm1", "+8613800138000", "", "4008001000"))
    await services.calls.answered(call.id)
    recording = {"name": "voicemail-vm1", "ended_by": "caller"}
    await services.calls.note(call.id, "voicemail", {"node": "leave", "recording": recording})
    ticket = await _ticket(services)

    assert services.transcripts is not None
    segments = await services.transcripts.of_call(call.id)
    assert segments, "nothing was recognised in the message"
    assert {(s.source, s.speaker, s.agent_id) for s in segments} == {("voicemail", "caller", None)}
    # On the call's timeline from the answer (the message began then, as far as the
    # fixed clock tells): inside the message, after its half second of silence.
    seconds = (await services.calls.call(call.id)).recording_seconds
    assert seconds is not None and 4.0 < seconds < 6.0
    assert segments[0].start >= 0.3
    assert all(s.start < s.end <= seconds + 0.1 for s in segments)
    assert all(s.text.strip() and 0 <= s.confidence <= 1 for s in segments)
    lines = ticket["description"].splitlines()
    assert f"Transcript: /api/calls/{call.id}/transcript" in lines
    told = lines[lines.index("Transcript:") + 1 :]
    assert [line.removeprefix("  Caller: ") for line in told] == [s.text for s in segments]
