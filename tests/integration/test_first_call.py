"""The first call end to end: real SIP from the carrier simulator, the real controller
process, the REST API and the events websocket; then the controller crashes mid-call and
its ARI link is cut, and no call is lost or recorded twice."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import websockets

from callcenter.pbx.carrier import longest_silence, place_call
from tests.support.controller import ServerProcess, free_port, settings_env
from tests.support.tcpproxy import TcpProxy

pytestmark = pytest.mark.asterisk

ADMIN_PASSWORD = "integration-admin-pw"


@pytest.fixture(scope="module")
def settings(asterisk, tmp_path_factory):
    # No IVR flows: these tests are about the controller's own default (greeting, hold).
    no_flows = tmp_path_factory.mktemp("no-flows")
    return asterisk.settings.model_copy(update={"http_port": free_port(), "flows_dir": no_flows})


@pytest.fixture(scope="module")
def admin(settings) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "callcenter",
            "users",
            "create",
            "itadmin",
            "--role",
            "admin",
            "--password",
            ADMIN_PASSWORD,
        ],
        env=settings_env(settings),
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def ari_proxy(settings) -> Iterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", settings.ari_port)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def server(settings, admin, ari_proxy, tmp_path_factory) -> Iterator[ServerProcess]:
    # The controller reaches ARI through a proxy the tests can cut like a network would.
    proc = ServerProcess(
        settings,
        tmp_path_factory.mktemp("server") / "server.log",
        CALLCENTER_ARI_URL=f"http://127.0.0.1:{ari_proxy.port}",
    )
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def token(server) -> str:
    r = httpx.post(
        f"{server.url}/api/auth/login", json={"username": "itadmin", "password": ADMIN_PASSWORD}
    )
    r.raise_for_status()
    return r.json()["access_token"]


class EventStream:
    """The /ws/events feed, collected in the background while a test places calls."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self._new = asyncio.Event()

    async def run(self, url: str, token: str) -> None:
        async with websockets.connect(f"{url}?token={token}") as ws:
            async for raw in ws:
                self.events.append(json.loads(raw))
                self._new.set()

    def of_channel(self, channel_id: str) -> list[str]:
        return [
            e["type"]
            for e in self.events
            if e.get("data", {}).get("call", {}).get("channel_id") == channel_id
        ]

    async def wait_for(self, predicate, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"events so far: {[e['type'] for e in self.events]}")
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), remaining)


@pytest.fixture
async def events(server, token) -> AsyncIterator[EventStream]:
    stream = EventStream()
    ws_url = server.url.replace("http://", "ws://") + "/ws/events"
    task = asyncio.create_task(stream.run(ws_url, token))
    await stream.wait_for(lambda: any(e["type"] == "hello" for e in stream.events))
    yield stream
    task.cancel()


def _calls(server: ServerProcess, token: str) -> list[dict]:
    r = httpx.get(f"{server.url}/api/calls", headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    return r.json()["items"]


def _call(server: ServerProcess, token: str, call_id: int) -> dict:
    r = httpx.get(f"{server.url}/api/calls/{call_id}", headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    return r.json()


def _by_channel(server, token, channel_id: str) -> list[dict]:
    return [c for c in _calls(server, token) if c["channel_id"] == channel_id]


async def _wait_ended(server, token, channel_id: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _by_channel(server, token, channel_id)
        if rows and rows[0]["state"] == "ended":
            return rows[0]
        await asyncio.sleep(0.2)
    raise TimeoutError(f"call on {channel_id} not ended: {_by_channel(server, token, channel_id)}")


async def test_call_is_recorded_with_its_events(settings, server, token, events):
    report = await place_call(settings, "100", dtmf="123", hold=3.0, caller="+8613800138000")
    assert report.answered, report
    call = await _wait_ended(server, token, report.inbound_channel_id)
    assert call["caller_number"] == "+8613800138000"
    assert call["dialed_number"] == "100"
    assert call["direction"] == "inbound"
    assert call["disposition"] == "completed"
    assert call["ended_by"] == "caller"
    assert call["hangup_cause"] == 16
    assert call["hangup_cause_text"] == "Normal Clearing"
    assert call["started_at"].endswith("+00:00")  # UTC, said so, on every backend
    assert call["customer_id"] is not None
    assert call["answered_at"] and call["ended_at"]
    assert 2.0 < call["duration_seconds"] < 15
    detail = _call(server, token, call["id"])
    kinds = [e["type"] for e in detail["events"]]
    assert kinds[:3] == ["started", "answered", "playback"]
    assert [e["data"]["digit"] for e in detail["events"] if e["type"] == "dtmf"] == list("123")
    assert kinds[-1] == "ended"
    await events.wait_for(lambda: "call.ended" in events.of_channel(report.inbound_channel_id))
    seen = events.of_channel(report.inbound_channel_id)
    assert seen[:2] == ["call.started", "call.answered"]
    assert seen.count("call.dtmf") == 3


async def test_controller_crash_mid_call_keeps_audio_and_adopts(settings, server, token, events):
    call_task = asyncio.create_task(
        place_call(settings, "100", hold=10.0, caller="+8613800138002", record=True)
    )
    await events.wait_for(lambda: any(e["type"] == "call.hold" for e in events.events))
    channel_id = next(
        e["data"]["call"]["channel_id"] for e in events.events if e["type"] == "call.hold"
    )
    crash_at = time.monotonic()
    server.kill()
    await asyncio.sleep(2.0)  # the caller keeps hearing music while no controller runs
    server.start()
    report = await call_task
    assert report.answered and report.hung_up_by == "caller", report
    # What the caller heard: no silence longer than the greeting's own pauses, though
    # no controller ran for two seconds of it.
    assert report.heard is not None
    assert longest_silence(report.heard) < 1.0, report
    assert report.duration_s > 9.0
    call = await _wait_ended(server, token, channel_id)
    assert len(_by_channel(server, token, channel_id)) == 1
    assert call["disposition"] == "completed"
    detail = _call(server, token, call["id"])
    kinds = [e["type"] for e in detail["events"]]
    assert kinds.count("adopted") == 1
    assert kinds.count("ended") == 1
    assert time.monotonic() - crash_at > 2.0


async def test_ari_link_cut_reconnects_and_resyncs(settings, server, token, ari_proxy, events):
    call_task = asyncio.create_task(place_call(settings, "100", hold=8.0, caller="+8613800138003"))
    await events.wait_for(
        lambda: any(
            e["type"] == "call.hold" and e["data"]["call"]["caller_number"] == "+8613800138003"
            for e in events.events
        )
    )
    channel_id = next(
        e["data"]["call"]["channel_id"]
        for e in events.events
        if e["type"] == "call.hold" and e["data"]["call"]["caller_number"] == "+8613800138003"
    )
    # The link drops and stays down while the caller hangs up: its StasisEnd is lost.
    ari_proxy.accepting = False
    ari_proxy.cut()
    first = await call_task
    assert first.answered and first.hung_up_by == "caller"
    ari_proxy.accepting = True
    call = await _wait_ended(server, token, channel_id)
    assert call["disposition"] == "lost"
    assert len(_by_channel(server, token, channel_id)) == 1
    body = httpx.get(f"{server.url}/api/health").json()
    assert body["components"]["asterisk_ari"] == "ok"
    # After the reconnect new calls are handled as before.
    report = await place_call(settings, "100", dtmf="9", hold=1.5, caller="+8613800138004")
    assert report.answered
    call = await _wait_ended(server, token, report.inbound_channel_id)
    assert call["disposition"] == "completed"
    assert not [c for c in _calls(server, token) if c["state"] != "ended"]
