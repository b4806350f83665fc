"""ARI client: REST over one pooled aiohttp session, events over one websocket.

Protocol notes (Asterisk 22):
- The Stasis application exists while a websocket is subscribed to it:
  `GET /ari/events?app=NAME&api_key=user:pass&subscribeAll=false`. Registration is
  therefore implicit; after any drop (network, Asterisk restart) we reconnect and the
  app is registered again. Channels that entered Stasis while we were away are still
  in Asterisk: `on_connected` callbacks resync them (list channels, bridges ...).
- A second websocket for the same app name takes the app over: Asterisk sends
  `ApplicationReplaced` to the first one, which then gets no more events. We log it and
  do not fight back (two controllers stealing the app from each other would flap).
- REST errors come back as `{"message": "..."}` with a status; 404 is routine in
  telephony (the caller hung up between the event and our request): `AriNotFound`.
- Parameters go in the query string; only `variables` (originate) goes in a JSON body.
  `allowMultiple` parameters (media, channel) are comma-separated: Asterisk keeps only
  the last occurrence of a repeated query key.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json as jsonlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import aiohttp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from callcenter.backoff import Backoff
from callcenter.tasks import SupervisorStopped, TaskSupervisor

log = logging.getLogger(__name__)

# A handler is a coroutine function (run as a supervised task) or a plain function that
# only routes the event onward (called inline: no task per event, which under load is
# most of the cost of an event that needs no work).
EventHandler = Callable[[dict[str, Any]], Awaitable[None] | None]
ConnectedCallback = Callable[[], Awaitable[None]]


class AriState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    STOPPED = "stopped"


class AriError(Exception):
    """An ARI REST call failed: HTTP `status` (0 when Asterisk was not reached)."""

    def __init__(self, status: int, message: str, path: str) -> None:
        super().__init__(f"ARI {status} on {path}: {message}")
        self.status = status
        self.message = message
        self.path = path


class AriNotFound(AriError):
    """404: the channel, bridge or playback is gone, usually because the call ended."""


class AriUnavailable(AriError):
    """Asterisk did not answer (refused, timeout, client stopped); status is 0."""


async def quietly(request: Awaitable[Any]) -> None:
    """Await a request whose failure changes nothing: music already stopped, channel or
    bridge already gone (the other side hung up first)."""
    with contextlib.suppress(AriError):
        await request


def _seg(value: str) -> str:
    """One URL path segment: ids chosen by callers may contain '/' or '@'."""
    return quote(value, safe="")


def _csv(value: str | Sequence[str]) -> str:
    return value if isinstance(value, str) else ",".join(value)


async def _send_request(
    ws: ClientConnection, request_id: str, method: str, rel: str, params: Mapping[str, Any] | None
) -> None:
    """One REST request on the events websocket (Asterisk 22.4+'s RESTRequest message)."""
    cleaned = _clean_params(params)
    uri = f"{rel}?{urlencode(cleaned)}" if cleaned else rel
    message = {"type": "RESTRequest", "request_id": request_id, "method": method, "uri": uri}
    await ws.send(jsonlib.dumps(message))


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, str | int | float] | None:
    """Drop None values (ARI treats an empty value as a value) and spell booleans."""
    if not params:
        return None
    cleaned: dict[str, str | int | float] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            cleaned[key] = "true" if value else "false"
        elif isinstance(value, int | float):
            cleaned[key] = value
        else:
            cleaned[key] = str(value)
    return cleaned


def _error_message(body: bytes, reason: str) -> str:
    try:
        decoded = jsonlib.loads(body)
    except ValueError:
        return body.decode(errors="replace").strip() or reason
    if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
        return str(decoded["message"])
    return reason


def _ari_root(base_url: str) -> str:
    """Accept "http://h:8088" and "http://h:8088/ari" alike; return the latter."""
    root = base_url.rstrip("/")
    return root if root.endswith("/ari") else root + "/ari"


def _callable_name(func: Callable[..., Any]) -> str:
    return getattr(func, "__qualname__", None) or repr(func)


class AriClient:
    """One Stasis application on one Asterisk: REST calls plus its event stream.

    Lifecycle: `disconnected -> connecting -> connected -> disconnected -> ...`, and
    `stopped` (terminal) from any state. Every change is logged as `old -> new`.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        app: str,
        *,
        backoff: Backoff | None = None,
        http_timeout: float = 10.0,
        ws_open_timeout: float = 5.0,
        ws_ping_interval: float | None = 20.0,
        max_connections: int = 20,
        rest_over_websocket: bool = False,
        allowed_events: Sequence[str] | None = None,
    ) -> None:
        self.app = app
        # Asterisk sends an app every event of its channels (variable sets, state changes,
        # playback starts...); decoding the ones nobody handles is pure cost. With a list,
        # Asterisk filters them out before they are sent.
        self._allowed_events = list(allowed_events) if allowed_events else None
        # Asterisk 22.4+ takes REST requests on the events websocket: no HTTP request
        # per call step, which under load is much of the controller's cost. HTTP stays
        # the path whenever the websocket is down.
        self._rest_over_ws = rest_over_websocket
        self._ws_requests: dict[str, asyncio.Future[tuple[int, str, bytes]]] = {}
        self._request_seq = 0
        # (deadline, request id) in sending order: one timer sweeps them all (see _expire).
        self._ws_deadlines: deque[tuple[float, str]] = deque()
        self._root = _ari_root(base_url)
        self._username = username
        self._password = password
        self._backoff = backoff or Backoff()
        self._ws_open_timeout = ws_open_timeout
        self._ws_ping_interval = ws_ping_interval
        # aiohttp, not httpx: under load the REST calls are most of the controller's CPU,
        # and aiohttp costs a fraction per request (see docs/benchmarks.md). The session
        # is made on first use, inside the running loop, as aiohttp requires.
        # trust_env stays False: a system proxy (http_proxy) would only break ARI.
        self._http: aiohttp.ClientSession | None = None
        self._http_closed = False
        self._http_timeout = aiohttp.ClientTimeout(total=http_timeout)
        self._request_timeout = http_timeout
        self._request_sweep = min(1.0, http_timeout / 4)
        self._max_connections = max_connections
        self._handlers: list[EventHandler] = []
        self._on_connected: list[ConnectedCallback] = []
        self._supervisor = TaskSupervisor(f"ari:{app}", logger=log)
        self._state = AriState.DISCONNECTED
        self._changed = asyncio.Event()
        self._first_attempt = asyncio.Event()
        self._run_task: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        self._stop_lock = asyncio.Lock()
        self._ws: ClientConnection | None = None

    # -- state -----------------------------------------------------------------

    @property
    def state(self) -> AriState:
        return self._state

    @property
    def connected(self) -> bool:
        return self._state is AriState.CONNECTED

    def _set_state(self, new: AriState) -> None:
        old = self._state
        if old is new or old is AriState.STOPPED:
            return
        log.info("ARI %s: %s -> %s", self.app, old, new)
        self._state = new
        # Wake every waiter, then give later waiters a fresh event.
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_connected(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Return once the events websocket is up.

        Raises TimeoutError after `timeout` seconds, RuntimeError if stopped meanwhile.
        """
        async with asyncio.timeout(timeout):
            while self._state is not AriState.CONNECTED:
                if self._state is AriState.STOPPED:
                    raise RuntimeError(f"ARI client for {self.app!r} is stopped")
                await self._changed.wait()

    # -- registration ----------------------------------------------------------

    def add_handler(self, handler: EventHandler) -> Callable[[], None]:
        """Deliver every event to `handler`; returns a function that removes it.

        Handlers get the decoded event dict (shared between handlers: treat it as
        read-only) and run as supervised tasks, so a slow handler never delays the
        websocket reader and a failing one is logged with the event type.
        """
        self._handlers.append(handler)
        return lambda: self.remove_handler(handler)

    def remove_handler(self, handler: EventHandler) -> None:
        if handler in self._handlers:
            self._handlers.remove(handler)

    def add_on_connected(self, callback: ConnectedCallback) -> Callable[[], None]:
        """Call `callback()` (supervised) after every successful websocket connection.

        Used to resync: what happened while we were disconnected produced no events.
        """
        self._on_connected.append(callback)
        return lambda: self._on_connected.remove(callback)

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Start the events link; return once the first connection attempt is over.

        Does not wait for success (Asterisk may be down: the link keeps retrying);
        use `wait_connected()` for that. Idempotent: a concurrent caller waits too.
        """
        async with self._start_lock:
            if self._state is AriState.STOPPED:
                raise RuntimeError(f"ARI client for {self.app!r} is stopped")
            if self._run_task is None:
                self._run_task = self._supervisor.spawn(self._run(), name=f"ari-events:{self.app}")
        await self._first_attempt.wait()

    async def stop(self) -> None:
        """Close the link, cancel and await handler tasks, close HTTP. Idempotent."""
        async with self._stop_lock:
            if self._http_closed:
                return
            self._http_closed = True
            self._set_state(AriState.STOPPED)
            self._first_attempt.set()
            if self._run_task is not None:
                self._run_task.cancel()
                await asyncio.gather(self._run_task, return_exceptions=True)
            await self._supervisor.stop()
            if self._http is not None:
                await self._http.close()

    # -- events link -----------------------------------------------------------

    def _events_url(self, *, redact: bool = False) -> str:
        scheme, netloc, path, _, _ = urlsplit(self._root)
        ws_scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
        key = "***" if redact else f"{self._username}:{self._password}"
        query = urlencode({"app": self.app, "api_key": key, "subscribeAll": "false"})
        return urlunsplit((ws_scheme, netloc, path + "/events", query, ""))

    async def _run(self) -> None:
        """Connect, read until the link drops, wait the backoff, repeat; until cancelled."""
        while True:
            self._set_state(AriState.CONNECTING)
            try:
                ws = await connect(
                    self._events_url(),
                    open_timeout=self._ws_open_timeout,
                    ping_interval=self._ws_ping_interval,
                    close_timeout=2,
                    max_size=8 * 1024 * 1024,
                    proxy=None,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "ARI %s: cannot connect %s: %r", self.app, self._events_url(redact=True), exc
                )
                self._set_state(AriState.DISCONNECTED)
                self._first_attempt.set()
            else:
                self._backoff.reset()
                await self._session(ws)
                self._set_state(AriState.DISCONNECTED)
            delay = self._backoff.next_delay()
            log.info("ARI %s: reconnecting in %.2f s", self.app, delay)
            await asyncio.sleep(delay)

    async def _session(self, ws: ClientConnection) -> None:
        self._ws = ws
        try:
            self._set_state(AriState.CONNECTED)
            self._first_attempt.set()
            self._spawn(self._expire_ws_requests(ws), "ari-request-timeouts")
            if self._allowed_events is not None:
                self._spawn(self._set_event_filter(), "ari-event-filter")
            for callback in list(self._on_connected):
                self._spawn(callback(), f"ari-on-connected:{_callable_name(callback)}")
            async for message in ws:
                self._dispatch(message)
            log.warning(
                "ARI %s: events websocket closed: %s", self.app, ws.close_reason or ws.close_code
            )
        except ConnectionClosed as exc:
            log.warning("ARI %s: events websocket lost: %r", self.app, exc)
        except Exception:
            log.exception("ARI %s: events websocket failed", self.app)
        finally:
            self._ws = None
            for future in self._ws_requests.values():
                if not future.done():
                    future.set_exception(ConnectionError("ARI websocket closed"))
            self._ws_requests.clear()
            self._ws_deadlines.clear()
            await ws.close()

    def _dispatch(self, message: str | bytes) -> None:
        try:
            event = jsonlib.loads(message)
        except ValueError:
            log.warning("ARI %s: ignoring non-JSON message %.200r", self.app, message)
            return
        if not isinstance(event, dict):
            log.warning("ARI %s: ignoring non-object message %.200r", self.app, message)
            return
        kind = str(event.get("type", "?"))
        if kind == "RESTResponse":
            self._rest_response(event)
            return
        if kind == "ApplicationReplaced":
            log.error("ARI %s: another client took over the application", self.app)
        for handler in list(self._handlers):
            try:
                awaitable = handler(event)
            except Exception:
                log.exception("ARI %s: handler %s failed on %s", self.app, handler, kind)
                continue
            if awaitable is not None:
                self._spawn(awaitable, f"ari-event:{kind}:{_callable_name(handler)}")

    def _spawn(self, awaitable: Awaitable[None], name: str) -> None:
        try:
            self._supervisor.spawn(_await(awaitable), name=name)
        except SupervisorStopped:
            log.debug("ARI %s: stopping, dropped %s", self.app, name)

    # -- REST ------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """One REST call; returns decoded JSON (None for 204 No Content).

        Raises AriNotFound (404), AriError (other 4xx/5xx), AriUnavailable (no answer).
        """
        rel = path.lstrip("/")
        if self._http_closed:
            raise AriUnavailable(0, "client stopped", rel)
        if self._rest_over_ws and self._ws is not None and json is None:
            status, reason, body = await self._ws_request(method, rel, params)
            return _decode(status, reason, body, rel)
        try:
            async with self._rest().request(
                method, f"{self._root}/{rel}", params=_clean_params(params), json=json
            ) as response:
                status, reason = response.status, response.reason or ""
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AriUnavailable(0, repr(exc), rel) from exc
        return _decode(status, reason, body, rel)

    async def send_only(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> None:
        """A request whose answer nobody needs: sent, not waited for; failures logged.

        Barge-in stops the prompt this way and starts the next one at once: both requests
        leave together, and their answers come back together, one wake-up instead of two.
        """
        rel = path.lstrip("/")
        ws = self._ws
        if not (self._rest_over_ws and ws is not None):
            self._spawn(self._ignore_failure(self.request(method, rel, params=params)), rel)
            return
        self._request_seq += 1  # answered under an id nobody waits for: dropped on arrival
        try:
            await _send_request(ws, f"n{self._request_seq}", method, rel, params)
        except (ConnectionError, ConnectionClosed) as exc:
            log.info("ARI %s: %s %s not sent: %r", self.app, method, rel, exc)

    async def _ignore_failure(self, request: Awaitable[Any]) -> None:
        try:
            await request
        except AriError as exc:
            log.info("ARI %s: unanswered request failed: %s", self.app, exc)

    async def _ws_request(
        self, method: str, rel: str, params: Mapping[str, Any] | None
    ) -> tuple[int, str, bytes]:
        ws = self._ws
        assert ws is not None
        self._request_seq += 1
        request_id = f"r{self._request_seq}"
        future: asyncio.Future[tuple[int, str, bytes]] = asyncio.get_running_loop().create_future()
        self._ws_requests[request_id] = future
        self._ws_deadlines.append((time.monotonic() + self._request_timeout, request_id))
        try:
            await _send_request(ws, request_id, method, rel, params)
            return await future
        except (ConnectionError, ConnectionClosed, TimeoutError) as exc:
            raise AriUnavailable(0, repr(exc), rel) from exc
        finally:
            self._ws_requests.pop(request_id, None)

    async def _expire_ws_requests(self, ws: ClientConnection) -> None:
        """Fail requests unanswered past the timeout; ends with the websocket.

        One sweep a second instead of a timer per request: a busy IVR sends hundreds
        of requests a second, and a request never answers early because of the timer.
        """
        while self._ws is ws:
            await asyncio.sleep(self._request_sweep)
            now = time.monotonic()
            while self._ws_deadlines and self._ws_deadlines[0][0] <= now:
                _, request_id = self._ws_deadlines.popleft()
                future = self._ws_requests.get(request_id)
                if future is not None and not future.done():
                    future.set_exception(TimeoutError(f"no answer to {request_id}"))

    async def _set_event_filter(self) -> None:
        assert self._allowed_events is not None
        # Answers to REST requests sent on the websocket are filtered like events.
        kinds = {*self._allowed_events, "RESTResponse"}
        allowed = [{"type": kind} for kind in sorted(kinds)]
        try:
            await self.request(
                "PUT", f"applications/{_seg(self.app)}/eventFilter", json={"allowed": allowed}
            )
        except AriError as exc:
            log.warning("ARI %s: event filter not set (%s); receiving every event", self.app, exc)

    def _rest_response(self, event: dict[str, Any]) -> None:
        future = self._ws_requests.get(str(event.get("request_id", "")))
        if future is None or future.done():
            return
        body = str(event.get("message_body") or "").encode()
        future.set_result(
            (int(event.get("status_code", 0)), str(event.get("reason_phrase", "")), body)
        )

    def _rest(self) -> aiohttp.ClientSession:
        if self._http is None:
            basic = base64.b64encode(f"{self._username}:{self._password}".encode()).decode()
            self._http = aiohttp.ClientSession(
                headers={"Authorization": f"Basic {basic}"},
                timeout=self._http_timeout,
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                trust_env=False,
            )
        return self._http

    # channels

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"channels/{_seg(channel_id)}/answer")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        """Hang up; `reason` is ARI's name (normal, busy, congestion, no_answer ...)."""
        await self.request("DELETE", f"channels/{_seg(channel_id)}", params={"reason": reason})

    async def play(
        self,
        channel_id: str,
        media: str | list[str],
        *,
        playback_id: str | None = None,
        lang: str | None = None,
    ) -> dict[str, Any]:
        """Start playing `media` ("sound:x", "recording:y", "tone:ring" ...); returns the Playback.

        Choose `playback_id` to correlate PlaybackFinished without a race against the
        response (the event can arrive before the POST returns).
        """
        params = {"media": _csv(media), "playbackId": playback_id, "lang": lang}
        result: dict[str, Any] = await self.request(
            "POST", f"channels/{_seg(channel_id)}/play", params=params
        )
        return result

    async def stop_playback(self, playback_id: str, *, wait: bool = True) -> None:
        """Stop a playback; with `wait=False`, without waiting for Asterisk's answer."""
        if wait:
            await self.request("DELETE", f"playbacks/{_seg(playback_id)}")
        else:
            await self.send_only("DELETE", f"playbacks/{_seg(playback_id)}")

    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None:
        await self.request(
            "POST", f"channels/{_seg(channel_id)}/moh", params={"mohClass": moh_class}
        )

    async def stop_moh(self, channel_id: str) -> None:
        await self.request("DELETE", f"channels/{_seg(channel_id)}/moh")

    async def continue_in_dialplan(
        self,
        channel_id: str,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
    ) -> None:
        """Leave Stasis; without arguments the dialplan continues after Stasis()."""
        params = {"context": context, "extension": extension, "priority": priority}
        await self.request("POST", f"channels/{_seg(channel_id)}/continue", params=params)

    async def list_channels(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.request("GET", "channels")
        return result

    async def get_channel(self, channel_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", f"channels/{_seg(channel_id)}")
        return result

    async def get_variable(self, channel_id: str, name: str) -> str | None:
        """A channel variable, or None when it is not set.

        Asterisk answers 404 both for an unknown channel and for an unset variable;
        only the message tells them apart, and a gone channel must still raise.
        """
        try:
            result = await self.request(
                "GET", f"channels/{_seg(channel_id)}/variable", params={"variable": name}
            )
        except AriNotFound as exc:
            if "variable" in exc.message.lower():
                return None
            raise
        value = result.get("value") if isinstance(result, dict) else None
        return value if isinstance(value, str) else None

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        await self.request(
            "POST",
            f"channels/{_seg(channel_id)}/variable",
            params={"variable": name, "value": value},
        )

    async def originate(
        self,
        endpoint: str,
        *,
        app: str | None = None,
        app_args: str | Sequence[str] | None = None,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        channel_id: str | None = None,
        timeout: int = 30,  # noqa: ASYNC109 - ARI's ring timeout, not an asyncio one
    ) -> dict[str, Any]:
        """Create an outgoing channel; returns it. Without a dialplan target it enters our app.

        Pass `channel_id` to know the id before StasisStart arrives.
        """
        if app is None and extension is None and context is None:
            app = self.app
        params = {
            "endpoint": endpoint,
            "app": app,
            "appArgs": None if app_args is None else _csv(app_args),
            "context": context,
            "extension": extension,
            "priority": priority,
            "callerId": caller_id,
            "channelId": channel_id,
            "timeout": timeout,
        }
        body = {"variables": dict(variables)} if variables else None
        result: dict[str, Any] = await self.request("POST", "channels", params=params, json=body)
        return result

    async def snoop(
        self,
        channel_id: str,
        *,
        app: str,
        app_args: str,
        spy: str = "none",
        whisper: str = "none",
        snoop_id: str | None = None,
    ) -> dict[str, Any]:
        """A Snoop/ channel on `channel_id` (spy/whisper: none, both, out, in).

        It raises its own StasisStart in `app`: pass `app_args` from
        `channels.helper_args()` so the controller does not take it for a call.
        """
        params = {
            "app": app,
            "appArgs": app_args,
            "spy": spy,
            "whisper": whisper,
            "snoopId": snoop_id,
        }
        result: dict[str, Any] = await self.request(
            "POST", f"channels/{_seg(channel_id)}/snoop", params=params
        )
        return result

    async def external_media(
        self,
        *,
        app: str,
        external_host: str,
        format: str = "ulaw",  # ARI's parameter name
        channel_id: str | None = None,
        data: str | None = None,
    ) -> dict[str, Any]:
        """A UnicastRTP/ channel sending RTP to `external_host` ("127.0.0.1:40000").

        Its StasisStart args are empty unless `data` is given; it is recognised as a
        helper by its name anyway (see channels.is_helper_channel).
        """
        params = {
            "app": app,
            "external_host": external_host,
            "format": format,
            "channelId": channel_id,
            "data": data,
        }
        result: dict[str, Any] = await self.request("POST", "channels/externalMedia", params=params)
        return result

    # bridges

    async def create_bridge(
        self,
        bridge_type: str = "mixing",
        bridge_id: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """`bridge_type` is ARI's comma list: mixing, holding, dtmf_events, proxy_media ..."""
        params = {"type": bridge_type, "bridgeId": bridge_id, "name": name}
        result: dict[str, Any] = await self.request("POST", "bridges", params=params)
        return result

    async def add_to_bridge(self, bridge_id: str, channel_ids: str | Sequence[str]) -> None:
        await self.request(
            "POST", f"bridges/{_seg(bridge_id)}/addChannel", params={"channel": _csv(channel_ids)}
        )

    async def remove_from_bridge(self, bridge_id: str, channel_ids: str | Sequence[str]) -> None:
        await self.request(
            "POST",
            f"bridges/{_seg(bridge_id)}/removeChannel",
            params={"channel": _csv(channel_ids)},
        )

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"bridges/{_seg(bridge_id)}")

    async def list_bridges(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.request("GET", "bridges")
        return result

    # asterisk

    async def asterisk_info(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", "asterisk/info")
        return result

    async def ping(self) -> bool:
        """True when ARI answers `GET /asterisk/ping`; never raises for a down Asterisk."""
        try:
            await self.request("GET", "asterisk/ping")
        except AriError as exc:
            log.debug("ARI %s: ping failed: %s", self.app, exc)
            return False
        return True


def _decode(status: int, reason: str, body: bytes, rel: str) -> Any:
    if status >= 400:
        cls = AriNotFound if status == 404 else AriError
        raise cls(status, _error_message(body, reason), rel)
    if status == 204 or not body:
        return None
    try:
        return jsonlib.loads(body)
    except ValueError:
        return body.decode(errors="replace")


async def _await(awaitable: Awaitable[None]) -> None:
    """Wrap any awaitable (coroutine, future) so the supervisor can run it as a task."""
    await awaitable
