"""The agent desktop in Debian's chromium, on a real call: the carrier simulator calls,
the IVR queues the call, the page shows the screen-pop, the agent answers in the
browser's softphone, hears the caller (the page's own analyser finds the caller's tone),
the caller hears the agent (chromium's fake microphone plays a tone of its own), the
agent hangs up and wraps up with a code and notes.

Sync (Playwright's sync API) and in a module of its own: the call runs in a thread with
its own event loop.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from callcenter.pbx.carrier import CallReport, place_call
from tests.integration.sip import tone_wav_args
from tests.support.audio import seconds_of_tone
from tests.support.controller import ServerProcess, free_port, settings_env

pytestmark = pytest.mark.asterisk

ADMIN = {"username": "deskadmin", "password": "desk-admin-password"}
AGENT = {"username": "dee", "password": "desk-agent-password"}
CALLER_TONE, AGENT_TONE = 1000, 440
CALLER = "+8613700003333"
ROUTING = """
queues:
  support:
    skills: {support: 1}
    ring_timeout: 30
    wrap_up: 60
"""
FLOW = {
    "name": "desk",
    "numbers": ["410"],
    "start": "topic",
    "nodes": {
        "topic": {"type": "set", "variables": {"topic": "billing"}, "next": "wait"},
        "wait": {"type": "queue", "queue": "support", "max_wait": 60},
    },
}


@pytest.fixture(scope="module")
def settings(asterisk, tmp_path_factory):
    work = tmp_path_factory.mktemp("desk")
    (work / "flows").mkdir()
    (work / "flows" / "desk.yaml").write_text(json.dumps(FLOW))
    (work / "routing.yaml").write_text(ROUTING)
    return asterisk.settings.model_copy(
        update={
            "http_port": free_port(),
            "flows_dir": work / "flows",
            "routing_file": work / "routing.yaml",
        }
    )


@pytest.fixture(scope="module")
def server(settings, tmp_path_factory) -> Iterator[ServerProcess]:
    env = settings_env(settings)
    cli = [sys.executable, "-m", "callcenter", "users", "create"]
    for user, role in ((ADMIN, "admin"), (AGENT, "agent")):
        subprocess.run([*cli, user["username"], "--role", role, "--password", user["password"]],
                       env=env, check=True, capture_output=True)  # fmt: skip
    proc = ServerProcess(settings, tmp_path_factory.mktemp("desk-server") / "server.log")
    proc.start()
    with httpx.Client(base_url=proc.url, timeout=10) as admin:
        token = admin.post("/api/auth/login", json=ADMIN)
        admin.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        agent = next(
            a for a in admin.get("/api/agents").json() if a["username"] == AGENT["username"]
        )
        profile = {"skills": {"support": 4}}
        admin.put(f"/api/agents/{agent['user_id']}/profile", json=profile).raise_for_status()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is missing: run scripts/bootstrap.sh test", pytrace=False)
    microphone = tmp_path_factory.mktemp("mic") / "agent.wav"
    subprocess.run(tone_wav_args(microphone, 120, AGENT_TONE, 120), check=True)
    args = [
        "--no-sandbox",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=args)
        page = browser.new_page()
        yield page
        browser.close()


class CallThread(threading.Thread):
    """A simulated caller, on its own event loop beside Playwright's."""

    def __init__(self, settings, audio: Path) -> None:
        super().__init__(daemon=True)
        self.settings, self.audio = settings, audio
        self.report: CallReport | None = None

    def run(self) -> None:
        call = place_call(self.settings, "410", audio=self.audio, hold=30, caller=CALLER,
                          record=True)  # fmt: skip
        self.report = asyncio.run(call)


def test_answer_hear_hang_up_and_wrap_up_in_the_browser(page, server, settings, tmp_path):
    page.goto(server.url + "/agent.html")
    page.fill("input[name=username]", AGENT["username"])
    page.fill("input[name=password]", AGENT["password"])
    page.click("form#login button")
    page.wait_for_selector("#phone-state[data-state=ready]", timeout=15000)
    page.click("#available")
    page.wait_for_selector("#state[data-state=available]")

    caller_audio = tmp_path / "caller.wav"
    subprocess.run(tone_wav_args(caller_audio, 40, CALLER_TONE, 40), check=True)
    call = CallThread(settings, caller_audio)
    call.start()
    page.wait_for_selector("#offer:not([hidden])", timeout=30000)
    assert page.inner_text("#offer-number") == CALLER
    assert "topic = billing" in page.inner_text("#offer-variables")  # set in the IVR
    assert page.inner_text("#offer-path") == "topic → wait"
    assert "new" in page.inner_text("#offer-customer")  # a first call: a new profile
    page.click("#accept")
    page.wait_for_selector("#call:not([hidden])", timeout=10000)
    page.wait_for_selector("#state[data-state=on_call]")

    heard = _dominant_frequency(page, near=CALLER_TONE)
    assert abs(heard - CALLER_TONE) < 50, heard  # the agent hears the caller
    # The transfer list offers the queues of routing.yaml.
    page.wait_for_selector("#to-queues option[value='queue:support']", state="attached")
    time.sleep(3)  # time for the caller to hear the agent
    page.click("#hangup")
    page.wait_for_selector("#wrapup:not([hidden])", timeout=10000)
    page.wait_for_selector("#state[data-state=wrap_up]")
    page.select_option("#code", "follow_up")
    page.fill("#notes", "call back about invoice 4711")
    page.click("#done")
    page.wait_for_selector("#wrapup", state="hidden")
    page.wait_for_selector("#state[data-state=available]")  # wrap-up over at once
    # The call is in the agent's own history, with the wrap-up chosen.
    page.wait_for_function(
        "document.querySelector('#history tbody').innerText.includes('Needs follow-up')"
    )
    assert CALLER in page.inner_text("#history tbody")

    call.join(60)
    report = call.report
    assert report is not None and report.hung_up_by == "pbx", report
    assert report.heard is not None and seconds_of_tone(report.heard, AGENT_TONE) > 1.5
    record = _record(server, report.inbound_channel_id)
    assert record["wrap_up_code"] == "follow_up" and "4711" in record["notes"]
    assert record["ended_by"] == "agent" and record["talk_seconds"] > 2


def test_the_dial_pad_places_a_call_and_reports_no_answer(page, server):
    # Logged in and available after the test above (same page, same session).
    page.wait_for_selector("#state[data-state=available]")
    page.fill("#dial-number", "")
    for key in "2999":  # no phone has this extension
        page.click(f"#keys button:text-is('{key}')")
    assert page.input_value("#dial-number") == "2999"
    page.click("#dial")
    page.wait_for_function(
        "document.getElementById('message').textContent.includes('Nobody answered')"
    )
    page.wait_for_selector("#call", state="hidden")
    page.wait_for_selector("#state[data-state=available]")  # back where the agent was


def _dominant_frequency(page, near: float, within: float = 10.0) -> float:
    """What the page's softphone hears, once the call's audio has reached it."""
    deadline = time.monotonic() + within
    heard = 0.0
    while time.monotonic() < deadline:
        heard = page.evaluate("window.softphone.dominantFrequency()")
        if abs(heard - near) < 50:
            return float(heard)
        time.sleep(0.2)
    return float(heard)


def _record(server: ServerProcess, channel_id: str) -> dict:
    with httpx.Client(base_url=server.url, timeout=10) as admin:
        token = admin.post("/api/auth/login", json=ADMIN)
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        for _ in range(50):
            calls = admin.get("/api/calls", headers=headers).json()["items"]
            found = [c for c in calls if c["channel_id"] == channel_id]
            if found and found[0]["wrap_up_code"]:
                return dict(found[0])
            time.sleep(0.2)
    raise AssertionError(f"no wrapped-up record for {channel_id}")
