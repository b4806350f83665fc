"""Live transcription over real calls: the carrier simulator's caller and an agent's desk
phone (baresip) speak, each side is snooped, sent to us as slin16 RTP and transcribed
apart by the real speech pool.

The server runs in this process (uvicorn on a free port), so the test can be the
transcript store: a sink that collects what the pipeline hands over (the boundary
another module owns). Speech: espeak-ng sentences, and a real human recording from
Debian's pocketsphinx-testdata with its known transcript. Recognition is judged by word
error rate bounds measured on this path (with margin), never by exact strings.
"""

from __future__ import annotations

import asyncio
import json
import time
import wave
from array import array
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets

from callcenter.agents.state import AgentState
from callcenter.api.app import create_app
from callcenter.calls.targets import Target
from callcenter.calls.transcription import LazyPool, LiveTranscription, Speaker
from callcenter.pbx.carrier import CallReport, place_call
from callcenter.pbx.channels import TRANSCRIBE_LEG_PREFIX
from callcenter.pbx.render import DeskPhone
from callcenter.services import Services
from callcenter.speech.engine import Utterance
from callcenter.speech.pool import TranscriptionPool
from callcenter.speech.wer import wer
from tests.integration.sip import Baresip, make_wav
from tests.support.app import PASSWORD, seed_users
from tests.support.controller import free_port
from tests.support.waiting import eventually

pytestmark = pytest.mark.asterisk

TESTDATA = Path("/usr/share/pocketsphinx/test/data/librivox")
HUMAN = {  # the caller's recordings and their transcripts (testdata's `transcription`)
    "sense_and_sensibility_01_austen_64kb-0880": "he was not an ill disposed young man",
    "sense_and_sensibility_01_austen_64kb-0930": "he might even have been made amiable himself",
}
AGENT_HUMAN = {  # the agent's
    "sense_and_sensibility_01_austen_64kb-0890": (
        "unless to be rather cold hearted and rather selfish is to be ill disposed"
    ),
}
CALLER_SAYS = "i would like to talk to somebody about my telephone bill please"
AGENT_SAYS = "good morning my name is amy how may i help you"
# Measured on this path (pocketsphinx free-form over the call's 8 kHz G.711 line, 4 runs):
# the caller's side 0.57-0.64, the agent's 0.56-0.72 (its audio goes through baresip
# too). espeak speech is the weak part (FIELD-NOTES); the human recordings do better.
CALLER_WER = 0.8
AGENT_WER = 0.9
CALLER_TEXT = " ".join([CALLER_SAYS, *HUMAN.values()])
AGENT_TEXT = " ".join([AGENT_SAYS, *AGENT_HUMAN.values()])
CALLER_LEAD = 4.0  # seconds of silence first: the IVR, the queue and the ring come first
AGENT_LEAD = 1.0

ROUTING = """
queues:
  live:
    skills: {support: 1}
    ring_timeout: 10
    wrap_up: 0
    announce_every: 0
    record: false
    transcribe: true
  plain:
    skills: {support: 1}
    ring_timeout: 10
    wrap_up: 0
    announce_every: 0
    record: false
"""
FLOWS = {"live": "410", "plain": "411"}


def _flow(queue: str, number: str) -> str:
    return (
        f'{{"name": "{queue}", "numbers": ["{number}"], "start": "wait", "nodes": {{'
        f'"wait": {{"type": "queue", "queue": "{queue}", "max_wait": 60, "on_timeout": "bye"}},'
        f'"bye": {{"type": "hangup"}}}}}}'
    )


@dataclass
class Heard:
    call_id: str
    speaker: Speaker
    agent_id: int | None
    started_at: datetime
    utterance: Utterance


@dataclass
class ListSink:
    """The transcript store's place in the pipeline: it keeps what it is given."""

    heard: list[Heard] = field(default_factory=list)

    async def add(
        self,
        call_id: str,
        speaker: Speaker,
        agent_id: int | None,
        started_at: datetime,
        utterance: Utterance,
    ) -> None:
        self.heard.append(Heard(call_id, speaker, agent_id, started_at, utterance))

    def of(self, call_id: int, speaker: Speaker) -> list[Heard]:
        return [h for h in self.heard if h.call_id == str(call_id) and h.speaker == speaker]


async def _sox(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec("sox", *args, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()


async def _espeak(path: Path, text: str, voice: str) -> Path:
    """espeak-ng speech as FIELD-NOTES say: its WAV, resampled to 16 kHz mono."""
    raw = path.with_suffix(".raw.wav")
    proc = await asyncio.create_subprocess_exec(
        "espeak-ng", "-v", voice, "-s", "130", "-w", str(raw), text
    )
    assert await asyncio.wait_for(proc.wait(), 60) == 0
    await _sox(str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path))
    return path


async def _speech(path: Path, parts: list[Path], *, lead: float, tail: float) -> Path:
    """`parts` in a row with short pauses, after `lead` and before `tail` seconds of
    silence, as 8 kHz mono (what a phone line carries)."""
    gap = path.with_name(f"{path.stem}-gap.wav")
    await _sox("-n", "-r", "16000", "-c", "1", "-b", "16", str(gap), "trim", "0", "0.8")
    pieces = [str(p) for part in parts for p in (part, gap)]
    joined = path.with_name(f"{path.stem}-joined.wav")
    await _sox(*pieces, str(joined))
    await _sox(str(joined), "-r", "8000", "-c", "1", "-b", "16", str(path),
               "pad", f"{lead:g}", f"{tail:g}")  # fmt: skip
    return path


@dataclass
class Floor:
    app: Any
    services: Services
    sink: ListSink
    ids: dict[str, int]
    phones: dict[str, Baresip]
    api: httpx.AsyncClient  # the supervisor's
    caller_wav: Path

    @property
    def live(self) -> LiveTranscription:
        assert self.services.telephony and self.services.telephony.transcription
        return self.services.telephony.transcription

    async def available(self, name: str) -> None:
        await self.services.agents.choose_state(self.ids[name], AgentState.AVAILABLE)

    async def offline(self) -> None:
        for user_id in self.ids.values():
            if self.services.agents.presence(user_id).state != AgentState.OFFLINE:
                await self.services.agents.choose_state(user_id, AgentState.OFFLINE)

    async def ended(self, report: CallReport, within: float = 20) -> Any:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            call = await self.services.calls.by_channel(report.inbound_channel_id)
            if call is not None and call.state == "ended" and call.disposition:
                return call
            await asyncio.sleep(0.2)
        raise AssertionError(f"call {report.inbound_channel_id} did not end")

    async def helpers_left(self) -> list[str]:
        """Our helper channels and bridges still in Asterisk (ARI /channels, /bridges)."""
        assert self.services.telephony is not None
        ari = self.services.telephony.ari
        channels = [
            c["id"] for c in await ari.list_channels()
            if c["id"].startswith(TRANSCRIBE_LEG_PREFIX)
            or c.get("name", "").startswith(("Snoop/", "UnicastRTP/"))
        ]  # fmt: skip
        bridges = [b["id"] for b in await ari.list_bridges() if b["id"].startswith("stt-")]
        return channels + bridges


@pytest.fixture(scope="module")
async def floor(asterisk, desk_phones: list[DeskPhone], tmp_path_factory) -> AsyncIterator[Floor]:
    work = tmp_path_factory.mktemp("live-transcription")
    flows = work / "flows"
    flows.mkdir()
    for queue, number in FLOWS.items():
        (flows / f"{queue}.yaml").write_text(_flow(queue, number))
    (work / "routing.yaml").write_text(ROUTING)
    settings = asterisk.settings.model_copy(
        update={
            "http_port": free_port(),
            # Its own database: the session's Asterisk data dir is shared with other
            # modules, whose users (amy, bob …) would clash with this floor's.
            "database_url": f"sqlite:///{work / 'callcenter.db'}",
            "flows_dir": flows,
            "routing_file": work / "routing.yaml",
            "speech_engine": "pocketsphinx",
            "speech_workers": 1,
            # Recognition is judged here, not shedding: the worker may lag, not drop.
            "speech_max_backlog_seconds": 60.0,
        }
    )
    human = [TESTDATA / f"{name}.wav" for name in HUMAN]
    caller_wav = await _speech(
        work / "caller.wav",
        [await _espeak(work / "caller-espeak.wav", CALLER_SAYS, "en-us"), *human],
        lead=CALLER_LEAD, tail=0.5,
    )  # fmt: skip
    agent_wav = await _speech(
        work / "agent.wav",
        [await _espeak(work / "agent-espeak.wav", AGENT_SAYS, "en-us"),
         *(TESTDATA / f"{name}.wav" for name in AGENT_HUMAN)],
        lead=AGENT_LEAD, tail=120,  # baresip hangs up when its audio ends
    )  # fmt: skip
    app = create_app(settings, with_pbx=True)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=settings.http_port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    phones: dict[str, Baresip] = {}
    try:
        await eventually(lambda: server.started, within=30)
        services: Services = app.state.services
        sink = ListSink()
        assert services.telephony and services.telephony.transcription
        services.telephony.transcription.sink = sink
        names = ["amy", "bob", "cat"]
        ids = await seed_users(services, [*((n, "agent") for n in names), ("sue", "supervisor")])
        for name, desk in zip(names, desk_phones, strict=True):
            phone = Baresip(
                work / name, user=desk.extension, password=desk.password,
                registrar=f"127.0.0.1:{settings.sip_port}", audio=agent_wav,
            )  # fmt: skip
            phones[name] = phone
            await phone.start()
            await _registered(asterisk, desk.extension)
            await services.agents.set_profile(
                ids[name], extension=desk.extension, skills={"support": 1}, teams=[],
                voice_capacity=1, chat_capacity=0,
            )  # fmt: skip
        async with httpx.AsyncClient(base_url=settings.http_url, timeout=10) as api:
            r = await api.post("/api/auth/login", json={"username": "sue", "password": PASSWORD})
            r.raise_for_status()
            api.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            yield Floor(app, services, sink, ids, phones, api, caller_wav)
    finally:
        for phone in phones.values():
            await phone.stop()
        server.should_exit = True
        await asyncio.wait_for(serving, 60)


async def _registered(pbx: Any, extension: str) -> None:
    for _ in range(50):
        if f"{extension}/sip:" in await asyncio.to_thread(pbx.cli, "pjsip show contacts"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"desk phone {extension} did not register")


@pytest.fixture
async def ready(floor: Floor) -> AsyncIterator[Floor]:
    """Every test starts and ends with everybody logged out."""
    await floor.offline()
    yield floor
    await floor.offline()


async def _answered_call(floor: Floor, name: str, number: str, **call: Any) -> CallReport:
    """A caller through `number`'s queue to `name`'s desk phone, answered, talked, hung up
    by the caller at the end of its audio."""
    phone = floor.phones[name]
    mark = phone.mark()
    task = asyncio.create_task(
        place_call(floor.services.settings, number, audio=floor.caller_wav, **call)
    )
    await phone.answer(within=20, since=mark)
    return await task


async def test_each_side_of_a_call_is_transcribed_apart(ready: Floor) -> None:
    floor = ready
    await floor.available("amy")
    report = await _answered_call(floor, "amy", "410", hold=1.0)
    assert report.answered and report.hung_up_by == "caller", report
    call = await floor.ended(report)
    assert call.agent_id == floor.ids["amy"] and call.disposition == "completed"
    # Both sides torn down and flushed (the flush waits for the worker to catch up).
    await eventually(lambda: floor.live.stats()["sides_active"] == 0, within=60)
    assert await floor.helpers_left() == []
    for speaker, expected, other, agent_id, bound in (
        ("caller", CALLER_TEXT, AGENT_TEXT, None, CALLER_WER),
        ("agent", AGENT_TEXT, CALLER_TEXT, floor.ids["amy"], AGENT_WER),
    ):
        heard = floor.sink.of(call.id, speaker)  # type: ignore[arg-type]
        assert heard, speaker
        assert {h.agent_id for h in heard} == {agent_id}
        assert len({h.started_at for h in heard}) == 1  # one stream per side
        starts = [h.utterance.start for h in heard]
        assert starts == sorted(starts) and all(h.utterance.start <= h.utterance.end for h in heard)
        assert call.answered_at is not None and heard[0].started_at >= call.answered_at
        text = " ".join(h.utterance.text for h in heard)
        error = wer(expected, text)
        print(f"{speaker}: WER {error:.2f} (other side's {wer(other, text):.2f}): {text!r}")
        assert error < bound, (speaker, error, text)
        assert wer(other, text) > error + 0.05, (speaker, text)  # the sides are not mixed
    stats = (await floor.api.get("/api/speech/stats")).json()
    assert stats["started"] and stats["live"]["setup_failures"] == 0
    assert stats["live"]["sides_flowing"] >= 2 and stats["live"]["rtp_packets"] > 500


@dataclass
class RecordedStream:
    pcm: bytearray = field(default_factory=bytearray)
    closed: bool = False

    def push(self, pcm: bytes) -> None:
        self.pcm += pcm

    async def close(self) -> None:
        self.closed = True


@dataclass
class RecordingPool:
    """The pool's place, for the RTP half alone: it keeps the audio it is given."""

    streams: list[RecordedStream] = field(default_factory=list)

    def open(self, on_utterance: Any) -> RecordedStream:
        self.streams.append(RecordedStream())
        return self.streams[-1]

    def stats(self) -> dict[str, Any]:
        return {}


def _rms(pcm: bytes) -> float:
    samples = array("h", pcm)
    return (sum(s * s for s in samples) / max(1, len(samples))) ** 0.5


async def test_the_audio_of_each_side_arrives_as_16_khz_pcm(ready: Floor, tmp_path: Path) -> None:
    """The ARI and RTP half alone: both sides' audio comes, as long as the talk, loud
    where the speaker speaks (little-endian after the swap: big-endian read as little
    would be noise at full scale throughout, silence included)."""
    floor = ready
    recording = RecordingPool()

    async def provider() -> RecordingPool:
        return recording

    real, floor.live.pool = floor.live.pool, provider
    try:
        await floor.available("bob")
        report = await _answered_call(floor, "bob", "410", hold=1.0)
        call = await floor.ended(report)
        await eventually(lambda: floor.live.stats()["sides_active"] == 0, within=10)
    finally:
        floor.live.pool = real
    assert call.disposition == "completed"
    assert len(recording.streams) == 2 and all(s.closed for s in recording.streams)
    caller, agent = recording.streams
    for stream in (caller, agent):  # 50 packets a second, from the connect to the end
        seconds = len(stream.pcm) / 32000
        assert abs(seconds - call.talk_seconds) < 1.5, (seconds, call.talk_seconds)
        with wave.open(str(tmp_path / f"side-{id(stream)}.wav"), "wb") as out:
            out.setnchannels(1), out.setsampwidth(2), out.setframerate(16000)
            out.writeframes(bytes(stream.pcm))
    # Each side is silent first (the caller's silence outlasts the queue), then speaks.
    second = 32000
    assert _rms(agent.pcm[: second // 2]) < 300 < _rms(agent.pcm[int(1.5 * second) : 3 * second])
    assert _rms(caller.pcm[: 2 * second]) < 300 < _rms(caller.pcm[5 * second : 8 * second])
    assert floor.live.stats()["setup_failures"] == 0


async def test_a_queue_without_transcribe_gets_no_snoops(ready: Floor, tmp_path: Path) -> None:
    floor = ready
    before = floor.live.stats()["sides_started"]
    await floor.available("amy")
    phone = floor.phones["amy"]
    mark = phone.mark()
    tone = await make_wav(tmp_path / "caller.wav", 5, 1000, tone_seconds=5)
    call = asyncio.create_task(place_call(floor.services.settings, "411", audio=tone, hold=1))
    await phone.answer(within=20, since=mark)
    await asyncio.sleep(1.5)  # talking now: a side would be set up by now
    assert await floor.helpers_left() == []
    report = await call
    record = await floor.ended(report)
    assert record.queue == "plain" and record.disposition == "completed"
    assert floor.live.stats()["sides_started"] == before


async def test_overload_sheds_audio_and_every_call_completes(ready: Floor) -> None:
    """More sides than one worker decodes in real time, with little backlog allowed:
    audio is shed and counted, the calls go on as if nothing happened."""
    floor = ready
    settings = floor.services.settings
    small = LazyPool(lambda: TranscriptionPool(settings, workers=1, max_backlog_seconds=0.2))
    await small.get()
    real = floor.live.pool, floor.services.speech_pool
    floor.live.pool, floor.services.speech_pool = small.get, small
    names = list(floor.phones)
    try:
        for name in names:
            await floor.available(name)
        reports = await asyncio.gather(
            *(_answered_call(floor, name, "410", hold=1.0) for name in names)
        )
        records = [await floor.ended(report) for report in reports]
        await eventually(lambda: floor.live.stats()["sides_active"] == 0, within=60)
        stats = (await floor.api.get("/api/speech/stats")).json()
    finally:
        floor.live.pool, floor.services.speech_pool = real
        await small.stop()
    print("overload:", {k: v for k, v in stats.items() if "shed" in k or k == "live"})
    for report, record in zip(reports, records, strict=True):
        assert report.answered and report.hung_up_by == "caller", report
        assert record.disposition == "completed" and record.ended_by == "caller"
        assert record.talk_seconds and record.talk_seconds > 10
    assert {r.agent_id for r in records} == {floor.ids[n] for n in names}
    assert stats["workers"] == 1 and stats["shed_seconds_total"] > 0, stats
    assert stats["shed_chunks_total"] > 0 and stats["streams_open"] == 0, stats
    assert stats["live"]["setup_failures"] == 0, stats
    assert await floor.helpers_left() == []


async def test_on_transfer_the_agent_side_follows_the_new_agent(ready: Floor) -> None:
    floor = ready
    amy, bob = floor.ids["amy"], floor.ids["bob"]
    await floor.available("amy")
    amy_mark, bob_mark = floor.phones["amy"].mark(), floor.phones["bob"].mark()
    settings = floor.services.settings
    task = asyncio.create_task(place_call(settings, "410", audio=floor.caller_wav, hold=1.0))
    await floor.phones["amy"].answer(within=20, since=amy_mark)
    await asyncio.sleep(4)  # amy says her first sentence
    await floor.available("bob")
    assert floor.services.telephony is not None
    await floor.services.telephony.legs.transfer(amy, Target("agent", str(bob)))
    await floor.phones["bob"].answer(within=20, since=bob_mark)
    await eventually(
        lambda: (
            sorted((t.speaker, t.agent_id) for t in floor.live.sides())
            == [("agent", bob), ("caller", None)]
        ),
        within=10,
    )
    report = await task
    call = await floor.ended(report)
    assert call.agent_id == bob and call.transfers == 1 and call.disposition == "completed"
    await eventually(lambda: floor.live.stats()["sides_active"] == 0, within=60)
    assert await floor.helpers_left() == []
    agents = {h.agent_id for h in floor.sink.of(call.id, "agent")}
    assert agents == {amy, bob}, agents  # each agent's words, under their own id
    assert {h.agent_id for h in floor.sink.of(call.id, "caller")} == {None}


async def _supervisor_events(floor: Floor, into: list[tuple[float, dict[str, Any]]]) -> None:
    """The supervisor's /ws/events, each message with the wall time it arrived."""
    token = floor.api.headers["Authorization"].removeprefix("Bearer ")
    url = str(floor.api.base_url).replace("http", "ws", 1).rstrip("/")
    async with websockets.connect(f"{url}/ws/events?token={token}") as ws:
        async for raw in ws:
            into.append((time.time(), json.loads(raw)))


async def test_a_sensitive_phrase_spoken_in_a_call_alerts_the_supervisor(
    ready: Floor, tmp_path: Path
) -> None:
    """The whole chain, as wired in Services: the caller says a listed phrase, the real
    store keeps the segment, the checker raises an alert, and the supervisor's websocket
    gets the highlighted segment and the alert. How soon after the words is printed
    (bench/speech.py measures it); the test bounds it loosely."""
    floor, services = ready, ready.services
    assert services.sensitive is not None and services.transcripts is not None
    await services.sensitive.words.create("lawyer", "en", "critical", True, None)
    # "I will talk to my lawyer": free-form pocketsphinx hears it right in this voice
    # (3 of 3 speeds tried); most sentences it does not (FIELD-NOTES, docs/speech.md).
    said = await _espeak(tmp_path / "lawyer-espeak.wav", "I will talk to my lawyer", "en-us+m3")
    wav = await _speech(tmp_path / "lawyer.wav", [said], lead=CALLER_LEAD, tail=1.5)
    received: list[tuple[float, dict[str, Any]]] = []
    listening = asyncio.create_task(_supervisor_events(floor, received))
    floor.live.sink = services.transcripts
    try:
        await eventually(lambda: bool(received), within=10)  # the hello: subscribed
        await floor.available("cat")
        phone = floor.phones["cat"]
        mark = phone.mark()
        task = asyncio.create_task(place_call(services.settings, "410", audio=wav, hold=1.0))
        await phone.answer(within=20, since=mark)
        call = await floor.ended(await task)

        def alert() -> tuple[float, dict[str, Any]] | None:
            return next(((at, m) for at, m in received if m["type"] == "sensitive.alert"), None)

        await eventually(lambda: alert() is not None, within=30)
    finally:
        floor.live.sink = floor.sink
        listening.cancel()
    arrived, message = alert() or (0.0, {})
    shown = message["data"]["alert"]
    assert shown["phrase"] == "lawyer" and shown["source_id"] == str(call.id)
    assert shown["agent_id"] == floor.ids["cat"] and shown["severity"] == "critical"
    segments = [m["data"]["segment"] for _, m in received if m["type"] == "call.transcript"]
    flagged = next(s for s in segments if s["call_id"] == call.id and "lawyer" in s["text"])
    assert flagged["speaker"] == "caller" and str(flagged["id"]) == shown["ref"]
    ((start, end),) = flagged["highlights"]
    assert flagged["text"][start:end] == "lawyer"
    spoken_end = datetime.fromisoformat(flagged["spoken_at"]).timestamp() + (
        flagged["end"] - flagged["start"]
    )
    print(f"alert {arrived - spoken_end:.2f} s after the words ended")
    assert arrived - spoken_end < 10  # loose: the figure that matters is in bench/speech.py
    stored = (await floor.api.get(f"/api/calls/{call.id}/transcript")).json()
    assert any("lawyer" in s["text"] for s in stored["segments"])
