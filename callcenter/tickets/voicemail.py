"""A voicemail makes a ticket: the caller is the requester, the message is linked.

It listens to the calls' `call.voicemail` steps (what the IVR engine reports through
`on_step("voicemail", …)` and `CallService.note`) on the event bus, like any other
listener, so the flow that recorded the message never waits on tickets. With several
controllers on one Redis bus every one of them hears the step: only the controller whose
node owns the call (`call.node`) makes the ticket, so a message makes one.

The message is filed like a conversation's recording (`calls.recordings.file_spooled`)
and becomes the call's recording (`CallService.recorded`): the ticket's readers play it
through the call (`GET /api/calls/{id}/recording`), and the description links it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from callcenter.calls.service import CallNotFound, CallService
from callcenter.events import Event, EventBus, handle_each
from callcenter.tickets.from_call import CallTickets, NoRequester
from callcenter.tickets.service import FieldError

log = logging.getLogger(__name__)

VOICEMAIL_STEP = "call.voicemail"
# (recording name, when) -> (path under the recordings directory, seconds), or None.
FileRecording = Callable[[str, datetime], Awaitable[tuple[str, float] | None]]
# (call id, filed path under the recordings directory, seconds): stores its transcript.
Transcribe = Callable[[int, str, float], Awaitable[object]]


class VoicemailTickets:
    """Started once with the services; `file_recording` is set when telephony runs
    (only then is there a spool to file from)."""

    def __init__(
        self,
        bus: EventBus,
        calls: CallService,
        tickets: CallTickets,
        *,
        group: str,
        node: str,
        file_recording: FileRecording | None = None,
        transcribe: Transcribe | None = None,
    ) -> None:
        self.bus = bus
        self.calls = calls
        self.tickets = tickets
        self.group = group
        self.node = node
        self.file_recording = file_recording
        self.transcribe = transcribe  # set when speech-to-text runs (transcripts.voicemail)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            subscription = self.bus.subscribe(VOICEMAIL_STEP)
            listening = handle_each(subscription, self.handle, log=log, what="voicemail tickets")
            self._task = asyncio.get_running_loop().create_task(listening, name="voicemail-tickets")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def handle(self, event: Event) -> dict[str, Any] | None:
        """The ticket this voicemail step made, or None (not ours, nothing recorded,
        no requester, no such group: logged)."""
        call = event.data.get("call") or {}
        step = (event.data.get("event") or {}).get("data") or {}
        recording = step.get("recording")
        if event.type != VOICEMAIL_STEP or call.get("node") != self.node:
            return None
        if not recording or not recording.get("name"):
            log.info("call %s: the voicemail recording failed; no ticket", call.get("id"))
            return None
        call_id = int(call["id"])
        if self.file_recording is not None:
            filed = await self.file_recording(str(recording["name"]), self.calls.clock.now())
            if filed is not None:
                await self.calls.recorded(call_id, path=filed[0], seconds=filed[1])
                await self._transcribe(call_id, filed)
        try:
            ticket = await self.tickets.from_voicemail(call_id, self.group)
        except NoRequester:
            log.info("call %s: a voicemail from a withheld number; no ticket", call_id)
            return None
        except (FieldError, CallNotFound) as exc:
            log.error("call %s: no ticket for its voicemail: %s", call_id, exc)
            return None
        log.info("call %s: voicemail ticket %s in %s", call_id, ticket["id"], self.group)
        return ticket

    async def _transcribe(self, call_id: int, filed: tuple[str, float]) -> None:
        """Before the ticket is made, so its description tells the message; a failure
        costs the transcript, never the ticket."""
        if self.transcribe is None:
            return
        try:
            await self.transcribe(call_id, *filed)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call %s: the voicemail could not be transcribed", call_id)
