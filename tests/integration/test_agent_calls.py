"""Calls reach people: the carrier simulator calls in, the IVR queues the call, routing
rings a logged-in agent's desk phone (baresip, a SIP stack of its own), and caller and
agent talk. Each side sends its own tone; each must hear the other's.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from callcenter.pbx.carrier import CallReport, longest_silence, place_call
from callcenter.pbx.render import DeskPhone
from tests.integration.sip import Baresip, make_wav
from tests.support.audio import seconds_of_tone
from tests.support.controller import ServerProcess, free_port, settings_env
from tests.support.softphone import HeadlessSoftphone
from tests.support.waiting import eventually

pytestmark = pytest.mark.asterisk

ADMIN = ("queueadmin", "queue-admin-password")
AGENT_PASSWORD = "agent-password-1"
CALLER_TONE, AGENT_TONE, COLLEAGUE_TONE, CUSTOMER_TONE = 1000, 440, 700, 850
CUSTOMER_NUMBER = "+8613912345678"  # the far end's, out beyond the carrier trunk

ROUTING = """
queues:
  support:
    skills: {support: 1}
    ring_timeout: 4
    wrap_up: 3
    announce_every: 0
  nobody:                      # nobody has the skill: callers wait it out
    skills: {unicorn: 1}
    max_wait: 3
    overflow: {to: voicemail}
  small:
    skills: {unicorn: 1}
    max_length: 1
    overflow: {to: callback}
    announce_every: 2
  second_line:                 # only bob: where agents transfer what they cannot solve
    skills: {second_line: 1}
    ring_timeout: 8
    wrap_up: 2
    announce_every: 0
  board:                       # the wallboard's scripted day: 3 s service level
    skills: {support: 1}
    ring_timeout: 8
    wrap_up: 1
    announce_every: 0
    max_wait: 9
    overflow: {to: voicemail}
    service_level: {seconds: 3, target: 80, short_abandon: 1}
"""

FLOWS = {
    "agents": {"numbers": ["400"], "queue": "support"},
    "late": {"numbers": ["401"], "queue": "nobody"},
    "small": {"numbers": ["402"], "queue": "small"},
    "board": {"numbers": ["403"], "queue": "board"},
}


def _flow(name: str, numbers: list[str], queue: str) -> dict:
    return {
        "name": name,
        "numbers": numbers,
        "start": "wait",
        "nodes": {
            "wait": {"type": "queue", "queue": queue, "max_wait": 60, "on_timeout": "bye"},
            "bye": {"type": "hangup"},
        },
    }


@pytest.fixture(scope="module")
def settings(asterisk, tmp_path_factory):
    flows = tmp_path_factory.mktemp("agent-flows")
    for name, spec in FLOWS.items():
        flow = _flow(name, spec["numbers"], spec["queue"])
        (flows / f"{name}.yaml").write_text(json.dumps(flow))  # JSON is YAML
    routing = tmp_path_factory.mktemp("agent-routing") / "routing.yaml"
    routing.write_text(ROUTING)
    recordings = tmp_path_factory.mktemp("recordings")
    return asterisk.settings.model_copy(
        update={
            "http_port": free_port(),
            "flows_dir": flows,
            "routing_file": routing,
            "recordings_dir": recordings,
            "softphone_rejoin_seconds": 8,  # the last test waits it out
        }
    )


@pytest.fixture(scope="module")
def server(settings, tmp_path_factory) -> Iterator[ServerProcess]:
    env = settings_env(settings)
    cli = [sys.executable, "-m", "callcenter", "users", "create"]
    subprocess.run([*cli, ADMIN[0], "--role", "admin", "--password", ADMIN[1]],
                   env=env, check=True, capture_output=True)  # fmt: skip
    for name in ("amy", "bob", "cat"):
        subprocess.run([*cli, name, "--role", "agent", "--password", AGENT_PASSWORD],
                       env=env, check=True, capture_output=True)  # fmt: skip
    proc = ServerProcess(settings, tmp_path_factory.mktemp("server") / "server.log")
    proc.start()
    yield proc
    proc.stop()


def _client(server: ServerProcess, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=10)
    r = client.post("/api/auth/login", json={"username": username, "password": password})
    r.raise_for_status()
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return client


@pytest.fixture(scope="module")
def admin(server) -> Iterator[httpx.Client]:
    client = _client(server, *ADMIN)
    yield client
    client.close()


class Agent:
    """A person at a desk: an account on the desktop and a SIP phone on the desk."""

    def __init__(self, name: str, api: httpx.Client, phone: Baresip) -> None:
        self.name, self.api, self.phone = name, api, phone
        self.id = api.get("/api/agents/me").json()["user_id"]

    def state(self) -> tuple[str, str]:
        me = self.api.get("/api/agents/me").json()
        return me["state"], me["reason"]

    def choose(self, state: str, reason: str = "") -> None:
        r = self.api.put("/api/agents/me/state", json={"state": state, "reason": reason})
        r.raise_for_status()

    def log_out(self) -> None:
        if self.state()[0] != "offline":
            self.choose("offline")

    def heard(self) -> Path:
        """The WAV of what the desk phone received in its latest call."""
        return self.phone.heard()


@pytest.fixture(scope="module")
async def agents(
    server, admin, asterisk, desk_phones: list[DeskPhone], tmp_path_factory
) -> AsyncIterator[dict[str, Agent]]:
    work = tmp_path_factory.mktemp("agents")
    tones = {  # bob's own tone tells him apart when he joins a conference
        "amy": await make_wav(work / "amy.wav", 600, AGENT_TONE, tone_seconds=600),
        "bob": await make_wav(work / "bob.wav", 600, COLLEAGUE_TONE, tone_seconds=600),
    }
    team: dict[str, Agent] = {}
    phones: list[Baresip] = []
    try:
        for name, desk in zip(("amy", "bob"), desk_phones[1:], strict=True):
            phone = Baresip(
                work / name,
                user=desk.extension,
                password=desk.password,
                registrar=f"127.0.0.1:{asterisk.settings.sip_port}",
                audio=tones[name],
                dump_dir=work / name / "heard",
            )
            phones.append(phone)
            await phone.start()
            await _registered(asterisk, desk.extension)
            api = _client(server, name, AGENT_PASSWORD)
            agent = Agent(name, api, phone)
            skills = {"support": 5, **({"second_line": 1} if name == "bob" else {})}
            profile = {"extension": desk.extension, "skills": skills}
            admin.put(f"/api/agents/{agent.id}/profile", json=profile).raise_for_status()
            team[name] = agent
        yield team
    finally:
        for agent in team.values():
            agent.api.close()
        for phone in phones:
            await phone.stop()


@pytest.fixture
def floor(agents: dict[str, Agent]) -> Iterator[dict[str, Agent]]:
    """Every test starts with everybody logged out, and leaves it that way."""
    for agent in agents.values():
        agent.log_out()
    yield agents
    for agent in agents.values():
        agent.log_out()


async def _registered(pbx, extension: str) -> None:
    for _ in range(50):
        if f"{extension}/sip:" in await asyncio.to_thread(pbx.cli, "pjsip show contacts"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"desk phone {extension} did not register")


def _timeline(admin: httpx.Client, report: CallReport, within: float = 15) -> tuple[dict, list]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        items = admin.get("/api/calls").json()["items"]
        calls = [c for c in items if c["channel_id"] == report.inbound_channel_id]
        if calls and calls[0]["state"] == "ended":
            return calls[0], admin.get(f"/api/calls/{calls[0]['id']}").json()["events"]
        time.sleep(0.2)
    raise TimeoutError(f"call {report.inbound_channel_id} did not end")


def _recording(admin: httpx.Client, record: dict, tmp_path: Path) -> tuple[Path, dict]:
    """The call's recording as the API streams it (the record is written after the end)."""
    deadline = time.monotonic() + 10
    while record["recording_url"] is None:
        assert time.monotonic() < deadline, "no recording on the call"
        time.sleep(0.2)
        record = admin.get(f"/api/calls/{record['id']}").json()
    response = admin.get(record["recording_url"])
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    path = tmp_path / f"recording-{record['id']}.wav"
    path.write_bytes(response.content)
    return path, record


def _recorded_as_talked(
    admin: httpx.Client, record: dict, tmp_path: Path, voices: dict[int, float], within=1.0
) -> None:
    """The call's recording lasts its talk time and holds each voice (tone: seconds)."""
    recording, record = _recording(admin, record, tmp_path)
    assert abs(record["recording_seconds"] - record["talk_seconds"]) < within, record
    for tone, seconds in voices.items():
        assert seconds_of_tone(recording, tone, share=0.1) > seconds, tone


def _types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


async def _caller_tone(tmp_path: Path, seconds: float = 8) -> Path:
    return await make_wav(tmp_path / "caller.wav", seconds, CALLER_TONE, tone_seconds=seconds)


async def test_a_queued_call_rings_the_agent_and_both_hear_each_other(
    floor, admin, settings, tmp_path
):
    amy = floor["amy"]
    amy.choose("available")
    mark = amy.phone.mark()
    call = asyncio.create_task(
        place_call(settings, "400", audio=await _caller_tone(tmp_path), hold=1, record=True)
    )
    await amy.phone.answer(since=mark)
    await eventually(lambda: amy.state() == ("on_call", ""))
    report = await call
    assert report.answered and report.hung_up_by == "caller", report
    await amy.phone.wait_event("CALL_CLOSED", since=mark)
    await eventually(lambda: amy.state() == ("wrap_up", ""))  # 3 s in this queue
    record, events = _timeline(admin, report)
    assert record["agent_id"] == amy.id and record["ended_by"] == "caller"
    assert record["queue"] == "support" and record["disposition"] == "completed"
    assert 0 < record["queue_seconds"] < 5 and 0 <= record["ring_seconds"] < 5
    assert record["talk_seconds"] > 4 and not record["abandoned"]
    assert {"agent.connected", "agent.ended"} <= set(_types(events))
    ended = next(e["data"] for e in events if e["type"] == "agent.ended")
    assert ended["by"] == "caller" and ended["talk_seconds"] > 4
    # Audio both ways: the caller heard the agent's tone, the agent the caller's.
    assert report.heard is not None and seconds_of_tone(report.heard, AGENT_TONE) > 3
    assert seconds_of_tone(amy.heard(), CALLER_TONE) > 3
    await eventually(lambda: amy.state() == ("available", ""), within=5)


async def test_an_unanswered_ring_goes_to_the_next_agent(floor, admin, settings, tmp_path):
    amy, bob = floor["amy"], floor["bob"]
    amy.choose("available")  # idle the longest: rung first
    await asyncio.sleep(0.1)
    bob.choose("available")
    amy_mark, bob_mark = amy.phone.mark(), bob.phone.mark()
    call = asyncio.create_task(
        place_call(settings, "400", audio=await _caller_tone(tmp_path, 12), hold=1)
    )
    try:
        await amy.phone.wait_event("CALL_INCOMING", since=amy_mark)  # and amy lets it ring
        await bob.phone.answer(within=15, since=bob_mark)
        await amy.phone.wait_event("CALL_CLOSED", since=amy_mark)  # her phone stopped ringing
        await eventually(lambda: amy.state() == ("break", "missed"))
    except (TimeoutError, AssertionError) as exc:  # say what the floor looked like
        seen = {a.name: (a.state(), [e.get("type") for e in a.phone.events[m:]])
                for a, m in ((amy, amy_mark), (bob, bob_mark))}  # fmt: skip
        raise AssertionError(f"{exc!r}: {seen}") from exc
    report = await call
    record, _ = _timeline(admin, report)
    assert record["agent_id"] == bob.id


async def test_the_agent_hanging_up_ends_the_call(floor, admin, settings, tmp_path):
    bob = floor["bob"]
    bob.choose("available")
    mark = bob.phone.mark()
    call = asyncio.create_task(
        place_call(settings, "400", audio=await _caller_tone(tmp_path, 20), hold=5)
    )
    await bob.phone.answer(since=mark)
    await asyncio.sleep(1)
    await bob.phone.hangup()
    report = await call
    assert report.hung_up_by == "pbx", report
    record, events = _timeline(admin, report)
    assert record["ended_by"] == "agent" and record["disposition"] == "completed"
    assert next(e["data"] for e in events if e["type"] == "agent.ended")["by"] == "agent"


async def test_nobody_free_until_max_wait_overflows_to_voicemail(floor, admin, settings):
    report = await place_call(settings, "401", hold=12)
    _, events = _timeline(admin, report)
    left = next(e["data"] for e in events if e["type"] == "ivr.queue_left")
    assert left["result"] == "voicemail" and left["queue"] == "nobody"
    assert "voicemail" in _types(events)  # the message the caller left by hanging up


async def test_a_full_queue_overflows_the_next_caller_to_a_callback(floor, admin, settings):
    first = asyncio.create_task(place_call(settings, "402", hold=10))
    await asyncio.sleep(2)
    second = await place_call(settings, "402", hold=8, caller="+8613800001111", dtmf="1")
    _, events = _timeline(admin, second)
    left = next(e["data"] for e in events if e["type"] == "ivr.queue_left")
    assert left["result"] == "callback" and left["queue"] == "small"
    requested = next(e["data"] for e in events if e["type"] == "callback.requested")
    assert requested["number"] == "+8613800001111"
    report = await first
    abandoned, waited = _timeline(admin, report)
    assert "ivr.queue_left" not in _types(waited)  # hung up while waiting: still in line
    assert abandoned["abandoned"] and abandoned["abandoned_position"] == 1
    assert abandoned["disposition"] == "abandoned" and abandoned["queue"] == "small"


@pytest.fixture
async def cat(server, admin) -> AsyncIterator[tuple[httpx.Client, HeadlessSoftphone]]:
    """An agent with no desk phone: her desktop's softphone (headless aiortc) is her line."""
    api = _client(server, "cat", AGENT_PASSWORD)
    me = api.get("/api/agents/me").json()
    admin.put(f"/api/agents/{me['user_id']}/profile", json={"skills": {"support": 3}})
    token = api.headers["Authorization"].removeprefix("Bearer ")
    phone = HeadlessSoftphone(server.url.replace("http", "ws"), token, tone=AGENT_TONE)
    await phone.connect()
    api.put("/api/agents/me/state", json={"state": "available"}).raise_for_status()
    try:
        yield api, phone
    finally:
        await phone.close()
        if api.get("/api/agents/me").json()["state"] != "offline":
            api.put("/api/agents/me/state", json={"state": "offline"})
        api.close()


async def _answered(
    phone: HeadlessSoftphone, settings, tmp_path: Path, *, seconds: float = 20, **call: Any
) -> tuple[asyncio.Task[CallReport], int, dict]:
    """A caller (a tone of `seconds`) through the queue to the softphone, answered there:
    the call's task, the softphone's mark before it, the offer."""
    mark = phone.mark()
    audio = await _caller_tone(tmp_path, seconds)
    task = asyncio.create_task(place_call(settings, "400", audio=audio, **{"hold": 5, **call}))
    offered = await phone.wait_for("offered", since=mark)
    await phone.send({"type": "accept", "task_id": offered["task_id"]})
    await phone.wait_for("connected", since=mark)
    return task, mark, offered


async def test_the_softphone_gets_a_screen_pop_answers_and_both_hear(
    floor, cat, admin, settings, tmp_path
):
    api, phone = cat
    caller = "+8613900002222"
    start = len(phone.heard)
    call, mark, offered = await _answered(
        phone, settings, tmp_path, seconds=8, hold=1, record=True, caller=caller
    )
    assert offered["call"]["caller_number"] == caller and offered["call"]["queue"] == "support"
    assert offered["call"]["ivr_path"] == ["wait"]
    assert offered["call"]["customer"]["class"] == "new"
    assert api.get("/api/agents/me").json()["state"] == "on_call"
    report = await call
    ended = await phone.wait_for("ended", since=mark)
    assert ended["by"] == "caller" and report.hung_up_by == "caller"
    record, _ = _timeline(admin, report)
    assert record["agent_id"] == api.get("/api/agents/me").json()["user_id"]
    assert report.heard is not None and seconds_of_tone(report.heard, AGENT_TONE) > 3
    heard = phone.save_heard(tmp_path / "softphone-heard.wav", start)
    assert seconds_of_tone(heard, CALLER_TONE) > 3
    # The conversation was recorded (the queue records): both voices, as long as the talk.
    _recorded_as_talked(admin, record, tmp_path, {CALLER_TONE: 3, AGENT_TONE: 3})


async def test_the_softphone_hangs_up_and_the_line_stays_ready(
    floor, cat, admin, settings, tmp_path
):
    api, phone = cat
    for _ in range(2):  # the media leg outlives each call: the second is answered the same way
        call, mark, _ = await _answered(phone, settings, tmp_path)
        await asyncio.sleep(1)
        await phone.send({"type": "pause_recording"})  # "my card number is …"
        await asyncio.sleep(2.5)
        await phone.send({"type": "resume_recording"})
        await asyncio.sleep(1)
        await phone.send({"type": "hangup"})
        assert (await phone.wait_for("ended", since=mark))["by"] == "agent"
        report = await call
        assert report.hung_up_by == "pbx", report
        record, events = _timeline(admin, report)
        assert record["ended_by"] == "agent"
        assert {"recording.paused", "recording.resumed"} <= set(_types(events))
        recording, _ = _recording(admin, record, tmp_path)
        assert 2.0 < longest_silence(recording) < 3.5  # the paused part, and only it
        await eventually(lambda: api.get("/api/agents/me").json()["state"] == "available",
                         within=6)  # fmt: skip


async def test_hold_puts_the_caller_on_music_and_counts_the_time(floor, cat, admin, settings,
                                                                 tmp_path):  # fmt: skip
    _, phone = cat
    call, mark, _ = await _answered(phone, settings, tmp_path)
    await asyncio.sleep(1)
    await phone.send({"type": "hold"})
    assert (await phone.wait_for("held", since=mark))["on"] is True
    held_from = len(phone.heard)
    await asyncio.sleep(2.5)
    held_to = len(phone.heard)
    unheld = phone.mark()
    await phone.send({"type": "unhold"})
    assert (await phone.wait_for("held", since=unheld))["on"] is False
    await asyncio.sleep(1.5)
    await phone.send({"type": "hangup"})
    report = await call
    record, events = _timeline(admin, report)
    assert {"hold", "unhold"} <= set(_types(events))
    assert 2.0 < record["hold_seconds"] < 4.0, record
    # Silence on hold (the second after pressing it left out: audio in flight) …
    on_hold = phone.save_heard(tmp_path / "on-hold.wav", held_from + 16000, held_to)
    assert seconds_of_tone(on_hold, CALLER_TONE) < 0.3
    # … and the caller again after it.
    after = phone.save_heard(tmp_path / "after-hold.wav", held_to)
    assert seconds_of_tone(after, CALLER_TONE) > 1.0


async def test_a_conference_of_three_then_the_agent_leaves_them_talking(
    floor, cat, admin, settings, tmp_path
):
    _, phone = cat
    bob = floor["bob"]  # not taking queue calls: his desk phone is dialled directly
    call, mark, _ = await _answered(phone, settings, tmp_path, seconds=30, hold=12, record=True)
    bob_mark = bob.phone.mark()
    await phone.send({"type": "conference", "extension": bob.phone.user})
    await bob.phone.answer(since=bob_mark)
    assert (await phone.wait_for("party", since=mark))["joined"] is True
    together = len(phone.heard)
    await asyncio.sleep(3)
    apart = len(phone.heard)
    await phone.send({"type": "hangup"})  # the agent leaves: an attended transfer
    assert (await phone.wait_for("ended", since=mark))["by"] == "agent"
    await asyncio.sleep(2)
    await bob.phone.hangup()
    report = await call
    assert report.hung_up_by == "pbx", report
    record, events = _timeline(admin, report)
    assert record["transfers"] == 1 and record["ended_by"] == "transfer_target"
    assert {"conference.dialing", "conference.joined", "transferred"} <= set(_types(events))
    # Three parties, each hearing both others (tones mixed: a smaller share each).
    agent_heard = phone.save_heard(tmp_path / "agent.wav", together, apart)
    assert seconds_of_tone(agent_heard, CALLER_TONE, share=0.1) > 1.5
    assert seconds_of_tone(agent_heard, COLLEAGUE_TONE, share=0.1) > 1.5
    assert report.heard is not None
    assert seconds_of_tone(report.heard, AGENT_TONE, share=0.1) > 1.5
    assert seconds_of_tone(report.heard, COLLEAGUE_TONE, share=0.1) > 3  # and after
    assert seconds_of_tone(bob.heard(), CALLER_TONE, share=0.1) > 3
    assert seconds_of_tone(bob.heard(), AGENT_TONE, share=0.1) > 1.5


async def test_a_returning_caller_gets_their_last_agent_first(floor, admin, settings, tmp_path):
    amy, bob = floor["amy"], floor["bob"]
    caller = "+8613600004444"
    bob.choose("available")
    mark = bob.phone.mark()
    first = asyncio.create_task(
        place_call(settings, "400", audio=await _caller_tone(tmp_path, 3), hold=1, caller=caller)
    )
    await bob.phone.answer(since=mark)
    amy.choose("available")  # from now on amy is idle longer than bob will be …
    assert _timeline(admin, await first)[0]["agent_id"] == bob.id
    await eventually(lambda: bob.state()[0] == "available", within=6)
    amy_mark, bob_mark = amy.phone.mark(), bob.phone.mark()
    again = asyncio.create_task(
        place_call(settings, "400", audio=await _caller_tone(tmp_path, 3), hold=1, caller=caller)
    )
    await bob.phone.answer(since=bob_mark)  # … yet the customer's last agent rings first
    assert not any(e.get("type") == "CALL_INCOMING" for e in amy.phone.events[amy_mark:])
    assert _timeline(admin, await again)[0]["agent_id"] == bob.id


async def test_a_blind_transfer_sends_the_caller_to_a_colleagues_phone(
    floor, cat, admin, settings, tmp_path
):
    api, phone = cat
    bob = floor["bob"]
    call, mark, _ = await _answered(phone, settings, tmp_path, seconds=25, hold=10, record=True)
    bob_mark = bob.phone.mark()
    await asyncio.sleep(1)
    await phone.send({"type": "transfer", "extension": bob.phone.user})
    assert (await phone.wait_for("ended", since=mark))["by"] == "transfer"
    await eventually(lambda: api.get("/api/agents/me").json()["state"] == "wrap_up")
    await bob.phone.answer(since=bob_mark)  # the dialplan rings him; the agent is free
    await asyncio.sleep(4)
    await bob.phone.hangup()
    report = await call
    assert report.heard is not None
    assert seconds_of_tone(report.heard, COLLEAGUE_TONE) > 2  # the caller talked to bob
    record, events = _timeline(admin, report)
    assert record["disposition"] == "transferred" and record["transfers"] == 1
    assert record["ended_by"] == "transfer" and "transfer.extension" in _types(events)


async def _transferred_to_bob(
    phone: HeadlessSoftphone, bob: Agent, api: httpx.Client, mark: int, message: dict
) -> None:
    """The softphone transfers the call; bob's desk phone rings and he answers."""
    bob_mark = bob.phone.mark()
    await phone.send({"type": "transfer", **message})
    assert (await phone.wait_for("ended", since=mark))["by"] == "transfer"
    await eventually(lambda: api.get("/api/agents/me").json()["state"] == "wrap_up")
    await bob.phone.answer(since=bob_mark)
    await eventually(lambda: bob.state() == ("on_call", ""))


async def test_a_transfer_to_a_queue_reaches_its_agent_through_routing(
    floor, cat, admin, settings, tmp_path
):
    api, phone = cat
    bob = floor["bob"]
    call, mark, _ = await _answered(phone, settings, tmp_path, seconds=30, hold=1, record=True)
    bob.choose("available")
    await asyncio.sleep(2)
    await _transferred_to_bob(phone, bob, api, mark, {"queue": "second_line"})
    report = await call
    assert report.heard is not None
    assert seconds_of_tone(report.heard, COLLEAGUE_TONE) > 3  # the caller talked to bob
    assert seconds_of_tone(bob.heard(), CALLER_TONE) > 3
    record, events = _timeline(admin, report)
    assert record["agent_id"] == bob.id and record["queue"] == "second_line"
    assert record["transfers"] == 1 and record["disposition"] == "completed"
    assert {"transfer.queue", "transferred"} <= set(_types(events))
    # One recording for the whole call: cat's part, then bob's.
    _recorded_as_talked(admin, record, tmp_path, {AGENT_TONE: 1, COLLEAGUE_TONE: 3}, within=1.5)


async def test_a_transfer_to_a_named_colleague_rings_them_not_the_queue(
    floor, cat, admin, settings, tmp_path
):
    api, phone = cat
    amy, bob = floor["amy"], floor["bob"]
    call, mark, _ = await _answered(phone, settings, tmp_path, seconds=30, hold=1, record=True)
    # Nobody is free yet: the transfer is refused and cat keeps the caller.
    await phone.send({"type": "transfer", "agent": str(bob.id)})
    assert "not free" in (await phone.wait_for("error", since=mark))["message"]
    amy.choose("available")  # idle the longest: the queue would ring her …
    await asyncio.sleep(0.2)
    bob.choose("available")
    amy_mark = amy.phone.mark()
    await _transferred_to_bob(phone, bob, api, mark, {"agent": str(bob.id)})  # … cat chose bob
    assert not any(e.get("type") == "CALL_INCOMING" for e in amy.phone.events[amy_mark:])
    report = await call
    assert report.heard is not None and seconds_of_tone(report.heard, COLLEAGUE_TONE) > 3
    record, events = _timeline(admin, report)
    assert record["agent_id"] == bob.id and record["queue"] == "support"
    assert "transfer.agent" in _types(events)


async def test_the_dial_pad_calls_a_colleague_and_sends_keys(floor, cat, admin, settings, tmp_path):
    api, phone = cat
    bob = floor["bob"]  # logged out of the queues: his desk phone still rings
    mark, bob_mark = phone.mark(), bob.phone.mark()
    call_start = bob_mark
    await phone.send({"type": "dial", "extension": bob.phone.user})
    dialing = await phone.wait_for("dialing", since=mark)
    assert api.get("/api/agents/me").json()["state"] == "on_call"  # no offers meanwhile
    await bob.phone.answer(since=bob_mark)
    assert (await phone.wait_for("connected", since=mark))["call_id"] == dialing["call_id"]
    start = len(phone.heard)
    await asyncio.sleep(3)
    await phone.send({"type": "dtmf", "digits": "12#"})
    pressed = []
    for _ in range(3):
        event = await bob.phone.wait_event("CALL_DTMF_START", since=bob_mark)
        bob_mark = bob.phone.events.index(event) + 1
        pressed.append(event.get("param"))
    assert pressed == ["1", "2", "#"]
    await phone.send({"type": "hangup"})
    assert (await phone.wait_for("ended", since=mark))["by"] == "agent"
    heard = phone.save_heard(tmp_path / "dialed.wav", start)
    assert seconds_of_tone(heard, COLLEAGUE_TONE) > 2
    await bob.phone.wait_event("CALL_CLOSED", since=call_start)  # his recording is complete
    assert seconds_of_tone(bob.heard(), AGENT_TONE) > 2
    record = admin.get(f"/api/calls/{dialing['call_id']}").json()
    assert (record["direction"], record["dialed_number"]) == ("internal", bob.phone.user)
    assert record["agent_id"] == api.get("/api/agents/me").json()["user_id"]
    assert record["disposition"] == "completed" and record["ended_by"] == "agent"
    assert record["talk_seconds"] > 3
    # Back where she was before dialing: available for queue calls again.
    await eventually(lambda: api.get("/api/agents/me").json()["state"] == "available")


async def test_a_dialed_number_nobody_answers_is_recorded_as_unanswered(cat, admin):
    api, phone = cat
    mark = phone.mark()
    await phone.send({"type": "dial", "extension": "2999"})  # no such phone
    ended = await phone.wait_for("ended", since=mark)
    assert ended["by"] == "unanswered"
    record = admin.get(f"/api/calls/{ended['call_id']}").json()
    assert record["disposition"] == "unanswered" and record["direction"] == "internal"
    await eventually(lambda: api.get("/api/agents/me").json()["state"] == "available")


async def test_a_private_consult_then_the_caller_is_handed_over(
    floor, cat, admin, settings, tmp_path
):
    _, phone = cat
    bob = floor["bob"]
    call, mark, _ = await _answered(phone, settings, tmp_path, seconds=40, hold=1, record=True)
    await asyncio.sleep(2)  # cat and the caller talk
    bob_mark = bob.phone.mark()
    await phone.send({"type": "consult", "extension": bob.phone.user})
    await bob.phone.answer(since=bob_mark)
    assert (await phone.wait_for("party", since=mark))["joined"] is True
    consult_from = len(phone.heard)
    await asyncio.sleep(4)  # cat and bob, the caller on hold
    consult_to = len(phone.heard)
    await phone.send({"type": "complete_transfer"})
    assert (await phone.wait_for("ended", since=mark))["by"] == "agent"
    await asyncio.sleep(4)  # the caller and bob
    await bob.phone.hangup()
    report = await call
    consulted = phone.save_heard(tmp_path / "consult.wav", consult_from, consult_to)
    assert seconds_of_tone(consulted, COLLEAGUE_TONE) > 2  # cat heard bob …
    assert seconds_of_tone(consulted, CALLER_TONE, share=0.1) < 0.5  # … and not the caller
    await bob.phone.wait_event("CALL_CLOSED", since=bob_mark)
    # Bob heard the caller only once handed over (about 4 s, not the 8 s of his call).
    assert 2 < seconds_of_tone(bob.heard(), CALLER_TONE, share=0.1) < 6
    assert report.heard is not None
    assert seconds_of_tone(report.heard, COLLEAGUE_TONE, share=0.1) > 2  # then talked to bob
    assert seconds_of_tone(report.heard, AGENT_TONE, share=0.1) < 4.5  # not during consult
    record, events = _timeline(admin, report)
    assert record["transfers"] == 1 and record["ended_by"] == "transfer_target"
    assert {"consult", "hold", "unhold", "conference.joined"} <= set(_types(events))


async def test_a_consult_cancelled_brings_the_caller_back(floor, cat, admin, settings, tmp_path):
    _, phone = cat
    bob = floor["bob"]
    call, mark, _ = await _answered(phone, settings, tmp_path, seconds=30, hold=1)
    bob_mark = bob.phone.mark()
    await phone.send({"type": "consult", "extension": bob.phone.user})
    await bob.phone.answer(since=bob_mark)
    await phone.wait_for("party", since=mark)
    back = phone.mark()
    await phone.send({"type": "cancel_consult"})
    assert (await phone.wait_for("held", since=back))["on"] is False  # bob hung up
    await bob.phone.wait_event("CALL_CLOSED", since=bob_mark)
    after = len(phone.heard)
    await asyncio.sleep(3)
    assert seconds_of_tone(phone.save_heard(tmp_path / "back.wav", after), CALLER_TONE) > 1.5
    await phone.send({"type": "hangup"})
    record, _ = _timeline(admin, await call)
    assert record["transfers"] == 0 and record["ended_by"] == "agent"


# ---- beyond the carrier trunk: a customer's phone at the far end ----------------------


@pytest.fixture(scope="module")
async def far_end(asterisk, tmp_path_factory) -> AsyncIterator[Baresip]:
    """The phone of a customer out on the public network, reached through the trunk."""
    work = tmp_path_factory.mktemp("far-end")
    audio = await make_wav(work / "customer.wav", 600, CUSTOMER_TONE, tone_seconds=600)
    settings = asterisk.settings
    phone = Baresip(work, user=CUSTOMER_NUMBER, password="", registrar="", audio=audio,
                    dump_dir=work / "heard",
                    far_end=(settings.trunk_host, settings.trunk_port))  # fmt: skip
    await phone.start()
    # Asterisk qualifies the trunk (OPTIONS) and does not dial a contact that never
    # answered: ask again now that the far end is up, as an operator would.
    for _ in range(50):
        await asyncio.to_thread(asterisk.cli, "pjsip qualify trunk")
        contacts = await asyncio.to_thread(asterisk.cli, "pjsip show contacts")
        if any("trunk/" in line and "Avail" in line for line in contacts.splitlines()):
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the trunk's far end never answered OPTIONS")
    yield phone
    await phone.stop()


async def test_the_dial_pad_calls_a_customer_through_the_trunk(cat, admin, far_end, tmp_path):
    api, phone = cat
    number = CUSTOMER_NUMBER
    mark, far_mark = phone.mark(), far_end.mark()
    await phone.send({"type": "dial", "number": number})
    dialing = await phone.wait_for("dialing", since=mark)
    await far_end.answer(since=far_mark)
    await phone.wait_for("connected", since=mark)
    start = len(phone.heard)
    await asyncio.sleep(3)
    await phone.send({"type": "hangup"})
    await far_end.wait_event("CALL_CLOSED", since=far_mark)
    assert seconds_of_tone(phone.save_heard(tmp_path / "out.wav", start), CUSTOMER_TONE) > 2
    assert seconds_of_tone(far_end.heard(), AGENT_TONE) > 2
    record = admin.get(f"/api/calls/{dialing['call_id']}").json()
    assert (record["direction"], record["dialed_number"]) == ("outbound", number)
    assert record["customer_id"] is not None  # the customer called, not the agent
    assert record["agent_id"] == api.get("/api/agents/me").json()["user_id"]


async def test_a_blind_transfer_to_an_outside_number(floor, cat, admin, far_end, settings,
                                                     tmp_path):  # fmt: skip
    _, phone = cat
    call, mark, _ = await _answered(phone, settings, tmp_path, seconds=20, hold=1, record=True)
    far_mark = far_end.mark()
    await phone.send({"type": "transfer", "number": CUSTOMER_NUMBER})
    assert (await phone.wait_for("ended", since=mark))["by"] == "transfer"
    await far_end.answer(since=far_mark)
    report = await call
    assert report.heard is not None and seconds_of_tone(report.heard, CUSTOMER_TONE) > 3
    await far_end.wait_event("CALL_CLOSED", since=far_mark)
    assert seconds_of_tone(far_end.heard(), CALLER_TONE) > 3
    record, events = _timeline(admin, report)
    assert record["disposition"] == "transferred" and "transfer.number" in _types(events)


# ---- last in the module: these kill and restart the module's server ----------------------


# ---- supervisors: listen, whisper, barge in, take over; the wallboard ----------------


def _monitor(admin: httpx.Client, agent_id: int, mode: str, extension: str) -> dict:
    r = admin.post(f"/api/supervise/agents/{agent_id}/monitor",
                   json={"mode": mode, "extension": extension})  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_supervisor_listens_then_whispers_and_the_caller_never_hears(
    floor, cat, admin, settings, tmp_path
):
    """bob's desk phone is the supervisor's: listening, nobody hears it; whispering, only
    the agent does."""
    api, phone = cat
    sup = floor["bob"].phone  # bob is logged out: his phone is the supervisor's here
    call, _mark, _ = await _answered(phone, settings, tmp_path, seconds=30, hold=14, record=True)
    agent_id = api.get("/api/agents/me").json()["user_id"]
    sup_mark = sup.mark()
    monitor = _monitor(admin, agent_id, "listen", sup.user)
    await sup.answer(since=sup_mark)
    await eventually(lambda: admin.get("/api/supervise/monitors").json()[0]["joined"])
    listening = len(phone.heard)
    await asyncio.sleep(3)
    listened = len(phone.heard)
    assert _monitor(admin, agent_id, "whisper", sup.user)["id"] == monitor["id"]  # same call
    await asyncio.sleep(0.5)
    whispering = len(phone.heard)
    await asyncio.sleep(3)
    stopped = len(phone.heard)
    assert admin.delete(f"/api/supervise/monitors/{monitor['id']}").status_code == 204
    await phone.send({"type": "hangup"})
    report = await call
    assert report.heard is not None
    assert seconds_of_tone(report.heard, COLLEAGUE_TONE, share=0.05) < 0.3  # never the caller
    assert seconds_of_tone(report.heard, AGENT_TONE, share=0.1) > 4
    heard_listening = phone.save_heard(tmp_path / "listening.wav", listening, listened)
    heard_whisper = phone.save_heard(tmp_path / "whisper.wav", whispering, stopped)
    assert seconds_of_tone(heard_listening, COLLEAGUE_TONE, share=0.05) < 0.3
    assert seconds_of_tone(heard_whisper, COLLEAGUE_TONE, share=0.1) > 2
    assert seconds_of_tone(heard_whisper, CALLER_TONE, share=0.1) > 2
    # The supervisor heard both sides all along.
    assert seconds_of_tone(sup.heard(), CALLER_TONE, share=0.1) > 5
    assert seconds_of_tone(sup.heard(), AGENT_TONE, share=0.1) > 5
    _record, events = _timeline(admin, report)
    assert "monitor.whisper" in _types(events) and "monitor.listen" not in _types(events)
    audit = admin.get("/api/audit", params={"limit": 20}).json()
    actions = [entry["action"] for entry in audit["items"]]
    assert f"POST /api/supervise/agents/{agent_id}/monitor" in actions


async def test_a_supervisor_barges_in_then_takes_the_call_over(
    floor, cat, admin, settings, tmp_path
):
    api, phone = cat
    sup = floor["bob"].phone
    call, mark, _ = await _answered(phone, settings, tmp_path, seconds=30, hold=20, record=True)
    agent_id = api.get("/api/agents/me").json()["user_id"]
    sup_mark = sup.mark()
    _monitor(admin, agent_id, "barge", sup.user)
    await sup.answer(since=sup_mark)
    await eventually(lambda: admin.get("/api/supervise/monitors").json()[0]["joined"])
    barging = len(phone.heard)
    await asyncio.sleep(3)
    heard_barge = phone.save_heard(tmp_path / "barge.wav", barging, len(phone.heard))
    _monitor(admin, agent_id, "takeover", sup.user)
    assert (await phone.wait_for("ended", since=mark))["by"] == "supervisor"
    await eventually(lambda: api.get("/api/agents/me").json()["state"] != "on_call")
    await asyncio.sleep(3)  # the caller and the supervisor talk on
    await sup.hangup()
    report = await call
    assert report.hung_up_by == "pbx", report
    assert seconds_of_tone(heard_barge, COLLEAGUE_TONE, share=0.1) > 2  # the agent hears
    assert seconds_of_tone(heard_barge, CALLER_TONE, share=0.1) > 2
    assert report.heard is not None
    assert seconds_of_tone(report.heard, COLLEAGUE_TONE, share=0.1) > 4  # barge + take-over
    assert seconds_of_tone(sup.heard(), CALLER_TONE, share=0.1) > 4
    assert seconds_of_tone(sup.heard(), AGENT_TONE, share=0.1) > 2
    record, events = _timeline(admin, report)
    assert {"monitor.barge", "monitor.takeover", "transferred"} <= set(_types(events))
    assert record["transfers"] == 1


async def test_a_supervisor_ends_a_call_and_moves_agents_states(floor, cat, admin, settings,
                                                               tmp_path):  # fmt: skip
    api, phone = cat
    amy = floor["amy"]
    call, _mark, _ = await _answered(phone, settings, tmp_path, seconds=20, hold=15)
    agent_id = api.get("/api/agents/me").json()["user_id"]
    assert admin.post(f"/api/supervise/agents/{agent_id}/hangup").status_code == 204
    report = await call
    assert report.hung_up_by == "pbx"
    record, _ = _timeline(admin, report)
    assert record["ended_by"] == "supervisor"
    # Not on a call now: 409 with the reason.
    r = admin.post(f"/api/supervise/agents/{agent_id}/hangup")
    assert r.status_code == 409 and "not on a call" in r.json()["detail"]
    r = admin.put(f"/api/supervise/agents/{amy.id}/state", json={"state": "break",
                                                               "reason": "coaching"})  # fmt: skip
    assert r.status_code == 200 and amy.state() == ("break", "coaching")
    r = admin.put(f"/api/supervise/agents/{amy.id}/state", json={"state": "offline"})
    assert r.status_code == 200 and amy.state() == ("offline", "")
    # An agent cannot act on colleagues.
    r = amy.api.put(f"/api/supervise/agents/{agent_id}/state", json={"state": "offline"})
    assert r.status_code == 403


class BoardWatcher:
    """A wallboard screen: the snapshot, then every update merged in, as the page does."""

    def __init__(self, server: ServerProcess, token: str) -> None:
        self.url = server.url.replace("http", "ws") + "/ws/wallboard"
        self.token = token
        self.board: dict[str, Any] = {}
        self.messages = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> BoardWatcher:
        self._task = asyncio.create_task(self._follow())
        await eventually(lambda: self.messages > 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    async def _follow(self) -> None:
        protocols = ["callcenter", f"bearer.{self.token}"]
        async with websockets.connect(self.url, subprotocols=protocols) as ws:
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "snapshot":
                    self.board = message
                else:
                    self.board["queues"].update(message["queues"])
                    self.board["agents"].update(message["agents"])
                    self.board.update({k: message[k] for k in ("totals", "at") if k in message})
                self.messages += 1

    def queue(self, name: str) -> dict[str, Any]:
        return self.board["queues"][name]


async def test_the_wallboard_counts_a_scripted_morning_exactly(floor, admin, server, settings,
                                                               tmp_path):  # fmt: skip
    """Six callers to the `board` queue (3 s service level): one overflows to voicemail,
    two give up, three are answered (two at once, one after waiting for an agent)."""
    amy, bob = floor["amy"], floor["bob"]
    token = admin.headers["Authorization"].removeprefix("Bearer ")
    async with BoardWatcher(server, token) as screen:
        assert screen.queue("board")["waiting"] == 0
        handled_before = {a.id: screen.board["agents"][str(a.id)]["handled"] for a in (amy, bob)}
        audio = await _caller_tone(tmp_path, 30)
        # Nobody is logged in: one waits out max_wait (9 s), two hang up after 2.5 and 3.5 s.
        overflow = asyncio.create_task(place_call(settings, "403", hold=11))
        gone = [asyncio.create_task(place_call(settings, "403", hold=h))
                for h in (2.5, 3.5)]  # fmt: skip
        await eventually(lambda: screen.queue("board")["waiting"] == 3, within=5)
        await asyncio.gather(*gone)
        await eventually(lambda: screen.queue("board")["abandoned"] == 2, within=3)
        await overflow
        assert screen.queue("board")["overflowed"] == 1
        # amy, then bob, answer at once; the sixth caller waits until amy is free again.
        calls = []
        for agent in (amy, bob):
            agent.choose("available")
            mark = agent.phone.mark()
            calls.append(asyncio.create_task(place_call(settings, "403", audio=audio, hold=25)))
            await agent.phone.answer(since=mark)
        mark = amy.phone.mark()
        calls.append(asyncio.create_task(place_call(settings, "403", audio=audio, hold=25)))
        await eventually(lambda: screen.queue("board")["waiting"] == 1, within=5)
        await asyncio.sleep(4)
        await amy.phone.hangup()  # wrap-up (1 s), then the waiting caller rings her
        await amy.phone.answer(since=mark)
        await asyncio.sleep(1)
        await amy.phone.hangup()
        await bob.phone.hangup()
        await asyncio.gather(*calls)
        await eventually(lambda: screen.queue("board")["handled"] == 3, within=8)
        board = screen.queue("board")
    records = [c for c in admin.get("/api/calls", params={"limit": 50}).json()["items"]
               if c["queue"] == "board"]  # fmt: skip
    answered = sorted(c["queue_seconds"] for c in records if c["agent_id"] is not None)
    assert len(records) == 6 and len(answered) == 3, answered
    assert answered[1] < 1 and answered[2] > 4.5, answered  # in time twice, late once
    assert [board[k] for k in ("offered", "answered", "answered_in_time", "abandoned",
                               "short_abandoned", "overflowed", "handled")] == [
        6, 3, 2, 2, 0, 1, 3]  # fmt: skip
    assert board["service_level"] == round(2 / 6, 4)
    assert board["abandonment_rate"] == round(2 / 6, 4)
    assert board["asa"] == pytest.approx(sum(answered) / 3, abs=0.3)
    talk_hold = [(c["talk_seconds"] or 0) + (c["hold_seconds"] or 0) for c in records
                 if c["agent_id"] is not None]  # no wrap-up form was filed  # fmt: skip
    assert board["aht"] == pytest.approx(sum(talk_hold) / 3, abs=0.2)
    agents = screen.board["agents"]
    handled = {a.id: agents[str(a.id)]["handled"] - handled_before[a.id] for a in (amy, bob)}
    assert (handled[amy.id], handled[bob.id]) == (2, 1)
    # The same numbers over REST, and in the day's report and its CSV.
    rest = admin.get("/api/wallboard").json()
    same = ("offered", "answered", "answered_in_time", "abandoned", "short_abandoned",
            "overflowed", "handled", "service_level", "asa", "abandonment_rate")  # fmt: skip
    assert {k: rest["queues"]["board"][k] for k in same} == {k: board[k] for k in same}
    day = {"from": rest["day"], "to": rest["day"], "group": "queue"}
    report = admin.get("/api/reports/service", params=day).json()
    (row,) = [r for r in report["rows"] if r["group"] == "board"]
    assert {k: row[k] for k in same} == {k: board[k] for k in same}
    assert row["aht"] == pytest.approx(board["aht"], abs=0.2)
    assert row["abandon_lt10"] == 2 and row["service_level_target"] == 0.8
    csv_text = admin.get("/api/reports/service", params={**day, "format": "csv"}).text
    (csv_row,) = [r for r in csv.DictReader(io.StringIO(csv_text)) if r["group"] == "board"]
    assert {k: csv_row[k] for k in same} == {k: str(row[k]) for k in same}


async def test_a_desk_phone_conversation_outlives_a_controller_crash(
    floor, admin, server, settings, tmp_path
):
    bob = floor["bob"]
    bob.choose("available")
    mark = bob.phone.mark()
    call = asyncio.create_task(
        place_call(settings, "400", audio=await _caller_tone(tmp_path, 30), hold=5, record=True)
    )
    await bob.phone.answer(since=mark)
    await asyncio.sleep(2)
    server.kill()
    await asyncio.sleep(2)  # no controller: Asterisk's bridge carries the audio alone
    server.start()
    await eventually(lambda: bob.state() == ("on_call", ""), within=10)  # taken back
    await asyncio.sleep(2)
    await bob.phone.hangup()  # and a hang-up after the restart ends it properly
    report = await call
    assert report.hung_up_by == "pbx", report
    assert report.heard is not None and longest_silence(report.heard) < 1.0
    assert seconds_of_tone(report.heard, COLLEAGUE_TONE) > 5
    record, events = _timeline(admin, report)
    assert record["ended_by"] == "agent" and record["agent_id"] == bob.id
    assert record["disposition"] == "completed" and record["talk_seconds"] > 5, record
    assert _types(events).count("adopted") == 1
    await eventually(lambda: bob.state() == ("available", ""), within=5)


def test_the_wallboard_keeps_today_after_a_restart(admin):
    """The crash above restarted the server: the board starts from the stored rollups,
    so today's figures still match the day's report, queue by queue."""
    board = admin.get("/api/wallboard").json()
    day = {"from": board["day"], "to": board["day"], "group": "queue"}
    rows = {r["group"]: r for r in admin.get("/api/reports/service", params=day).json()["rows"]}
    assert sum(row["offered"] for row in rows.values()) > 0
    keys = ("offered", "answered", "abandoned", "overflowed", "handled", "service_level")
    for name, row in rows.items():
        assert {k: board["queues"][name][k] for k in keys} == {k: row[k] for k in keys}, name


async def test_a_softphone_conversation_resumes_when_the_desktop_reconnects(
    floor, cat, admin, server, settings, tmp_path
):
    _, phone = cat
    call, _, _ = await _answered(phone, settings, tmp_path, seconds=40, hold=1)
    await asyncio.sleep(2)
    server.kill()
    await asyncio.sleep(1)
    server.start()
    resumed = phone.mark()
    await phone.reconnect()  # the desktop reconnects by itself; the caller heard music
    assert (await phone.wait_for("connected", since=resumed))["task_id"]
    after = len(phone.heard)
    await asyncio.sleep(3)
    assert seconds_of_tone(phone.save_heard(tmp_path / "resumed.wav", after), CALLER_TONE) > 2
    await phone.send({"type": "hangup"})
    record, events = _timeline(admin, await call)
    assert record["ended_by"] == "agent"
    assert _types(events).count("adopted") == 1
    assert {"hold", "unhold"} <= set(_types(events))  # music until the desktop was back


async def test_a_caller_whose_agent_does_not_come_back_returns_to_the_queue(
    floor, cat, admin, server, settings, tmp_path
):
    _, phone = cat
    bob = floor["bob"]
    call, _, _ = await _answered(phone, settings, tmp_path, seconds=40, hold=1, record=True)
    await asyncio.sleep(1)
    server.kill()
    await phone.close()  # cat's desktop is gone for good
    server.start()
    bob.choose("available")  # the restarted floor starts empty: bob logs in again
    mark = bob.phone.mark()
    await bob.phone.answer(within=20, since=mark)  # after the rejoin wait, the queue rings him
    await asyncio.sleep(3)
    await bob.phone.hangup()
    report = await call
    assert report.heard is not None and seconds_of_tone(report.heard, COLLEAGUE_TONE) > 2
    record, events = _timeline(admin, report)
    assert record["agent_id"] == bob.id and record["transfers"] == 1
    assert "transfer.queue" in _types(events)
