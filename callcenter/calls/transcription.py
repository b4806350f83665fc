"""Live transcription of conversations: each side's audio, as it is spoken, to the pool.

For each side of a conversation on a transcribed queue (routing.yaml `transcribe: true`):

    caller's channel --Snoop(spy=in)--> [bridge stt-<id>] <-- externalMedia (slin16 RTP)
                                                                   |
                                  our UDP socket (127.0.0.1) <-----+
                                       | byte swap (RTP slin is big-endian)
                                       v
                                  pool stream .push(pcm16k) --> on_utterance --> sink

`spy=in` is what a channel *receives from its device*: on the caller's channel that is
what the caller says, on the agent's leg what the agent says. So the two sides are
transcribed apart and never mixed.

Nothing here may delay or break the call. The conversation's lane only *asks* for a
side to start or stop (`begin`, `end`, `follow`): the ARI requests, the RTP socket and
the pool stream are handled in tasks of their own, a failure is logged and counted and
ends only that side, and stopping never waits for the recognizer to flush. Receiving
RTP does no decoding: swap the bytes, push, return (the pool sheds when it is behind).

The helper channels' ids start with `TRANSCRIBE_LEG_PREFIX` (an agent-leg prefix, so the
call controller never looks at them) and they carry `helper_args` as Stasis args: they
are never taken for new calls (see pbx/channels.py on the recursion this prevents).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from callcenter.calls.conversations import Conversation, Conversations, Leg
from callcenter.clock import Clock
from callcenter.ids import unique_id
from callcenter.pbx.ari import AriClient, quietly
from callcenter.pbx.channels import TRANSCRIBE_LEG_PREFIX, event_channel_id, helper_args
from callcenter.softphone.rtp import RtpEndpoint
from callcenter.speech.engine import Utterance
from callcenter.tasks import SupervisorStopped, TaskSupervisor

log = logging.getLogger(__name__)

Speaker = Literal["caller", "agent"]
# Asterisk's signed linear at 16 kHz: over RTP it is network byte order (RFC 3551's L16).
MEDIA_FORMAT = "slin16"
SETUP_SECONDS = 5.0  # a side not flowing by then is given up (and counted)
BRIDGE_PREFIX = "stt-"
GONE_EVENTS = frozenset({"StasisEnd", "ChannelDestroyed"})


class SpeechStream(Protocol):
    """One audio stream in the pool (speech/pool.py): push never blocks, close flushes."""

    def push(self, pcm: bytes) -> None: ...

    async def close(self) -> None: ...


class SpeechPool(Protocol):
    def open(self, on_utterance: Callable[[Utterance], None]) -> SpeechStream: ...

    def stats(self) -> dict[str, Any]: ...


class TranscriptSink(Protocol):
    """Where utterances go (the transcript store). `started_at` is the UTC wall time of
    the stream's first audio: an utterance's `start` and `end` are seconds after it."""

    async def add(
        self,
        call_id: str,
        speaker: Speaker,
        agent_id: int | None,
        started_at: datetime,
        utterance: Utterance,
    ) -> None: ...


PoolProvider = Callable[[], Awaitable[SpeechPool]]


class StartablePool(SpeechPool, Protocol):
    async def start(self) -> None: ...

    async def transcribe(self, pcm16k: bytes) -> list[Utterance]: ...

    async def stop(self) -> None: ...


class LazyPool:
    """The speech pool, started once, when first needed (or at start-up by `get()`).

    Worker processes load a model each: a contact center that transcribes nothing
    should not pay for them, and a queue switched to `transcribe` at run time should
    still get them. Concurrent first callers wait for the same start."""

    def __init__(self, factory: Callable[[], StartablePool]) -> None:
        self._factory = factory
        self._pool: StartablePool | None = None
        self._starting: asyncio.Task[StartablePool] | None = None
        self._stopped = False

    @property
    def started(self) -> bool:
        return self._pool is not None

    async def get(self) -> SpeechPool:
        if self._pool is not None:
            return self._pool
        if self._stopped:
            raise RuntimeError("the speech pool is stopped")
        if self._starting is None:
            self._starting = asyncio.get_running_loop().create_task(self._start())
        return await asyncio.shield(self._starting)

    async def _start(self) -> StartablePool:
        pool = self._factory()
        try:
            await pool.start()
        except BaseException:
            self._starting = None  # the next call tries again
            raise
        self._pool = pool
        return pool

    def stats(self) -> dict[str, Any]:
        return {"started": False} if self._pool is None else {"started": True, **self._pool.stats()}

    async def transcribe(self, pcm16k: bytes) -> list[Utterance]:
        """A whole recording (a voicemail), through the pool, started if need be."""
        await self.get()
        assert self._pool is not None  # get() returns only once it is set
        return await self._pool.transcribe(pcm16k)

    async def stop(self) -> None:
        self._stopped = True
        if self._starting is not None and self._pool is None:
            with contextlib.suppress(Exception):
                await self._starting
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.stop()


def slin_to_s16le(payload: bytes) -> bytes:
    """Big-endian 16-bit samples to little-endian: a byte swap, in C, no decoding."""
    size = len(payload) & ~1
    swapped = bytearray(size)
    swapped[0::2] = payload[1:size:2]
    swapped[1::2] = payload[0:size:2]
    return bytes(swapped)


@dataclass
class Tap:
    """One side of one conversation on its way to the recognizer."""

    conversation: str  # the conversation's key (its bridge id)
    call_id: int
    speaker: Speaker
    agent_id: int | None
    target: str  # the channel spied on
    id: str = field(default_factory=unique_id)
    endpoint: RtpEndpoint | None = None
    stream: SpeechStream | None = None
    started_at: datetime | None = None  # wall time of the first audio
    closed: bool = False
    flowing: bool = False  # both helpers bridged: audio comes
    setup: asyncio.Task[None] | None = None
    ready: dict[str, asyncio.Future[None]] = field(default_factory=dict)  # helper -> in app

    @property
    def snoop(self) -> str:
        return f"{TRANSCRIBE_LEG_PREFIX}snoop-{self.id}"

    @property
    def media(self) -> str:
        return f"{TRANSCRIBE_LEG_PREFIX}media-{self.id}"

    @property
    def bridge_id(self) -> str:
        return f"{BRIDGE_PREFIX}{self.id}"


@dataclass
class Counters:
    started: int = 0  # sides asked for
    flowing: int = 0  # sides whose audio reached us
    setup_failures: int = 0
    packets: int = 0  # RTP packets received
    utterances: int = 0
    sink_failures: int = 0


class LiveTranscription:
    """Taps the two sides of conversations and feeds them to the speech pool."""

    def __init__(
        self,
        ari: AriClient,
        pool: PoolProvider,
        supervisor: TaskSupervisor,
        *,
        app: str,
        sink: TranscriptSink | None = None,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        setup_seconds: float = SETUP_SECONDS,
    ) -> None:
        self.ari = ari
        self.pool = pool
        self.app = app
        self.sink = sink  # None: utterances are only counted (no store wired)
        self.clock = clock or Clock()
        self.host = host  # where Asterisk sends the RTP: this host, as Asterisk sees it
        self.setup_seconds = setup_seconds
        self.counters = Counters()
        self._supervisor = supervisor
        self._taps: dict[str, Tap] = {}  # tap id -> tap, while not torn down
        self._helpers: dict[str, Tap] = {}  # snoop and media channel ids -> their tap

    # ---- asked by the conversation's lane: never waits, never raises -----------------

    def begin(
        self, conversation: str, call_id: int, caller: str, agent: str, agent_id: int | None
    ) -> None:
        """Start transcribing both sides of a conversation that has just connected."""
        self._open(Tap(conversation, call_id, "caller", None, caller))
        self._open(Tap(conversation, call_id, "agent", agent_id, agent))

    def follow(self, conversation: str, agent: str, agent_id: int | None) -> None:
        """The agent side now is someone else (the party left talking with the caller)."""
        caller = next((t for t in self._sides(conversation) if t.speaker == "caller"), None)
        self.end(conversation, speaker="agent")
        if caller is not None:
            self._open(Tap(conversation, caller.call_id, "agent", agent_id, agent))

    def end(self, conversation: str, *, speaker: Speaker | None = None) -> None:
        """Stop a conversation's sides (or one of them); their streams are flushed."""
        for tap in self._sides(conversation):
            if speaker is None or tap.speaker == speaker:
                self._close(tap)

    def transcribing(self, conversation: str) -> list[Tap]:
        return self._sides(conversation)

    def sides(self) -> list[Tap]:
        """Every side set up, flowing, or being flushed."""
        return list(self._taps.values())

    def on_event(self, event: dict[str, Any]) -> None:
        """Our helper channels' events: in our app (ready to bridge), or gone (the
        channel spied on hung up: its Snoop ends with it)."""
        channel = event_channel_id(event) or ""
        tap = self._helpers.get(channel)
        if tap is None:
            return
        kind = event.get("type")
        if kind == "StasisStart":
            ready = tap.ready.get(channel)
            if ready is not None and not ready.done():
                ready.set_result(None)
        elif kind in GONE_EVENTS:
            self._close(tap)

    def stats(self) -> dict[str, Any]:
        c = self.counters
        return {
            "streams_open": sum(1 for t in self._taps.values() if t.flowing and not t.closed),
            "sides_active": len(self._taps),  # closing ones too, until flushed
            "sides_started": c.started,
            "sides_flowing": c.flowing,
            "setup_failures": c.setup_failures,
            "rtp_packets": c.packets,
            "utterances": c.utterances,
            "sink_failures": c.sink_failures,
        }

    async def sweep(self) -> None:
        """After a (re)connect: helper channels and bridges no side of ours owns (left by
        a process that died) are removed; they would otherwise stream to nobody."""
        ours = {t.bridge_id for t in self._taps.values()}
        for channel in await self.ari.list_channels():
            channel_id = str(channel.get("id", ""))
            if channel_id.startswith(TRANSCRIBE_LEG_PREFIX) and channel_id not in self._helpers:
                await quietly(self.ari.hangup(channel_id))
        for bridge in await self.ari.list_bridges():
            bridge_id = str(bridge.get("id", ""))
            if bridge_id.startswith(BRIDGE_PREFIX) and bridge_id not in ours:
                await quietly(self.ari.destroy_bridge(bridge_id))

    async def close(self) -> None:
        """Shutting down: every side torn down and flushed before the pool stops."""
        taps = list(self._taps.values())
        await asyncio.gather(*(self._teardown(t) for t in taps), return_exceptions=True)

    # ---- one side's life --------------------------------------------------------------

    def _sides(self, conversation: str) -> list[Tap]:
        return [t for t in self._taps.values() if t.conversation == conversation]

    def _open(self, tap: Tap) -> None:
        self.counters.started += 1
        self._taps[tap.id] = tap
        try:
            tap.setup = self._supervisor.spawn(self._setup(tap), name=f"stt-setup:{tap.id}")
        except SupervisorStopped:
            self._taps.pop(tap.id, None)

    def _close(self, tap: Tap) -> None:
        if tap.closed:
            return
        tap.closed = True
        with contextlib.suppress(SupervisorStopped):  # shutting down: close() does it
            self._supervisor.spawn(self._teardown(tap), name=f"stt-teardown:{tap.id}")

    async def _setup(self, tap: Tap) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.setup_seconds):
                pool = await self.pool()
                if tap.closed:
                    return
                tap.stream = pool.open(lambda u: self._heard(tap, u))
                tap.endpoint = await RtpEndpoint.open(self.host, lambda p: self._audio(tap, p))
                host, port = tap.endpoint.local_address
                for helper in (tap.snoop, tap.media):
                    self._helpers[helper] = tap
                    # Registered before the request: StasisStart may beat the response.
                    tap.ready[helper] = loop.create_future()
                await self.ari.create_bridge("mixing", tap.bridge_id, name=tap.bridge_id)
                await self.ari.external_media(
                    app=self.app,
                    external_host=f"{host}:{port}",
                    format=MEDIA_FORMAT,
                    channel_id=tap.media,
                    data=helper_args("media", tap.id),
                )
                if tap.closed:
                    return
                await self.ari.snoop(
                    tap.target,
                    app=self.app,
                    app_args=helper_args("snoop", tap.id),
                    spy="in",
                    snoop_id=tap.snoop,
                )
                # A channel joins a bridge only once it is in our app.
                await asyncio.gather(*tap.ready.values())
                if tap.closed:
                    return
                await self.ari.add_to_bridge(tap.bridge_id, [tap.snoop, tap.media])
                tap.flowing = True
                self.counters.flowing += 1
        except Exception as exc:
            self.counters.setup_failures += 1
            log.warning("transcription of the %s of call %s did not start: %r",
                        tap.speaker, tap.call_id, exc)  # fmt: skip
            self._close(tap)

    def _audio(self, tap: Tap, payload: bytes) -> None:
        """One RTP packet (20 ms): swap, push, return. On the event loop, so cheap."""
        if tap.stream is None or tap.closed:
            return
        if tap.started_at is None:
            tap.started_at = self.clock.now()
        self.counters.packets += 1
        tap.stream.push(slin_to_s16le(payload))

    def _heard(self, tap: Tap, utterance: Utterance) -> None:
        self.counters.utterances += 1
        if self.sink is None or tap.started_at is None:
            return
        with contextlib.suppress(SupervisorStopped):
            self._supervisor.spawn(self._store(tap, utterance), name=f"stt-sink:{tap.id}")

    async def _store(self, tap: Tap, utterance: Utterance) -> None:
        assert self.sink is not None and tap.started_at is not None
        try:
            await self.sink.add(
                str(tap.call_id), tap.speaker, tap.agent_id, tap.started_at, utterance
            )
        except Exception as exc:
            self.counters.sink_failures += 1
            log.warning("transcript of call %s not stored: %r", tap.call_id, exc)

    async def _teardown(self, tap: Tap) -> None:
        """Everything the side made is undone, whatever state its setup reached."""
        tap.closed = True
        for ready in tap.ready.values():
            ready.cancel()  # a setup waiting for its helpers stops waiting
        if tap.setup is not None and tap.setup is not asyncio.current_task():
            # It checks `closed` between steps and gives up within setup_seconds.
            await asyncio.wait({tap.setup})
        if tap.ready:  # it got as far as asking Asterisk for them
            await quietly(self.ari.hangup(tap.snoop))
            await quietly(self.ari.hangup(tap.media))
            await quietly(self.ari.destroy_bridge(tap.bridge_id))
        if tap.endpoint is not None:
            tap.endpoint.close()
        self._helpers.pop(tap.snoop, None)
        self._helpers.pop(tap.media, None)
        if tap.stream is not None:
            stream, tap.stream = tap.stream, None
            try:
                await stream.close()  # the last words are delivered before it returns
            except Exception as exc:
                log.warning("transcription stream of call %s did not close: %r",
                            tap.call_id, exc)  # fmt: skip
        self._taps.pop(tap.id, None)


class Transcribing(Conversations):
    """The conversation's side of it (in the AgentLegs chain): when a conversation on a
    transcribed queue connects, when its agent leaves and when it closes, tell
    `transcription`, which does the work in tasks of its own.

    A mixin only for the hooks (they are Conversations' own steps); the work is a
    collaborator, so the conversation's lane never awaits an ARI request or a flush
    for it, and its state (sockets, streams, helper channels) lives apart."""

    transcription: LiveTranscription | None = None  # wired in services.py

    def on_event(self, event: dict[str, Any]) -> None:
        channel = event_channel_id(event) or ""
        if channel.startswith(TRANSCRIBE_LEG_PREFIX):
            if self.transcription is not None:
                self.transcription.on_event(event)
            return
        super().on_event(event)

    def _transcribed(self, talk: Conversation) -> bool:
        if self.transcription is None or talk.own_call:
            return False
        try:
            return self.routing.router.queue(talk.task.queue).transcribe
        except KeyError:  # the queue was removed meanwhile
            return False

    async def _answered(self, leg: Leg) -> None:
        await super()._answered(leg)
        talk = self._talks.get(leg.id)
        if talk is not None and not talk.ended and self._transcribed(talk):
            assert self.transcription is not None
            self.transcription.begin(
                talk.bridge_id, talk.call_id, talk.caller, talk.agent, talk.agent_id
            )

    async def _agent_leaves(self, talk: Conversation, by: str) -> None:
        await super()._agent_leaves(talk, by)
        if self.transcription is None or not self.transcription.transcribing(talk.bridge_id):
            return
        if not talk.ended and talk.guests:
            # An attended transfer or a take-over: whoever now talks with the caller is
            # the other side (no agent id: a colleague's extension or a supervisor).
            self.transcription.follow(talk.bridge_id, sorted(talk.guests)[0], None)
        else:
            self.transcription.end(talk.bridge_id, speaker="agent")

    async def _close(self, talk: Conversation, *, keep_caller: bool = False) -> None:
        if self.transcription is not None:
            self.transcription.end(talk.bridge_id)
        await super()._close(talk, keep_caller=keep_caller)
