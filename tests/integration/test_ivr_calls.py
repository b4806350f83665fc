"""IVR flows on real calls: the carrier simulator dials in over SIP with DTMF and audio,
the real server runs the flows over ARI, and the path each call took is read back from
the API."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import wave
from array import array
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiohttp import web

from callcenter.pbx.carrier import place_call
from tests.support.controller import ServerProcess, free_port, settings_env

pytestmark = pytest.mark.asterisk

ADMIN_PASSWORD = "ivr-admin-password"
LOOKUP_PORT = free_port()


def _closed_hours_now() -> dict:
    """Opening hours that exclude this very moment (Shanghai time): one hour, 6 h ago."""
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    start = (now - timedelta(hours=6)).replace(minute=0)
    day = start.strftime("%a").lower()
    window = f"{start:%H}:00-{start:%H}:59"
    return {"timezone": "Asia/Shanghai", "weekly": {day: [window]}}


FLOWS = {
    "menu": {
        "name": "menu",
        "numbers": ["300"],
        "start": "welcome",
        "nodes": {
            "welcome": {
                "type": "play",
                "prompt": {"file": "prompts/en/welcome.wav"},
                "next": "menu",
            },
            "menu": {
                "type": "menu",
                "prompt": {"say": "Press 1 for orders, 3 to wait, 4 for your account."},
                "options": {
                    "1": "order",
                    "3": "wait",
                    "4": "account",
                    "5": "other",
                    "6": "call_me",
                    "7": "agent",
                },
                "on_failure": "bye",
            },
            "order": {
                "type": "collect",
                "prompt": {"say": "Your order number, then hash."},
                "store": "order",
                "min_digits": 4,
                "max_digits": 6,
                "next": "status",
            },
            "status": {
                "type": "play",
                "prompt": {"say": "Order {order} is on its way."},
                "next": "bye",
            },
            "wait": {
                "type": "queue",
                "queue": "support",
                "skills": ["billing"],
                "max_wait": 2,
                "on_timeout": "bye",
            },
            "account": {
                "type": "lookup",
                "url": f"http://127.0.0.1:{LOOKUP_PORT}/customers/{{caller_number}}",
                "store": {"tier": "customer.tier"},
                "next": "tier",
                "on_error": "bye",
            },
            "tier": {
                "type": "play",
                "prompt": {"say": "You are a {tier} customer."},
                "next": "bye",
            },
            "other": {"type": "set", "variables": {"came_from": "menu"}, "next": "jump"},
            "jump": {"type": "goto", "flow": "closed"},
            "agent": {"type": "transfer", "extension": "2001"},
            "call_me": {
                "type": "callback",
                "prompt": {"say": "We can call you back."},
                "next": "bye",
            },
            "bye": {"type": "hangup", "prompt": {"sound": "goodbye"}},
        },
    },
    "closed": {
        "name": "closed",
        "numbers": ["301"],
        "start": "hours",
        "nodes": {
            "hours": {
                "type": "condition",
                "branches": [{"business_hours": _closed_hours_now(), "then": "open"}],
                "otherwise": "message",
            },
            "open": {"type": "hangup"},
            "message": {"type": "voicemail", "beep": True, "max_seconds": 20, "next": "bye"},
            "bye": {"type": "hangup"},
        },
    },
    "speech": {
        "name": "speech",
        "numbers": ["302"],
        "language": "zh",
        "start": "ask",
        "nodes": {
            "ask": {
                "type": "speech_menu",
                "prompt": {"say": "请说账单或技术，或者按1或2。"},
                "phrases": {"账单": "billing", "技术": "tech"},
                "dtmf": {"1": "billing", "2": "tech"},
                "on_failure": "tech",
            },
            "billing": {"type": "hangup", "prompt": {"say": "账单"}},
            "tech": {"type": "hangup", "prompt": {"say": "技术"}},
        },
    },
    "speech_en": {
        "name": "speech_en",
        "numbers": ["303"],
        "start": "ask",
        "nodes": {
            "ask": {
                "type": "speech_menu",
                "prompt": {"say": "How can I help?"},
                "phrases": {"check my order": "billing", "i want to talk to an agent": "agent"},
                "dtmf": {"1": "billing"},
                "timeout": 8,
                "retries": 1,
                "on_failure": "nothing",
            },
            "billing": {"type": "hangup"},
            "agent": {"type": "hangup"},
            "nothing": {"type": "hangup"},
        },
    },
}


@pytest.fixture(scope="module")
def lookup_server() -> Iterator[None]:
    """The 'CRM' a lookup node asks, as a real HTTP server in a thread."""

    async def customer(request: web.Request) -> web.Response:
        return web.json_response({"customer": {"number": request.match_info["n"], "tier": "gold"}})

    app = web.Application()
    app.router.add_get("/customers/{n}", customer)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", LOOKUP_PORT).start())
    thread = __import__("threading").Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


@pytest.fixture(scope="module")
def settings(asterisk, tmp_path_factory):
    flows = tmp_path_factory.mktemp("flows")
    for name, flow in FLOWS.items():
        (flows / f"{name}.yaml").write_text(json.dumps(flow, ensure_ascii=False))  # JSON is YAML
    return asterisk.settings.model_copy(
        update={"http_port": free_port(), "flows_dir": flows, "voicemail_ticket_group": "support"}
    )


@pytest.fixture(scope="module")
def server(settings, lookup_server, tmp_path_factory) -> Iterator[ServerProcess]:
    subprocess.run(
        [sys.executable, "-m", "callcenter", "users", "create", "ivradmin",
         "--role", "admin", "--password", ADMIN_PASSWORD],
        env=settings_env(settings), check=True, capture_output=True,
    )  # fmt: skip
    proc = ServerProcess(settings, tmp_path_factory.mktemp("server") / "server.log")
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def api(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        r = client.post(
            "/api/auth/login", json={"username": "ivradmin", "password": ADMIN_PASSWORD}
        )
        client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield client


def _path(api: httpx.Client, channel_id: str, timeout: float = 15) -> tuple[dict, list[dict]]:
    """The call and its timeline, once the call has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        calls = [c for c in api.get("/api/calls").json()["items"] if c["channel_id"] == channel_id]
        if calls and calls[0]["state"] == "ended":
            detail = api.get(f"/api/calls/{calls[0]['id']}").json()
            return calls[0], detail["events"]
        time.sleep(0.2)
    raise TimeoutError(f"call {channel_id} did not end")


def _nodes(events: list[dict]) -> list[str]:
    return [e["data"]["node"] for e in events if e["type"] == "ivr.node"]


def _end(events: list[dict]) -> dict:
    return next(e["data"] for e in events if e["type"] == "ivr.end")


async def test_menu_then_collect_with_type_ahead_digits(settings, api):
    report = await place_call(settings, "300", dtmf="1w4321#", hold=15)
    assert report.answered, report
    call, events = _path(api, report.inbound_channel_id)
    assert _nodes(events) == ["welcome", "menu", "order", "status", "bye"]
    collected = [e["data"] for e in events if e["type"] == "ivr.set"]
    assert collected == [{"node": "order", "variables": {"order": "4321"}}]
    assert _end(events)["reason"] == "hangup"
    assert report.hung_up_by == "pbx" and call["ended_by"] == "system"


async def test_queue_holds_then_times_out(settings, api):
    report = await place_call(settings, "300", dtmf="3", hold=20, record=True)
    _call, events = _path(api, report.inbound_channel_id)
    assert _nodes(events) == ["welcome", "menu", "wait", "bye"]
    queued = next(e["data"] for e in events if e["type"] == "ivr.queued")
    assert queued["queue"] == "support" and queued["skills"] == ["billing"]
    assert report.hung_up_by == "pbx"


async def test_lookup_fills_variables_from_the_crm(settings, api):
    report = await place_call(settings, "300", dtmf="4", hold=20, caller="+8613900001111")
    _call, events = _path(api, report.inbound_channel_id)
    assert _nodes(events) == ["welcome", "menu", "account", "tier", "bye"]
    lookup = next(e["data"] for e in events if e["type"] == "ivr.lookup")
    assert lookup["ok"] and lookup["variables"] == {"tier": "gold"}


async def test_goto_another_flow_after_hours_takes_a_voicemail(settings, asterisk, api, tmp_path):
    # CALLCENTER_VOICEMAIL_TICKET_GROUP is "support": each message makes a ticket there.
    assert api.post("/api/ticket-groups", json={"name": "support"}).status_code == 201
    speech = tmp_path / "message.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(speech), "Hello, please call me back about my order."], check=True
    )
    report = await place_call(settings, "301", audio=speech, hold=2)
    assert report.answered, report
    _call, events = _path(api, report.inbound_channel_id)
    assert _nodes(events) == ["hours", "message"], events
    assert next(e["data"] for e in events if e["type"] == "ivr.branch")["to"] == "message"
    stored = next(e["data"] for e in events if e["type"] == "voicemail")["recording"]
    host, _ = asterisk.instance_file(f"spool/recording/{stored['name']}.wav")
    assert host.exists(), host
    with wave.open(str(host)) as w:
        samples = array("h", w.readframes(w.getnframes()))
        seconds = w.getnframes() / w.getframerate()
    assert seconds > 1.0 and max(map(abs, samples)) > 2000  # the caller's words, not silence
    _voicemail_ticket(api, _call, seconds)

    report = await place_call(settings, "300", dtmf="5", hold=12)
    _call, events = _path(api, report.inbound_channel_id)
    assert _nodes(events)[:4] == ["welcome", "menu", "other", "jump"]
    assert _nodes(events)[4:6] == ["hours", "message"]  # the other flow, from its start


def _voicemail_ticket(api: httpx.Client, call: dict, seconds: float) -> None:
    """The ticket the message made: the caller's, in support, and the message plays
    through the call's recording."""
    deadline = time.monotonic() + 10
    while not (found := api.get("/api/tickets", params={"q": ""}).json()["items"]):
        assert time.monotonic() < deadline, "no ticket from the voicemail"
        time.sleep(0.2)
    ticket = next(t for t in found if t["call_id"] == call["id"])
    assert ticket["source"] == "call" and ticket["status"] == "new"
    assert ticket["requester_id"] == call["customer_id"] is not None
    assert "/recording" in ticket["description"]
    audio = api.get(f"/api/calls/{call['id']}/recording")
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    assert len(audio.content) > seconds * 8000  # the message itself (16-bit 8 kHz or more)


async def test_speech_menu_understands_a_spoken_phrase(settings, api, tmp_path):
    said = tmp_path / "agent.wav"
    subprocess.run(["espeak-ng", "-w", str(said), "I want to talk to an agent"], check=True)
    # The caller hesitates after the question: the pause before speech must not end it.
    padded = tmp_path / "agent-padded.wav"
    subprocess.run(["sox", str(said), str(padded), "pad", "4", "0"], check=True)
    report = await place_call(settings, "303", audio=padded, hold=8)
    _call, events = _path(api, report.inbound_channel_id)
    assert _nodes(events) == ["ask", "agent"], events
    heard = next(e["data"] for e in events if e["type"] == "ivr.input")
    assert heard["said"] == "i want to talk to an agent"


async def test_speech_menu_falls_back_to_the_keypad_in_chinese(settings, api):
    report = await place_call(settings, "302", dtmf="1", hold=15)
    _call, events = _path(api, report.inbound_channel_id)
    assert _nodes(events) == ["ask", "billing"]


async def test_callback_confirms_the_callers_number(settings, api):
    report = await place_call(settings, "300", dtmf="61", hold=25, caller="+8613700002222")
    _call, events = _path(api, report.inbound_channel_id)
    assert _nodes(events) == ["welcome", "menu", "call_me", "bye"]
    requested = next(e["data"] for e in events if e["type"] == "callback.requested")
    assert requested["number"] == "+8613700002222"
    confirm = next(e["data"] for e in events if e["type"] == "ivr.confirm")
    assert confirm["key"] == "1"


async def test_transfer_hands_the_call_to_the_dialplan(settings, api):
    report = await place_call(settings, "300", dtmf="7", hold=20)
    call, events = _path(api, report.inbound_channel_id)
    assert _nodes(events) == ["welcome", "menu", "agent"]
    assert call["disposition"] == "transferred"
    # Extension 2001 is not registered: the dialplan apologises and hangs up.
    assert report.hung_up_by == "pbx"


async def test_edited_flow_is_reloaded_and_a_broken_one_is_refused(settings, api, server):
    path = settings.flows_dir / "speech.yaml"
    original = path.read_text()
    try:
        broken = json.loads(original)
        broken["nodes"]["ask"]["on_failure"] = "nowhere"
        path.write_text(json.dumps(broken, ensure_ascii=False))
        await asyncio.sleep(2.5)
        assert "nowhere" in server.tail(200)  # the server says why it kept the old flow
        report = await place_call(settings, "302", dtmf="2", hold=15)
        _, events = _path(api, report.inbound_channel_id)
        assert _nodes(events) == ["ask", "tech"]  # still the last good version
        changed = json.loads(original)
        changed["nodes"]["ask"]["dtmf"] = {"1": "tech", "2": "billing"}
        path.write_text(json.dumps(changed, ensure_ascii=False))
        await asyncio.sleep(2.5)
        report = await place_call(settings, "302", dtmf="2", hold=15)
        _, events = _path(api, report.inbound_channel_id)
        assert _nodes(events) == ["ask", "billing"]
    finally:
        path.write_text(original)
