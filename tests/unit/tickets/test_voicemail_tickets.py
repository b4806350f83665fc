"""A voicemail makes a ticket, on the real services (CallService, TicketService, the
bus, SQLite) without Asterisk: the step the IVR engine reports is fed as the controller
feeds it (`CallService.note(call, "voicemail", …)`), and the message is a real WAV in a
spool directory, filed as Asterisk's would be."""

from __future__ import annotations

import asyncio
import wave
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
from callcenter.events import Event
from callcenter.services import Services, running_services
from callcenter.tickets.access import ALL_TICKETS
from callcenter.tickets.service import TicketService
from callcenter.tickets.voicemail import VoicemailTickets

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        data_dir=tmp_path,
        voicemail_ticket_group="messages",
    )
    async with running_services(settings, clock=FixedClock(START)) as built:
        tickets = _tickets(built)
        await tickets.create_group("messages")
        spool = tmp_path / "spool"
        spool.mkdir()
        maker = built.extras["voicemail_tickets"]
        assert isinstance(maker, VoicemailTickets)
        # What the telephony sets up: Asterisk's spool, filed under the recordings.
        maker.file_recording = partial(file_spooled, lambda name: spool / f"{name}.wav",
                                       settings.recordings_path)  # fmt: skip
        yield built


def _tickets(services: Services) -> TicketService:
    return services.tickets()


def _message(services: Services, name: str, seconds: float) -> None:
    with wave.open(str(services.settings.data_dir / "spool" / f"{name}.wav"), "wb") as wav:
        wav.setparams((1, 2, 8000, 0, "NONE", "not compressed"))
        wav.writeframes(b"\0\0" * int(8000 * seconds))


async def _voicemail(services: Services, channel: str, number: str, recording: Any) -> int:
    """A caller goes through the IVR and leaves a message (or fails to)."""
    call = await services.calls.start(NewCall(channel, number, "", "4008001000"))
    assert call.id is not None
    for node in ("welcome", "after_hours", "leave_message"):
        await services.calls.note(call.id, "ivr.node", {"flow": "main", "node": node,
                                                        "type": "x"})  # fmt: skip
    await services.calls.note(call.id, "voicemail", {"node": "leave_message",
                                                     "recording": recording})  # fmt: skip
    return call.id


async def _wait_tickets(services: Services, count: int) -> list[dict[str, Any]]:
    for _ in range(100):
        items, total = await _tickets(services).search(ALL_TICKETS)
        if total >= count:
            return items
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} tickets never came")


async def test_a_voicemail_makes_a_ticket_with_the_message_linked(services):
    _message(services, "voicemail-ch1-ab12", 3.0)
    # A caller who hangs up to end the message: the engine's step for that case.
    recording = {"name": "voicemail-ch1-ab12", "ended_by": "caller"}
    call_id = await _voicemail(services, "ch1", "+8613800138000", recording)
    [ticket] = await _wait_tickets(services, 1)
    call = await services.calls.call(call_id)
    assert (ticket["source"], ticket["call_id"], ticket["requester_id"]) == (
        "call", call_id, call.customer_id,
    )  # fmt: skip
    assert ticket["subject"] == "Voicemail from +8613800138000"
    group = next(g for g in await _tickets(services).groups() if g["name"] == "messages")
    assert ticket["group_id"] == group["id"]
    # The message is the call's recording now, filed by date, and the ticket links it.
    assert call.recording == "2026/11/30/voicemail-ch1-ab12.wav"
    assert call.recording_seconds == 3.0
    assert (services.settings.recordings_path / call.recording).is_file()
    lines = ticket["description"].splitlines()
    assert f"Recording: /api/calls/{call_id}/recording (3 s)" in lines
    assert "IVR path: welcome → after_hours → leave_message" in lines
    history = await _tickets(services).history(ticket["id"], ALL_TICKETS)
    assert history[0]["actor"] == {"id": None, "name": "voicemail"}


async def test_no_ticket_without_a_message_a_number_or_the_call_being_ours(services):
    _message(services, "voicemail-ch2-x", 2.0)
    await _voicemail(services, "ch2", "", {"name": "voicemail-ch2-x", "duration": 2})  # withheld
    await _voicemail(services, "ch3", "+8613900139000", None)  # the recording failed
    maker = services.extras["voicemail_tickets"]
    assert isinstance(maker, VoicemailTickets)
    other_node = await services.calls.start(NewCall("ch4", "+8613700137000", "", "400"))
    step = {"call": {"id": other_node.id, "node": "controller-2"},
            "event": {"type": "voicemail", "data": {"recording": {"name": "v"}}}}  # fmt: skip
    assert await maker.handle(Event("call.voicemail", step)) is None
    # A last, good one: the three before it made nothing.
    _message(services, "voicemail-ch5-cd34", 1.0)
    await _voicemail(services, "ch5", "+8613600136000", {"name": "voicemail-ch5-cd34",
                                                         "duration": 1.0})  # fmt: skip
    [ticket] = await _wait_tickets(services, 1)
    assert ticket["subject"] == "Voicemail from +8613600136000"
    await asyncio.sleep(0.2)
    assert (await _tickets(services).search(ALL_TICKETS))[1] == 1
