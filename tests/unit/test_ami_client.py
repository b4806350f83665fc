"""AmiClient against a real AMI peer: an asyncio TCP server speaking the AMI protocol.

Wire format as Asterisk 22 sends it: a banner line, `Key: Value` lines ending in CRLF,
a blank line between messages, ActionID echoed in responses, CLI output as repeated
`Output:` headers, async Originate answered twice under one ActionID.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from callcenter.backoff import Backoff
from callcenter.pbx.ami import AmiClient, AmiDisconnected, AmiError, AmiState

USER, SECRET = "cc", "amisecret"
EOL = "\r\n"


def wire(*headers: tuple[str, str]) -> bytes:
    return (EOL.join(f"{k}: {v}" for k, v in headers) + EOL + EOL).encode()


class FakeAmi:
    """Enough of Asterisk's manager.c for login, Ping, Command, Originate and events."""

    def __init__(self) -> None:
        self.writers: list[asyncio.StreamWriter] = []
        self.logins = 0
        self.received: list[list[tuple[str, str]]] = []
        self.answer_pings = True
        self.logged_in = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self.drop()
            await self._server.wait_closed()
            self._server = None

    async def send(self, *headers: tuple[str, str]) -> None:
        for writer in self.writers:
            writer.write(wire(*headers))
            await writer.drain()

    async def drop(self) -> None:
        for writer in list(self.writers):
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        self.writers.clear()
        self.logged_in.clear()

    async def shutdown(self) -> None:
        """What Asterisk does on `core restart now`: announce, then close."""
        await self.send(("Event", "Shutdown"), ("Shutdown", "Cleanly"), ("Restart", "True"))
        await self.drop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        await writer.drain()
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                headers = [
                    tuple(line.split(": ", 1))
                    for line in raw.decode().strip().split(EOL)
                    if ": " in line
                ]
                self.received.append(headers)  # type: ignore[arg-type]
                if not await self._answer(dict(headers), headers, writer):  # type: ignore[arg-type]
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if writer in self.writers:
                self.writers.remove(writer)
            writer.close()

    async def _answer(
        self, h: dict[str, str], headers: list[tuple[str, str]], writer: asyncio.StreamWriter
    ) -> bool:
        action, aid = h.get("Action", "").lower(), h.get("ActionID", "")
        out: list[bytes] = []
        if action == "login":
            if (h.get("Username"), h.get("Secret")) != (USER, SECRET):
                writer.write(
                    wire(
                        ("Response", "Error"),
                        ("ActionID", aid),
                        ("Message", "Authentication failed"),
                    )
                )
                await writer.drain()
                return False
            self.logins += 1
            self.writers.append(writer)
            out.append(
                wire(
                    ("Response", "Success"),
                    ("ActionID", aid),
                    ("Message", "Authentication accepted"),
                )
            )
            out.append(
                wire(
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Status", "Fully Booted"),
                )
            )
            self.logged_in.set()
        elif action == "ping":
            if not self.answer_pings:
                return True
            out.append(
                wire(
                    ("Response", "Success"),
                    ("ActionID", aid),
                    ("Ping", "Pong"),
                    ("Timestamp", "1700000000.000000"),
                )
            )
        elif action == "command":
            if h.get("Command") == "core show version":
                out.append(
                    wire(
                        ("Response", "Success"),
                        ("ActionID", aid),
                        ("Message", "Command output follows"),
                        ("Output", "Asterisk 22.0.0 built by fake"),
                        ("Output", "second line"),
                    )
                )
            else:
                out.append(
                    wire(
                        ("Response", "Error"),
                        ("ActionID", aid),
                        ("Message", "Command output follows"),
                        ("Output", "No such command"),
                    )
                )
        elif action == "originate":
            out.append(
                wire(
                    ("Response", "Success"),
                    ("ActionID", aid),
                    ("Message", "Originate successfully queued"),
                )
            )
            ok = h.get("Channel") != "PJSIP/busy"
            out.append(
                wire(
                    ("Event", "OriginateResponse"),
                    ("ActionID", aid),
                    ("Response", "Success" if ok else "Failure"),
                    ("Channel", h.get("Channel", "")),
                    ("Reason", "4" if ok else "5"),
                    ("Uniqueid", h.get("ChannelId", "1700.1")),
                )
            )
        elif action == "silent":
            return True
        else:
            out.append(
                wire(
                    ("Response", "Error"), ("ActionID", aid), ("Message", "Invalid/unknown command")
                )
            )
        for chunk in out:
            writer.write(chunk)
        await writer.drain()
        return True


def fast_backoff() -> Backoff:
    return Backoff(initial=0.02, factor=2.0, max=0.1, jitter=0.1)


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = FakeAmi()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def ami(fake: FakeAmi) -> AsyncIterator[AmiClient]:
    client = AmiClient(
        "127.0.0.1", fake.port, USER, SECRET, backoff=fast_backoff(), action_timeout=0.5
    )
    yield client
    await client.stop()


async def wait_for(predicate: Any, within: float = 1.5) -> None:
    """Poll a condition on client state that has no event of its own to await."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def test_login_ping_and_command(
    fake: FakeAmi, ami: AmiClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="callcenter.pbx.ami"):
        await asyncio.gather(ami.start(), ami.start())
        await ami.wait_connected(1)
    assert ami.connected and ami.state is AmiState.CONNECTED and fake.logins == 1
    assert "connecting -> connected" in caplog.text
    assert ami.version == "9.0.0"
    assert await ami.ping()
    assert await ami.command("core show version") == "Asterisk 22.0.0 built by fake\nsecond line"
    with pytest.raises(AmiError):
        await ami.command("core show nonsense")
    assert SECRET not in caplog.text


async def test_events_go_to_matching_handlers_in_order_test_events_ignored(
    fake: FakeAmi, ami: AmiClient
) -> None:
    dtmf: list[str] = []
    every: list[str] = []

    async def on_dtmf(event: dict[str, Any]) -> None:
        dtmf.append(event["Digit"])

    async def on_any(event: dict[str, Any]) -> None:
        every.append(event["Event"])

    ami.add_handler("DTMF*", on_dtmf)
    ami.add_handler("*", on_any)
    await ami.start()
    await fake.logged_in.wait()
    await fake.send(("Event", "TestEvent"), ("Type", "StateChange"))
    for digit in "123#":
        await fake.send(("Event", "DTMFEnd"), ("Channel", "PJSIP/x-1"), ("Digit", digit))
    await fake.send(("Event", "Hangup"), ("Channel", "PJSIP/x-1"), ("Cause", "16"))
    await wait_for(lambda: "Hangup" in every)
    assert dtmf == ["1", "2", "3", "#"]
    assert "TestEvent" not in every
    assert every[-5:] == ["DTMFEnd"] * 4 + ["Hangup"]


async def test_failing_handler_is_logged_not_lost(
    fake: FakeAmi, ami: AmiClient, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("ami handler bug")

    ami.add_handler("Newchannel", broken)
    await ami.start()
    await fake.logged_in.wait()
    with caplog.at_level(logging.ERROR):
        await fake.send(("Event", "Newchannel"), ("Channel", "PJSIP/x-2"))
        await wait_for(lambda: "ami handler bug" in caplog.text)
    assert "ami-event:Newchannel" in caplog.text
    assert await ami.ping()


async def test_reconnects_after_drop_and_after_shutdown_event(
    fake: FakeAmi, ami: AmiClient
) -> None:
    connects = 0

    async def on_connected() -> None:
        nonlocal connects
        connects += 1

    ami.add_on_connected(on_connected)
    await ami.start()
    await wait_for(lambda: connects == 1)
    await fake.drop()
    await wait_for(lambda: connects == 2)
    assert ami.connected and await ami.ping()
    await fake.shutdown()
    await wait_for(lambda: connects == 3)
    assert fake.logins == 3 and await ami.ping()


async def test_reconnects_when_server_comes_back_on_the_same_port(fake: FakeAmi) -> None:
    ami = AmiClient("127.0.0.1", fake.port, USER, SECRET, backoff=fast_backoff())
    await ami.start()
    await ami.wait_connected(1)
    await fake.stop()
    await wait_for(lambda: not ami.connected)
    await asyncio.sleep(0.15)  # refused attempts, at backoff pace
    await fake.start()
    await ami.wait_connected(1.5)
    assert await ami.ping()
    await ami.stop()


async def test_dead_link_detected_by_keepalive(fake: FakeAmi) -> None:
    ami = AmiClient(
        "127.0.0.1",
        fake.port,
        USER,
        SECRET,
        backoff=fast_backoff(),
        ping_interval=0.05,
        action_timeout=0.1,
    )
    await ami.start()
    await ami.wait_connected(1)
    fake.answer_pings = False  # the TCP link stays up, Asterisk is stuck
    await wait_for(lambda: fake.logins >= 2)
    fake.answer_pings = True
    await ami.wait_connected(1)
    await ami.stop()


async def test_bad_secret_is_retried_with_backoff(fake: FakeAmi) -> None:
    ami = AmiClient("127.0.0.1", fake.port, USER, "wrong", backoff=fast_backoff())
    await ami.start()
    with pytest.raises(TimeoutError):
        await ami.wait_connected(0.25)
    assert ami.state is not AmiState.CONNECTED
    attempts = sum(1 for h in fake.received if ("Action", "Login") in h)
    assert 2 <= attempts <= 12
    await ami.stop()


async def test_action_errors_timeouts_and_inflight_loss(fake: FakeAmi, ami: AmiClient) -> None:
    await ami.start()
    await ami.wait_connected(1)
    with pytest.raises(AmiError) as info:
        await ami.action({"Action": "Bogus"})
    assert info.value.response == {
        "Response": "Error",
        "ActionID": info.value.response["ActionID"],  # type: ignore[index]
        "Message": "Invalid/unknown command",
    }
    raw = await ami.action({"Action": "Bogus"}, check=False)
    assert isinstance(raw, dict) and raw["Response"] == "Error"
    with pytest.raises(TimeoutError):
        await ami.action({"Action": "Silent"}, timeout=0.05)
    pending = asyncio.create_task(ami.action({"Action": "Silent"}, timeout=5))
    await asyncio.sleep(0.02)
    began = time.monotonic()
    await fake.drop()
    with pytest.raises(AmiDisconnected):
        await pending
    assert time.monotonic() - began < 0.5  # failed at once, not at its timeout
    await ami.wait_connected(1)
    assert await ami.ping()


async def test_originate_async_returns_originate_response(fake: FakeAmi, ami: AmiClient) -> None:
    await ami.start()
    await ami.wait_connected(1)
    result = await ami.originate(
        "Local/100@callers",
        context="callers",
        exten="s",
        priority=1,
        caller_id="Test <555>",
        variables={"CALLER_WAV": "/tmp/a.wav", "CALLER_DTMF": "12"},
        channel_id="orig-1",
        timeout=5,
    )
    assert result["Event"] == "OriginateResponse" and result["Uniqueid"] == "orig-1"
    sent = next(h for h in fake.received if ("Action", "Originate") in h)
    assert ("Async", "true") in sent and ("Timeout", "5000") in sent
    assert ("Variable", "CALLER_WAV=/tmp/a.wav") in sent
    assert ("Variable", "CALLER_DTMF=12") in sent
    with pytest.raises(AmiError) as info:
        await ami.originate("PJSIP/busy", application="Wait", data="1", timeout=1)
    assert "reason 5" in str(info.value)


async def test_stop_is_prompt_idempotent_and_final(fake: FakeAmi) -> None:
    await fake.stop()  # nothing listens
    ami = AmiClient("127.0.0.1", fake.port, USER, SECRET, backoff=Backoff(initial=60, max=60))
    await ami.start()
    assert ami.state is AmiState.DISCONNECTED
    waiter = asyncio.create_task(ami.wait_connected())
    began = time.monotonic()
    await asyncio.gather(ami.stop(), ami.stop())
    assert time.monotonic() - began < 0.5
    assert ami.state is AmiState.STOPPED
    with pytest.raises(RuntimeError):
        await waiter
    with pytest.raises(AmiDisconnected):
        await ami.action({"Action": "Ping"})
    assert not await ami.ping()
    with pytest.raises(RuntimeError):
        await ami.start()
