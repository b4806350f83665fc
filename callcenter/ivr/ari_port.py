"""The CallPort of a real call: the flow's requests as ARI operations on its channel.

The controller feeds this port every ARI event of the channel (`feed`), in order; the
flow task waits on them here. Digits that arrive while nothing is reading them are kept
(type-ahead), as callers who know the menu press before it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from callcenter.ids import unique_id
from callcenter.ivr import model as m
from callcenter.ivr.engine import CallEnded, QueueRequest, QueueResult
from callcenter.ivr.speech import RecordingRecognizer
from callcenter.pbx.ari import AriClient, AriNotFound, quietly
from callcenter.routing.model import Overflowed, Task, call_task_id
from callcenter.routing.rules import region_for_number
from callcenter.routing.service import Connected, Outcome, RoutingService

log = logging.getLogger(__name__)

MediaResolver = Callable[[m.Prompt, str, Mapping[str, str]], Awaitable[str]]
# (queue, seconds waited, abandoned, place in line when abandoned): for the call record.
QueueReport = Callable[[str, float, bool, int | None], Awaitable[None]]
LastAgent = Callable[[int | None], Awaitable[int | None]]  # customer -> their last agent
# A caller has finished speaking after this much silence (Asterisk's TALK_DETECT); a
# sound shorter than LISTEN_MIN_SPEECH_MS (a click, a breath) is not speech.
LISTEN_PAUSE_MS = 1200
LISTEN_MIN_SPEECH_MS = 250
ENDING_EVENTS = frozenset({"StasisEnd", "ChannelDestroyed", "ChannelHangupRequest"})
QUEUE_OUTCOME = "QueueOutcome"  # our own event: routing decided how the wait ends
FIRST_ANNOUNCEMENT_SECONDS = 5.0  # a caller offered at once hears no announcement
POSITION_TEXT = {
    "en": "You are number {position} in line. The expected wait is about {minutes} minutes.",
    "zh": "您前面还有{ahead}位客户在等待，预计等待时间约{minutes}分钟。",
}


@dataclass(frozen=True)
class Handover:
    """A call an agent transferred into a queue: never back to them, maybe to a colleague."""

    from_agent: int
    to_agent: int | None = None
    ivr_path: tuple[str, ...] = ()  # where the caller went in the IVR before the agent


class AriCallPort:
    """One call's flow-facing side. `media` turns a Prompt into an ARI media URI."""

    def __init__(
        self,
        ari: AriClient,
        channel_id: str,
        media: MediaResolver,
        speech: RecordingRecognizer | None = None,
        *,
        call_id: int = 0,
        routing: RoutingService | None = None,
        on_queue_left: QueueReport | None = None,
        last_agent: LastAgent | None = None,
    ) -> None:
        self.ari = ari
        self.channel_id = channel_id
        self.media = media
        self.speech = speech
        self.call_id = call_id
        self.routing = routing
        self.on_queue_left = on_queue_left
        self.last_agent = last_agent
        self.ended = False
        self.hung_up = False  # by the flow: the call record says the system ended it
        self.transferred = False
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._digits: deque[str] = deque()
        self.last_prompt_started: float | None = None  # monotonic; for the benchmark
        self.handover: Handover | None = None  # set when an agent transferred the call here

    def feed(self, event: dict[str, Any]) -> None:
        """Called by the controller for each event of this channel, in arrival order."""
        kind = event.get("type")
        if kind == "ChannelDtmfReceived":
            self._digits.append(str(event.get("digit", "")))
        elif kind in ENDING_EVENTS:
            self.ended = True
        self._events.put_nowait(event)

    async def _next_event(self, timeout: float | None) -> dict[str, Any] | None:  # noqa: ASYNC109
        if self.ended and self._events.empty():
            raise CallEnded
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for makes a task per wait.
            async with asyncio.timeout(timeout):
                event = await self._events.get()
        except TimeoutError:
            return None
        if event.get("type") in ENDING_EVENTS:
            raise CallEnded
        return event

    async def _ari(self, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except AriNotFound:
            raise CallEnded from None

    # ---- CallPort ----------------------------------------------------------------

    async def play(
        self,
        prompts: list[m.Prompt],
        language: str,
        variables: Mapping[str, str],
        *,
        interrupt: str,
    ) -> str:
        if interrupt and self._digits and self._digits[0] in interrupt:
            return self._digits.popleft()  # typed ahead: skip the prompt
        media = [await self.media(p, language, variables) for p in prompts]
        playback_id = f"ivr-{unique_id()}"
        self.last_prompt_started = time.monotonic()
        await self._ari(self.ari.play(self.channel_id, media, playback_id=playback_id))
        while True:
            event = await self._next_event(None)
            assert event is not None
            kind = event.get("type")
            if kind == "PlaybackFinished" and event.get("playback", {}).get("id") == playback_id:
                return ""
            barged = kind == "ChannelDtmfReceived" and interrupt and self._digits
            if barged and self._digits[0] in interrupt:
                # Not waited for: the next prompt's request follows it out at once.
                await self.ari.stop_playback(playback_id, wait=False)
                return self._digits.popleft()

    async def read_digits(
        self, *, first_timeout: float, inter_digit_timeout: float, max_digits: int, terminator: str
    ) -> str:
        digits = ""
        timeout = first_timeout
        while len(digits) < max_digits:
            if not self._digits:
                deadline = time.monotonic() + timeout
                while not self._digits:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or await self._next_event(remaining) is None:
                        break
                if not self._digits:
                    break
            key = self._digits.popleft()
            if terminator and key == terminator:
                break
            digits += key
            timeout = inter_digit_timeout
        return digits

    async def listen(self, phrases: list[str], language: str, seconds: float) -> str | None:
        """Record what the caller says (until they pause, press a key or `seconds` pass).

        The recording ends on the pause after speech, not on silence alone: a caller who
        takes a breath before answering, or whose audio is a moment late, is still heard.
        A key pressed meanwhile ends the recording and stays buffered for the keypad
        fallback; a language without a model goes straight to that fallback.
        """
        if self.speech is None or not self.speech.supports(language):
            return None
        name = f"listen-{self.channel_id}-{secrets.token_hex(4)}"
        await self._ari(
            self.ari.set_variable(self.channel_id, "TALK_DETECT(set)", str(LISTEN_PAUSE_MS))
        )
        try:
            await self._start_recording(name, seconds, 0, False, "any")
            finished = await self._recording_done(name, stop_after_speech=True)
        finally:
            if not self.ended:
                await quietly(self.ari.set_variable(self.channel_id, "TALK_DETECT(remove)", ""))
        if finished is None or self._digits:
            return None  # it failed, or the caller chose by keypad
        return await self.speech.recognize(name, phrases)

    async def record(
        self, *, max_seconds: float, silence_seconds: float, beep: bool
    ) -> dict[str, Any] | None:
        name = f"voicemail-{self.channel_id}-{secrets.token_hex(4)}"
        await self._start_recording(name, max_seconds, silence_seconds, beep, "#")
        try:
            recording = await self._recording_done(name)
        except CallEnded:
            # Hanging up is how most messages end: the recording is stored regardless.
            return {"name": name, "ended_by": "caller"}
        return _recording_summary(recording) if recording is not None else None

    async def _start_recording(
        self, name: str, seconds: float, silence: float, beep: bool, terminate_on: str
    ) -> None:
        params = {
            "name": name,
            "format": "wav",
            "maxDurationSeconds": max(1, round(seconds)),
            "maxSilenceSeconds": round(silence),
            "beep": beep,
            "terminateOn": terminate_on,
            "ifExists": "overwrite",
        }
        await self._ari(
            self.ari.request("POST", f"channels/{self.channel_id}/record", params=params)
        )

    async def _recording_done(
        self, name: str, *, stop_after_speech: bool = False
    ) -> Mapping[str, Any] | None:
        """The finished recording's description, or None if Asterisk reports a failure."""
        while True:
            event = await self._next_event(None)
            assert event is not None
            kind = event.get("type")
            if kind == "ChannelTalkingFinished" and stop_after_speech:
                if int(event.get("duration", 0)) >= LISTEN_MIN_SPEECH_MS:
                    await quietly(self.ari.request("POST", f"recordings/live/{name}/stop"))
                continue
            recording = event.get("recording", {})
            if recording.get("name") != name:
                continue
            if kind == "RecordingFinished":
                return recording
            if kind == "RecordingFailed":
                return None

    async def hold(self, seconds: float) -> None:
        await self._ari(self.ari.start_moh(self.channel_id))
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            await self._next_event(remaining)
        with contextlib.suppress(AriNotFound):
            await self.ari.stop_moh(self.channel_id)

    async def queue(self, request: QueueRequest) -> QueueResult:
        """Hand the call to routing and keep the caller company until it is decided.

        The caller hears the queue's music, and every `announce_every` seconds their
        place in line and the expected wait. Whoever answers joins the caller in a bridge
        (agent_legs.py); this wait only learns the outcome. A caller who hangs up, or
        outwaits the flow's `max_wait`, leaves the queue here.
        """
        if self.routing is None:  # no routing (tests of flows alone): music, then on
            await self.hold(request.max_wait)
            return QueueResult("timeout", request.queue)
        task = _task(self.call_id, self.channel_id, request)
        if self.handover is not None:
            task.declined_by.add(self.handover.from_agent)
            task.direct_agent_id = self.handover.to_agent
            task.data["ivr_path"] = list(self.handover.ivr_path)
        elif self.last_agent is not None:
            task.last_agent_id = await self.last_agent(request.customer_id)
        try:
            outcome = await self.routing.submit(task, _attributes(request))
        except KeyError:
            log.error("queue %r is not in the routing file; the flow goes on", request.queue)
            return QueueResult("timeout", request.queue)
        outcome.add_done_callback(lambda _: self._events.put_nowait({"type": QUEUE_OUTCOME}))
        started = time.monotonic()
        queue, position = request.queue, None
        try:
            result = await self._wait_in_queue(task, outcome, request)
            queue = result.queue
            return result
        except CallEnded:
            if not outcome.done():  # hung up while waiting: where in line, for reports
                queue, position = self._place_of(task.id)
            raise
        finally:
            if not outcome.done():  # the caller left, or the flow's own limit came
                await self.routing.cancel(task.id, abandoned=position is not None)
            if self.on_queue_left is not None:
                waited = time.monotonic() - started
                await self.on_queue_left(queue, waited, position is not None, position)

    def _place_of(self, task_id: str) -> tuple[str, int]:
        assert self.routing is not None
        task = self.routing.router.task(task_id)
        return task.queue, self.routing.position(task_id)

    async def _wait_in_queue(
        self, task: Task, outcome: asyncio.Future[Outcome], request: QueueRequest
    ) -> QueueResult:
        assert self.routing is not None
        if outcome.done():  # a full queue overflows on arrival
            return _left(outcome.result())
        spec = self.routing.router.queue(self.routing.router.task(task.id).queue)
        moh_class = None if spec.music_on_hold == "default" else spec.music_on_hold
        await self._ari(self.ari.start_moh(self.channel_id, moh_class))
        now = time.monotonic()
        deadline = now + request.max_wait
        every = spec.announce_every
        next_announcement = now + min(FIRST_ANNOUNCEMENT_SECONDS, every) if every > 0 else deadline
        announcing: str | None = None
        while not outcome.done():
            until = deadline if announcing else min(deadline, next_announcement)
            event = await self._next_event(max(0.0, until - time.monotonic()))
            if event is None and time.monotonic() >= deadline:
                queue = self.routing.router.task(task.id).queue
                await quietly(self.ari.stop_moh(self.channel_id))
                return QueueResult("timeout", queue)
            if event is None:
                next_announcement += every
                announcing = await self._announce(task.id, request.language, moh_class)
            elif event.get("type") == "PlaybackFinished" and _playback_id(event) == announcing:
                announcing = None
                await self._ari(self.ari.start_moh(self.channel_id, moh_class))
        if announcing:  # an agent took the call mid-sentence
            await self.ari.stop_playback(announcing, wait=False)
        result = outcome.result()
        if isinstance(result, Overflowed):
            await quietly(self.ari.stop_moh(self.channel_id))
        return _left(result)

    async def _announce(self, task_id: str, language: str, moh_class: str | None) -> str | None:
        """Place in line and expected wait, over a pause in the music; None if not waiting."""
        assert self.routing is not None
        position = self.routing.position(task_id)
        if position == 0:
            return None  # ringing an agent right now
        minutes = max(1, round(self.routing.estimated_wait(task_id) / 60))
        text = POSITION_TEXT.get(language, POSITION_TEXT["en"]).format(
            position=position, ahead=position - 1, minutes=minutes
        )
        media = await self.media(m.Prompt(say=text), language, {})
        playback_id = f"announce-{unique_id()}"
        await quietly(self.ari.stop_moh(self.channel_id))
        await self._ari(self.ari.play(self.channel_id, media, playback_id=playback_id))
        return playback_id

    async def transfer(self, kind: str, target: str) -> bool:
        context = "callcenter-transfer" if kind == "extension" else "callcenter-transfer-external"
        self.transferred = True  # before: the StasisEnd it causes may be handled first
        try:
            await self.ari.continue_in_dialplan(self.channel_id, context, target, 1)
        except AriNotFound:
            raise CallEnded from None
        return True

    async def hangup(self) -> None:
        self.hung_up = True
        with contextlib.suppress(AriNotFound):
            await self.ari.hangup(self.channel_id)


def _recording_summary(recording: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": recording.get("name"),
        "duration": recording.get("duration"),
        "state": recording.get("state"),
        "cause": recording.get("cause"),
    }


def _task(call_id: int, channel_id: str, request: QueueRequest) -> Task:
    return Task(
        id=call_task_id(call_id),
        queue=request.queue,
        channel="voice",
        skills={skill: 1 for skill in request.skills},
        priority=request.priority,
        vip=request.customer_class == "vip",
        customer_id=request.customer_id,
        data={
            "call_id": call_id,
            "channel_id": channel_id,
            "caller_number": request.caller_number,
            "language": request.language,
            "variables": dict(request.variables),
            "ivr_path": list(request.path),
        },
    )


def _left(outcome: Outcome) -> QueueResult:
    if isinstance(outcome, Connected):
        return QueueResult("connected", outcome.task.queue, outcome.agent_id)
    return QueueResult(str(outcome.overflow.kind), outcome.queue)


def _attributes(request: QueueRequest) -> dict[str, str]:
    """The facts routing rules match on (see docs/routing.md)."""
    return {
        "channel": "voice",
        "number": request.caller_number,
        "region": region_for_number(request.caller_number),
        "tier": request.customer_class,
        "language": request.language,
    }


def _playback_id(event: Mapping[str, Any]) -> str:
    return str(event.get("playback", {}).get("id", ""))
