"""ARI and AMI clients against the real local Asterisk (the session `asterisk` fixture).

What only a real Asterisk can show: the events websocket registers the app, an
originated Local channel raises StasisStart with our args, REST operations act on it,
hangup raises StasisEnd, 404 really means gone; AMI login, CLI output format, Ping.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from callcenter.backoff import Backoff
from callcenter.pbx.ami import AmiClient
from callcenter.pbx.ari import AriClient, AriNotFound
from callcenter.pbx.channels import Channel, StasisArgs, is_helper_channel

pytestmark = pytest.mark.asterisk


class EventLog:
    """Collects ARI events and lets a test wait for the first one matching."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    async def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait(self, kind: str, channel_id: str, within: float = 10.0) -> dict[str, Any]:
        async with asyncio.timeout(within):
            while True:
                for event in self.events:
                    channel = event.get("channel") or {}
                    if event.get("type") == kind and channel.get("id") == channel_id:
                        return event
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture(params=[False, True], ids=["rest-over-http", "rest-over-websocket"])
async def ari(asterisk: Any, request: pytest.FixtureRequest) -> AsyncIterator[AriClient]:
    user, password = asterisk.ari_credentials
    # A private app name: never steals the controller's app (ApplicationReplaced).
    app = f"ari-live-{secrets.token_hex(4)}"
    client = AriClient(
        asterisk.ari_url,
        user,
        password,
        app,
        backoff=Backoff(initial=0.1),
        rest_over_websocket=request.param,
    )
    yield client
    await client.stop()


@pytest.fixture
async def ami(asterisk: Any) -> AsyncIterator[AmiClient]:
    user, secret = asterisk.ami_credentials
    client = AmiClient("127.0.0.1", asterisk.settings.ami_port, user, secret)
    yield client
    await client.stop()


async def test_ari_call_lifecycle(ari: AriClient) -> None:
    log = EventLog()
    resynced = asyncio.Event()

    async def on_connected() -> None:
        await ari.list_channels()
        resynced.set()

    ari.add_handler(log)
    ari.add_on_connected(on_connected)
    await ari.start()
    await ari.wait_connected(5)
    await asyncio.wait_for(resynced.wait(), 5)
    assert await ari.ping()
    info = await ari.asterisk_info()
    assert info["system"]["version"].startswith("22")

    channel_id = f"live-{secrets.token_hex(4)}"
    # 199 in [inbound] answers and waits: the Local ;1 half enters our app.
    await ari.originate(
        "Local/199@inbound",
        app_args=["live", "test"],
        channel_id=channel_id,
        variables={"CC_TEST": "yes"},
        timeout=10,
    )
    start = await log.wait("StasisStart", channel_id)
    assert StasisArgs.from_event(start).args == ("live", "test")
    assert not is_helper_channel(start)
    channel = Channel.from_ari(start["channel"])
    assert channel.name.startswith("Local/199@inbound")

    await ari.answer(channel_id)
    assert (await ari.get_channel(channel_id))["state"] == "Up"
    assert await ari.get_variable(channel_id, "CC_TEST") == "yes"
    assert await ari.get_variable(channel_id, "CC_NEVER_SET") is None
    await ari.set_variable(channel_id, "CC_CALL", "c-1")
    assert await ari.get_variable(channel_id, "CC_CALL") == "c-1"
    assert channel_id in {c["id"] for c in await ari.list_channels()}

    await ari.hangup(channel_id)
    await log.wait("StasisEnd", channel_id)
    # The hang-up completes after StasisEnd: until the channel is destroyed a second
    # DELETE still finds it. Once it is gone, it is a 404.
    async with asyncio.timeout(5):
        while channel_id in {c["id"] for c in await ari.list_channels()}:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    with pytest.raises(AriNotFound):
        await ari.hangup(channel_id)


async def test_ari_bridge_round_trip(ari: AriClient) -> None:
    bridge_id = f"live-br-{secrets.token_hex(4)}"
    bridge = await ari.create_bridge("mixing", bridge_id=bridge_id, name="live")
    assert bridge["id"] == bridge_id
    assert bridge_id in {b["id"] for b in await ari.list_bridges()}
    await ari.destroy_bridge(bridge_id)
    # Asterisk tears the bridge down after answering; meanwhile a second DELETE gets
    # 409 "not in Stasis application". Once it is gone, it is a 404.
    async with asyncio.timeout(5):
        while bridge_id in {b["id"] for b in await ari.list_bridges()}:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    with pytest.raises(AriNotFound):
        await ari.destroy_bridge(bridge_id)


async def test_ami_login_command_ping_and_events(ami: AmiClient) -> None:
    seen: list[str] = []

    async def record(event: dict[str, Any]) -> None:
        seen.append(event["Event"])

    ami.add_handler("*", record)
    await ami.start()
    await ami.wait_connected(5)
    version = await ami.command("core show version")
    assert version.startswith("Asterisk 22")
    assert await ami.ping()
    status = await ami.action({"Action": "CoreStatus"})
    assert isinstance(status, dict) and status["Response"] == "Success"
    async with asyncio.timeout(5):
        while "FullyBooted" not in seen:  # noqa: ASYNC110 - sent right after login
            await asyncio.sleep(0.05)
    assert "TestEvent" not in seen
