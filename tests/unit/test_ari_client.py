"""AriClient against a real in-process ARI peer (Starlette under uvicorn).

The fake speaks the same HTTP + websocket protocol as Asterisk's res_ari: basic auth on
REST, `api_key` on the events websocket, `{"message": ...}` error bodies, 204 for
void operations. It can refuse websocket handshakes, drop live websockets, and go
away entirely (an Asterisk restart), which is what the reconnect logic is about.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from callcenter.backoff import Backoff
from callcenter.pbx.ari import AriClient, AriError, AriNotFound, AriState, AriUnavailable
from callcenter.pbx.channels import (
    Channel,
    StasisArgs,
    channel_of,
    event_channel_id,
    helper_args,
    is_helper_channel,
)

USER, PASSWORD, APP = "cc", "s3cret:&=", "callcenter"

CHANNEL = {
    "id": "1700000000.1",
    "name": "PJSIP/trunk-00000001",
    "state": "Ring",
    "caller": {"name": "Alice", "number": "+3312345678"},
    "connected": {"name": "", "number": ""},
    "accountcode": "",
    "dialplan": {
        "context": "from-trunk",
        "exten": "100",
        "priority": 3,
        "app_name": "Stasis",
        "app_data": "callcenter,inbound,100",
    },
    "creationtime": "2024-05-01T12:00:00.123+0000",
    "language": "en",
}


class FakeAri:
    """A minimal res_ari: REST routes the client uses, and /ari/events."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.raw_paths: list[bytes] = []
        self.channels: dict[str, dict[str, Any]] = {CHANNEL["id"]: dict(CHANNEL)}
        self.sockets: list[WebSocket] = []
        self.ws_attempts = 0
        self.refuse_ws = 0  # refuse this many next handshakes
        self.ws_connected = asyncio.Event()
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    # -- server lifecycle --

    def _app(self) -> Starlette:
        routes = [
            WebSocketRoute("/ari/events", self._events),
            Route("/ari/channels", self._channels, methods=["GET", "POST"]),
            Route("/ari/channels/externalMedia", self._external_media, methods=["POST"]),
            Route("/ari/channels/{cid}", self._channel, methods=["GET", "DELETE"]),
            Route("/ari/channels/{cid}/variable", self._variable, methods=["GET", "POST"]),
            Route("/ari/channels/{cid}/{op}", self._channel_op, methods=["POST", "DELETE"]),
            Route("/ari/asterisk/{what}", self._asterisk, methods=["GET"]),
            Route("/ari/{rest:path}", self._record_only, methods=["GET", "POST", "DELETE"]),
        ]
        return Starlette(routes=routes)

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app(), log_level="warning", lifespan="off", ws="websockets-sansio"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        """Go away like a stopping Asterisk: websockets closed, port closed."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        self._server.force_exit = True
        await self.drop()
        await self._task
        self._server = None
        self.ws_connected.clear()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- controls --

    async def send(self, event: dict[str, Any]) -> None:
        for ws in list(self.sockets):
            await ws.send_json(event)

    async def drop(self) -> None:
        for ws in list(self.sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1011)
        self.sockets.clear()
        self.ws_connected.clear()

    # -- handlers --

    def _authorized(self, request: Request) -> bool:
        expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    async def _events(self, ws: WebSocket) -> None:
        self.ws_attempts += 1
        params = ws.query_params
        good = params.get("api_key") == f"{USER}:{PASSWORD}" and params.get("app") == APP
        if self.refuse_ws > 0 or not good or params.get("subscribeAll") != "false":
            self.refuse_ws = max(0, self.refuse_ws - 1)
            await ws.close(code=1008)  # before accept: the handshake is refused
            return
        await ws.accept()
        self.sockets.append(ws)
        self.ws_connected.set()
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            if ws in self.sockets:
                self.sockets.remove(ws)

    async def _record(self, request: Request) -> Response | None:
        body = None
        raw = await request.body()
        if raw:
            body = await request.json()
        self.requests.append((request.method, request.url.path, dict(request.query_params), body))
        self.raw_paths.append(request.scope.get("raw_path", b""))
        if not self._authorized(request):
            return JSONResponse({"message": "Authentication required"}, status_code=401)
        return None

    async def _channels(self, request: Request) -> Response:
        if denied := await self._record(request):
            return denied
        if request.method == "GET":
            return JSONResponse(list(self.channels.values()))
        q = request.query_params
        cid = q.get("channelId") or "generated.1"
        channel = dict(CHANNEL, id=cid, name=q["endpoint"] + "-0001", state="Down")
        self.channels[cid] = channel
        return JSONResponse(channel)

    async def _external_media(self, request: Request) -> Response:
        if denied := await self._record(request):
            return denied
        cid = request.query_params.get("channelId", "em-1")
        host = request.query_params["external_host"]
        return JSONResponse(dict(CHANNEL, id=cid, name=f"UnicastRTP/{host}-0x1"))

    async def _channel(self, request: Request) -> Response:
        if denied := await self._record(request):
            return denied
        cid = request.path_params["cid"]
        if cid not in self.channels:
            return JSONResponse({"message": "Channel not found"}, status_code=404)
        if request.method == "DELETE":
            del self.channels[cid]
            return Response(status_code=204)
        return JSONResponse(self.channels[cid])

    async def _variable(self, request: Request) -> Response:
        if denied := await self._record(request):
            return denied
        cid = request.path_params["cid"]
        if cid not in self.channels:
            return JSONResponse({"message": "Channel not found"}, status_code=404)
        variables = self.channels[cid].setdefault("vars", {})
        name = request.query_params["variable"]
        if request.method == "POST":
            variables[name] = request.query_params["value"]
            return Response(status_code=204)
        if name not in variables:
            return JSONResponse({"message": "Provided variable was not found"}, status_code=404)
        return JSONResponse({"value": variables[name]})

    async def _channel_op(self, request: Request) -> Response:
        if denied := await self._record(request):
            return denied
        cid, op = request.path_params["cid"], request.path_params["op"]
        if cid not in self.channels:
            return JSONResponse({"message": "Channel not found"}, status_code=404)
        if op == "play":
            pid = request.query_params.get("playbackId", "pb-generated")
            return JSONResponse(
                {"id": pid, "media_uri": request.query_params["media"], "state": "queued"},
                status_code=201,
            )
        if op == "snoop":
            return JSONResponse({"id": request.query_params.get("snoopId", "snoop-1")})
        if op == "fail":
            return JSONResponse({"message": "Internal Server Error"}, status_code=500)
        return Response(status_code=204)

    async def _asterisk(self, request: Request) -> Response:
        if denied := await self._record(request):
            return denied
        if request.path_params["what"] == "ping":
            return JSONResponse({"ping": "pong", "asterisk_id": "fake"})
        return JSONResponse({"system": {"version": "22.0.0-fake"}})

    async def _record_only(self, request: Request) -> Response:
        if denied := await self._record(request):
            return denied
        if request.method == "POST" and request.url.path == "/ari/bridges":
            return JSONResponse({"id": request.query_params.get("bridgeId", "b1")})
        if request.method == "GET":
            return JSONResponse([])
        return Response(status_code=204)


def fast_backoff() -> Backoff:
    return Backoff(initial=0.02, factor=2.0, max=0.1, jitter=0.1)


@pytest.fixture
async def fake() -> AsyncIterator[FakeAri]:
    server = FakeAri()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(fake: FakeAri) -> AsyncIterator[AriClient]:
    ari = AriClient(fake.base_url, USER, PASSWORD, APP, backoff=fast_backoff(), http_timeout=2)
    yield ari
    await ari.stop()


async def wait_for(predicate: Any, within: float = 1.5) -> None:
    """Poll a condition on client state that has no event of its own to await."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


# -- events link ------------------------------------------------------------------


async def test_connects_and_logs_state_changes(
    fake: FakeAri, client: AriClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="callcenter.pbx.ari"):
        await client.start()
        await client.wait_connected(1)
    assert client.connected and client.state is AriState.CONNECTED
    assert "disconnected -> connecting" in caplog.text
    assert "connecting -> connected" in caplog.text
    assert s3cret_not_logged(caplog.text)


def s3cret_not_logged(text: str) -> bool:
    return PASSWORD not in text


async def test_events_delivered_in_arrival_order_without_blocking_reader(
    fake: FakeAri, client: AriClient
) -> None:
    seen: list[int] = []
    blocked = asyncio.Event()

    async def slow(event: dict[str, Any]) -> None:
        if event["n"] == 0:
            await blocked.wait()  # a stuck handler must not hold back later events

    async def record(event: dict[str, Any]) -> None:
        seen.append(event["n"])

    client.add_handler(slow)
    client.add_handler(record)
    await client.start()
    await fake.ws_connected.wait()
    for n in range(200):
        await fake.send({"type": "ChannelDtmfReceived", "n": n, "channel": {"id": "c1"}})
    await wait_for(lambda: len(seen) == 200)
    assert seen == list(range(200))
    blocked.set()


async def test_failing_handler_is_logged_and_others_still_run(
    fake: FakeAri, client: AriClient, caplog: pytest.LogCaptureFixture
) -> None:
    got: list[str] = []

    async def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    async def ok(event: dict[str, Any]) -> None:
        got.append(event["type"])

    client.add_handler(broken)
    remove = client.add_handler(ok)
    await client.start()
    await fake.ws_connected.wait()
    with caplog.at_level(logging.ERROR):
        await fake.send({"type": "StasisStart"})
        await wait_for(lambda: got == ["StasisStart"])
        await asyncio.sleep(0.01)
    assert "ari-event:StasisStart" in caplog.text and "handler bug" in caplog.text
    remove()
    await fake.send({"type": "StasisEnd"})
    await asyncio.sleep(0.05)
    assert got == ["StasisStart"]


async def test_drop_reconnects_resyncs_and_keeps_delivering(
    fake: FakeAri, client: AriClient
) -> None:
    resyncs: list[list[dict[str, Any]]] = []
    events: list[str] = []

    async def resync() -> None:
        resyncs.append(await client.list_channels())

    async def handler(event: dict[str, Any]) -> None:
        events.append(event["type"])

    client.add_on_connected(resync)
    client.add_handler(handler)
    await client.start()
    await wait_for(lambda: len(resyncs) == 1)
    await fake.send({"type": "before"})
    await wait_for(lambda: events == ["before"])

    await fake.drop()
    await wait_for(lambda: not client.connected)
    await client.wait_connected(1.5)
    await wait_for(lambda: len(resyncs) == 2)
    assert resyncs[1][0]["id"] == CHANNEL["id"]
    await fake.ws_connected.wait()
    await fake.send({"type": "after"})
    await wait_for(lambda: events == ["before", "after"])
    assert fake.ws_attempts == 2


async def test_asterisk_restart_reconnects_when_it_is_back(
    fake: FakeAri, client: AriClient
) -> None:
    connects = 0

    async def on_connected() -> None:
        nonlocal connects
        connects += 1

    client.add_on_connected(on_connected)
    await client.start()
    await wait_for(lambda: connects == 1)
    await fake.stop()  # Asterisk goes down: websocket closed, port refuses
    await wait_for(lambda: client.state is not AriState.CONNECTED)
    assert not await client.ping()
    await asyncio.sleep(0.15)  # a few refused attempts with backoff
    await fake.start()  # same port
    await client.wait_connected(1.5)
    await wait_for(lambda: connects == 2)
    assert await client.ping()


async def test_refused_handshakes_are_retried_with_backoff_not_spinning(
    fake: FakeAri,
) -> None:
    fake.refuse_ws = 3
    backoff = Backoff(initial=0.05, factor=2.0, max=1.0, jitter=0.0)
    client = AriClient(fake.base_url, USER, PASSWORD, APP, backoff=backoff)
    began = time.monotonic()
    await client.start()  # returns after the first (refused) attempt
    assert not client.connected
    await client.wait_connected(1.5)
    elapsed = time.monotonic() - began
    assert fake.ws_attempts == 4
    assert elapsed >= 0.05 + 0.1 + 0.2 - 0.02  # waited the backoff between attempts
    assert backoff.attempts == 0  # reset after the successful connection
    await client.stop()


async def test_wrong_credentials_never_connect(fake: FakeAri) -> None:
    client = AriClient(fake.base_url, USER, "wrong", APP, backoff=fast_backoff())
    await client.start()
    with pytest.raises(TimeoutError):
        await client.wait_connected(0.2)
    assert 2 <= fake.ws_attempts <= 12  # retried, but at backoff pace
    with pytest.raises(AriError) as info:
        await client.list_channels()
    assert info.value.status == 401
    await client.stop()


async def test_stop_is_prompt_during_a_long_backoff_and_idempotent() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens: connection refused
    client = AriClient(
        f"http://127.0.0.1:{port}/ari/", USER, PASSWORD, APP, backoff=Backoff(initial=60, max=60)
    )
    await asyncio.gather(client.start(), client.start())  # second caller waits too
    assert client.state is AriState.DISCONNECTED
    waiter = asyncio.create_task(client.wait_connected())
    began = time.monotonic()
    await asyncio.gather(client.stop(), client.stop())
    assert time.monotonic() - began < 0.5
    assert client.state is AriState.STOPPED
    with pytest.raises(RuntimeError):
        await waiter
    with pytest.raises(AriUnavailable):
        await client.get_channel("x")
    with pytest.raises(RuntimeError):
        await client.start()
    await client.stop()


async def test_stop_cancels_running_handlers(fake: FakeAri, client: AriClient) -> None:
    cancelled = asyncio.Event()
    started = asyncio.Event()

    async def stuck(event: dict[str, Any]) -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    client.add_handler(stuck)
    await client.start()
    await fake.ws_connected.wait()
    await fake.send({"type": "StasisStart"})
    await started.wait()
    await client.stop()
    assert cancelled.is_set()


async def test_non_json_messages_are_skipped(fake: FakeAri, client: AriClient) -> None:
    got: list[Any] = []

    async def handler(event: dict[str, Any]) -> None:
        got.append(event["type"])

    client.add_handler(handler)
    await client.start()
    await fake.ws_connected.wait()
    for ws in fake.sockets:
        await ws.send_text("not json")
        await ws.send_text("[1, 2]")
    await fake.send({"type": "ok"})
    await wait_for(lambda: got == ["ok"])
    assert client.connected


# -- REST -------------------------------------------------------------------------


async def test_rest_helpers_send_ari_paths_and_params(fake: FakeAri, client: AriClient) -> None:
    cid = CHANNEL["id"]
    await client.answer(cid)
    playback = await client.play(cid, ["sound:hello", "sound:world"], playback_id="pb1", lang="fr")
    assert playback["id"] == "pb1"
    await client.start_moh(cid)
    await client.stop_moh(cid)
    await client.continue_in_dialplan(cid, context="fallback", extension="s", priority=1)
    await client.snoop(cid, app=APP, app_args=helper_args("snoop", "call-1"), spy="in")
    await client.set_variable(cid, "CC_CALL", "call-1")
    assert await client.get_variable(cid, "CC_CALL") == "call-1"
    assert await client.get_variable(cid, "UNSET") is None
    bridge = await client.create_bridge("mixing,dtmf_events", bridge_id="br-1", name="q1")
    assert bridge["id"] == "br-1"
    await client.add_to_bridge("br-1", [cid, "other"])
    await client.stop_playback("pb1")
    await client.hangup(cid, reason="busy")
    sent = [(m, p, q) for m, p, q, _ in fake.requests]
    assert sent == [
        ("POST", f"/ari/channels/{cid}/answer", {}),
        (
            "POST",
            f"/ari/channels/{cid}/play",
            {"media": "sound:hello,sound:world", "playbackId": "pb1", "lang": "fr"},
        ),
        ("POST", f"/ari/channels/{cid}/moh", {}),
        ("DELETE", f"/ari/channels/{cid}/moh", {}),
        (
            "POST",
            f"/ari/channels/{cid}/continue",
            {"context": "fallback", "extension": "s", "priority": "1"},
        ),
        (
            "POST",
            f"/ari/channels/{cid}/snoop",
            {"app": APP, "appArgs": "helper,snoop,call-1", "spy": "in", "whisper": "none"},
        ),
        ("POST", f"/ari/channels/{cid}/variable", {"variable": "CC_CALL", "value": "call-1"}),
        ("GET", f"/ari/channels/{cid}/variable", {"variable": "CC_CALL"}),
        ("GET", f"/ari/channels/{cid}/variable", {"variable": "UNSET"}),
        ("POST", "/ari/bridges", {"type": "mixing,dtmf_events", "bridgeId": "br-1", "name": "q1"}),
        ("POST", "/ari/bridges/br-1/addChannel", {"channel": f"{cid},other"}),
        ("DELETE", "/ari/playbacks/pb1", {}),
        ("DELETE", f"/ari/channels/{cid}", {"reason": "busy"}),
    ]


async def test_originate_uses_caller_chosen_id_and_json_variables(
    fake: FakeAri, client: AriClient
) -> None:
    channel = await client.originate(
        "PJSIP/agent-7",
        app_args=["outbound", "call-9"],
        caller_id="Queue <100>",
        variables={"CC_CALL": "call-9"},
        channel_id="call-9-agent",
        timeout=20,
    )
    assert channel["id"] == "call-9-agent"
    method, path, query, body = fake.requests[-1]
    assert (method, path) == ("POST", "/ari/channels")
    assert query == {
        "endpoint": "PJSIP/agent-7",
        "app": APP,  # no dialplan target: into our own app
        "appArgs": "outbound,call-9",
        "callerId": "Queue <100>",
        "channelId": "call-9-agent",
        "timeout": "20",
    }
    assert body == {"variables": {"CC_CALL": "call-9"}}
    await client.originate("Local/100@default", context="default", extension="100", priority=1)
    assert "app" not in fake.requests[-1][2]


async def test_404_is_ari_not_found_and_other_errors_are_ari_error(
    fake: FakeAri, client: AriClient
) -> None:
    with pytest.raises(AriNotFound) as gone:
        await client.hangup("already-gone")
    assert gone.value.status == 404
    assert gone.value.message == "Channel not found"
    assert gone.value.path == "channels/already-gone"
    with pytest.raises(AriNotFound):  # the channel is gone: not "variable unset"
        await client.get_variable("already-gone", "X")
    with pytest.raises(AriError) as failed:
        await client.request("POST", f"/channels/{CHANNEL['id']}/fail")
    assert failed.value.status == 500 and not isinstance(failed.value, AriNotFound)


async def test_rest_reads(fake: FakeAri, client: AriClient) -> None:
    assert [c["id"] for c in await client.list_channels()] == [CHANNEL["id"]]
    assert (await client.get_channel(CHANNEL["id"]))["name"] == CHANNEL["name"]
    assert await client.list_bridges() == []
    assert (await client.asterisk_info())["system"]["version"] == "22.0.0-fake"
    assert await client.ping()
    media = await client.external_media(app=APP, external_host="127.0.0.1:40000", data="media")
    assert fake.requests[-1][1] == "/ari/channels/externalMedia"
    assert fake.requests[-1][2]["external_host"] == "127.0.0.1:40000"
    assert media["name"].startswith("UnicastRTP/")


async def test_ids_are_escaped_as_one_path_segment(fake: FakeAri, client: AriClient) -> None:
    await client.get_channel("a/b c")
    assert fake.raw_paths[-1] == b"/ari/channels/a%2Fb%20c"


# -- channels.py --------------------------------------------------------------------


def test_channel_from_ari() -> None:
    channel = Channel.from_ari(CHANNEL)
    assert channel.id == "1700000000.1" and channel.state == "Ring"
    assert (channel.caller_number, channel.caller_name) == ("+3312345678", "Alice")
    assert (channel.dialed_exten, channel.context) == ("100", "from-trunk")
    assert channel.app_data == "callcenter,inbound,100" and channel.language == "en"
    assert channel.creation_time is not None and channel.creation_time.year == 2024
    assert channel.technology == "PJSIP"
    bare = Channel.from_ari({"id": "x"})
    assert bare.caller_number == "" and bare.creation_time is None


def test_stasis_args() -> None:
    args = StasisArgs.from_event({"type": "StasisStart", "args": ["inbound", "100"]})
    assert args.kind == "inbound" and args.get(1) == "100" and args.get(5, "-") == "-"
    assert StasisArgs.from_event({}).kind == ""


@pytest.mark.parametrize(
    ("event", "helper"),
    [
        ({"args": ["inbound", "100"], "channel": CHANNEL}, False),
        ({"args": [], "channel": dict(CHANNEL, name="Snoop/1700000000.1-00000001")}, True),
        ({"args": [], "channel": dict(CHANNEL, name="UnicastRTP/127.0.0.1:40000-0x1")}, True),
        ({"args": [], "channel": dict(CHANNEL, name="AudioSocket/127.0.0.1:9092-1")}, True),
        ({"args": ["helper", "snoop", "call-1"], "channel": CHANNEL}, True),
        ({"args": ["snoop"], "channel": CHANNEL}, True),
        ({"args": ["media"], "channel": CHANNEL}, True),
        ({"args": [], "channel": CHANNEL, "replace_channel": {"id": "old"}}, True),
        ({"args": ["inbound"], "channel": dict(CHANNEL, name="Local/100@x-0001;2")}, False),
    ],
)
def test_is_helper_channel(event: dict[str, Any], helper: bool) -> None:
    assert is_helper_channel(event) is helper


def test_helper_args_and_event_channel_id() -> None:
    assert helper_args("media", "call-1") == "helper,media,call-1"
    with pytest.raises(ValueError):
        helper_args("a,b")
    assert event_channel_id({"channel": {"id": "c1"}}) == "c1"
    assert event_channel_id({"playback": {"target_uri": "channel:c2"}}) == "c2"
    assert event_channel_id({"playback": {"target_uri": "bridge:b1"}}) is None
    assert event_channel_id({"type": "BridgeCreated"}) is None
    assert channel_of({"channel": CHANNEL}) == Channel.from_ari(CHANNEL)
    assert channel_of({}) is None
