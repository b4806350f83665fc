"""AMI client: a small typed facade over panoramisk 1.4.

We keep panoramisk's wire layer (`AMIProtocol` framing, `Action` ids, response
correlation, `Message` parsing) and replace its session layer, because its Manager
reconnects on a fixed 2 s timer, pings with fire-and-forget callbacks and runs event
callbacks with `ensure_future` (task references dropped, exceptions lost). Here:

- our own connect loop with `Backoff`, an explicit state machine logged `old -> new`,
  `start()/stop()/wait_connected()`; a failed Login is retried with the backoff too;
- keepalive: a `Ping` every `ping_interval`; no answer within `action_timeout` means
  the link is dead (TCP alone can take minutes to notice a vanished peer);
- Asterisk announces a restart with `Event: Shutdown` and closes: panoramisk's protocol
  treats that event as connection loss, and we reconnect with the backoff;
- actions in flight when the link drops fail with `AmiDisconnected` instead of being
  re-sent after reconnect (panoramisk's behaviour): re-sending Originate or Redirect
  could dial twice; the caller knows whether a retry is safe;
- `TestEvent` messages (Debian builds Asterisk with the test framework) are dropped;
- event handlers are `async` callables run as supervised tasks (panoramisk 1.4 on
  Python 3.11 cannot run plain-function coroutines: it relies on `asyncio.coroutine`).
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Any

from panoramisk.actions import Action, Command
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.manager import Manager
from panoramisk.message import Message

from callcenter.backoff import Backoff
from callcenter.tasks import SupervisorStopped, TaskSupervisor

log = logging.getLogger(__name__)

AmiMessage = dict[str, Any]
"""An AMI response or event: header -> str, or list[str] for repeated headers."""

AmiHandler = Callable[[AmiMessage], Awaitable[None]]
ConnectedCallback = Callable[[], Awaitable[None]]

IGNORED_EVENTS = frozenset({"testevent"})


class AmiState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    STOPPED = "stopped"


class AmiError(Exception):
    """Asterisk answered an action with Error/Failure."""

    def __init__(self, message: str, response: AmiMessage | list[AmiMessage] | None = None) -> None:
        super().__init__(message)
        self.response = response


class AmiDisconnected(AmiError):
    """The link is down (or went down before the action was answered)."""


def to_dict(message: Message) -> AmiMessage:
    """panoramisk's case-insensitive Message as a plain dict (original header case).

    Message keeps the body of `Response: Follows` under "content"; it is dropped when
    empty so events look exactly like their headers.
    """
    result: AmiMessage = dict(message.items())
    if not result.get("content"):
        result.pop("content", None)
    return result


def _lines(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


class _Manager(Manager):
    """panoramisk's Manager reduced to what AMIProtocol needs from its `factory`.

    Its timers and reconnects are never started (we never call `connect()`); loss
    and events are forwarded to the AmiClient that owns it.
    """

    def __init__(self, owner: AmiClient, **config: Any) -> None:
        super().__init__(**config)
        self._owner = owner

    def connection_lost(self, exc: Any) -> None:
        self._connected = False
        self._owner._link_lost(exc)

    def dispatch(self, event: Message) -> list[str]:
        self._owner._dispatch(event)
        return []

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("AmiClient owns the connection")


class _Protocol(AMIProtocol):
    """AMIProtocol bound to its factory from the first byte.

    panoramisk wires `factory` after `create_connection` returns; the banner could be
    read before that, so we wire in `connection_made` instead.
    """

    def __init__(self, manager: _Manager) -> None:
        super().__init__()
        self._manager = manager

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.factory = self._manager
        self.log = log
        self.config = self._manager.config
        self.encoding = self._manager.config["encoding"]


class AmiClient:
    """One AMI login on one Asterisk, reconnected with backoff until `stop()`."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        backoff: Backoff | None = None,
        action_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        ping_interval: float = 20.0,
        events: str = "on",
    ) -> None:
        self.host = host
        self.port = port
        self._username = username
        self._secret = secret
        self._events = events
        self._backoff = backoff or Backoff()
        self.action_timeout = action_timeout
        self._connect_timeout = connect_timeout
        self._ping_interval = ping_interval
        self._manager = _Manager(self, host=host, port=port, encoding="utf8")
        self._protocol: _Protocol | None = None
        self._lost = asyncio.Event()
        self._inflight: set[asyncio.Future[Any]] = set()
        self._handlers: list[tuple[str, re.Pattern[str], AmiHandler]] = []
        self._on_connected: list[ConnectedCallback] = []
        self._supervisor = TaskSupervisor(f"ami:{host}:{port}", logger=log)
        self._state = AmiState.DISCONNECTED
        self._changed = asyncio.Event()
        self._first_attempt = asyncio.Event()
        self._run_task: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        self._stop_lock = asyncio.Lock()
        self._closed = False
        self.version: str | None = None

    # -- state -----------------------------------------------------------------

    @property
    def state(self) -> AmiState:
        return self._state

    @property
    def connected(self) -> bool:
        return self._state is AmiState.CONNECTED

    def _set_state(self, new: AmiState) -> None:
        old = self._state
        if old is new or old is AmiState.STOPPED:
            return
        log.info("AMI %s:%s: %s -> %s", self.host, self.port, old, new)
        self._state = new
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_connected(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Return once logged in; TimeoutError after `timeout`, RuntimeError if stopped."""
        async with asyncio.timeout(timeout):
            while self._state is not AmiState.CONNECTED:
                if self._state is AmiState.STOPPED:
                    raise RuntimeError("AMI client is stopped")
                await self._changed.wait()

    # -- registration ----------------------------------------------------------

    def add_handler(self, event_pattern: str, handler: AmiHandler) -> Callable[[], None]:
        """Run `handler(event)` for events whose name matches the glob (case-insensitive).

        "*" matches all, "DTMF*" DTMFBegin and DTMFEnd. Returns a remover.
        """
        regexp = re.compile(fnmatch.translate(event_pattern), re.IGNORECASE)
        entry = (event_pattern, regexp, handler)
        self._handlers.append(entry)
        return lambda: self._handlers.remove(entry) if entry in self._handlers else None

    def add_on_connected(self, callback: ConnectedCallback) -> Callable[[], None]:
        """Call `callback()` (supervised) after every successful login."""
        self._on_connected.append(callback)
        return lambda: self._on_connected.remove(callback)

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Start the link; return once the first connect+login attempt is over.

        Idempotent; a concurrent caller waits for the same attempt.
        """
        async with self._start_lock:
            if self._closed:
                raise RuntimeError("AMI client is stopped")
            if self._run_task is None:
                self._run_task = self._supervisor.spawn(
                    self._run(), name=f"ami-link:{self.host}:{self.port}"
                )
        await self._first_attempt.wait()

    async def stop(self) -> None:
        """Log off, close, cancel and await every task. Idempotent."""
        async with self._stop_lock:
            if self._closed:
                return
            self._closed = True
            self._set_state(AmiState.STOPPED)
            self._first_attempt.set()
            if self._run_task is not None:
                self._run_task.cancel()
                await asyncio.gather(self._run_task, return_exceptions=True)
            await self._supervisor.stop()

    # -- link ------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self._set_state(AmiState.CONNECTING)
            try:
                await self._connect()
            except asyncio.CancelledError:
                self._close_transport()
                raise
            except Exception as exc:
                log.warning("AMI %s:%s: cannot connect: %r", self.host, self.port, exc)
                self._close_transport()
                self._set_state(AmiState.DISCONNECTED)
                self._first_attempt.set()
            else:
                self._backoff.reset()
                try:
                    await self._session()
                finally:
                    self._close_transport()
                self._set_state(AmiState.DISCONNECTED)
            delay = self._backoff.next_delay()
            log.info("AMI %s:%s: reconnecting in %.2f s", self.host, self.port, delay)
            await asyncio.sleep(delay)

    async def _connect(self) -> None:
        """TCP connect and Login; raises on any failure (refused, timeout, bad secret)."""
        loop = asyncio.get_running_loop()
        self._lost = asyncio.Event()
        async with asyncio.timeout(self._connect_timeout):
            _, protocol = await loop.create_connection(
                lambda: _Protocol(self._manager), self.host, self.port
            )
        self._protocol = protocol
        self._manager.protocol = protocol
        self._manager.responses = protocol.responses
        login = {
            "Action": "Login",
            "Username": self._username,
            "Secret": self._secret,
            "Events": self._events,
        }
        response = await self._send(login, limit=self._connect_timeout, check=False)
        if isinstance(response, list):
            response = response[0]
        if str(response.get("Response", "")).lower() != "success":
            raise AmiError(f"login refused: {response.get('Message', response)}", response)
        self.version = protocol.version

    async def _session(self) -> None:
        self._set_state(AmiState.CONNECTED)
        self._first_attempt.set()
        for callback in list(self._on_connected):
            self._spawn(callback(), f"ami-on-connected:{callback!r}")
        while not self._lost.is_set():
            try:
                async with asyncio.timeout(self._ping_interval):
                    await self._lost.wait()
            except TimeoutError:
                if not await self.ping():
                    log.warning("AMI %s:%s: no Pong, closing the link", self.host, self.port)
                    return
        log.warning("AMI %s:%s: link lost", self.host, self.port)

    def _close_transport(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None:
            protocol.close()  # runs _link_lost through AMIProtocol.connection_lost later
        self._fail_inflight()

    def _link_lost(self, exc: Any) -> None:
        """Called by the protocol on TCP loss or `Event: Shutdown`."""
        reason = exc.get("Event") if isinstance(exc, Message) else exc
        log.info("AMI %s:%s: connection lost (%r)", self.host, self.port, reason)
        self._lost.set()
        self._fail_inflight()

    def _fail_inflight(self) -> None:
        # panoramisk would queue these for re-sending after reconnect; we fail them.
        self._manager.awaiting_actions.clear()
        for future in list(self._inflight):
            if not future.done():
                future.set_exception(AmiDisconnected("AMI link lost before the answer"))
        self._inflight.clear()

    def _dispatch(self, message: Message) -> None:
        name = str(message.get("Event", ""))
        if name.lower() in IGNORED_EVENTS:
            return
        event: AmiMessage | None = None
        for _, regexp, handler in list(self._handlers):
            if regexp.match(name):
                event = event if event is not None else to_dict(message)
                try:
                    awaitable = handler(dict(event))
                except Exception:
                    log.exception("AMI handler %r failed on %s", handler, name)
                    continue
                self._spawn(awaitable, f"ami-event:{name}")

    def _spawn(self, awaitable: Awaitable[None], name: str) -> None:
        try:
            self._supervisor.spawn(_await(awaitable), name=name)
        except SupervisorStopped:
            log.debug("AMI: stopping, dropped %s", name)

    # -- actions ---------------------------------------------------------------

    async def _send(
        self,
        fields: Mapping[str, Any],
        *,
        limit: float | None,
        check: bool,
        as_list: bool | None = None,
        command: bool = False,
    ) -> AmiMessage | list[AmiMessage]:
        protocol = self._protocol
        if protocol is None or protocol.closed or self._lost.is_set():
            raise AmiDisconnected(f"AMI link down, cannot send {fields.get('Action')}")
        action = (Command if command else Action)(dict(fields), as_list=as_list)
        future = protocol.send(action, as_list=as_list)
        self._inflight.add(future)
        try:
            async with asyncio.timeout(self.action_timeout if limit is None else limit):
                result = await future
        except TimeoutError:
            # Forget it: a late answer must not resolve a future nobody awaits.
            protocol.responses.pop(action.id, None)
            protocol.responses.pop(action.action_id, None)
            raise
        finally:
            self._inflight.discard(future)
        converted: AmiMessage | list[AmiMessage]
        if isinstance(result, list):
            converted = [to_dict(m) for m in result]
            first = converted[0] if converted else {}
        else:
            converted = first = to_dict(result)
        if check and str(first.get("Response", "")).lower() in {"error", "failure", "fail"}:
            raise AmiError(str(first.get("Message", "AMI error")), converted)
        return converted

    async def action(
        self,
        action: Mapping[str, Any],
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        as_list: bool | None = None,
        check: bool = True,
    ) -> AmiMessage | list[AmiMessage]:
        """Send an action (`{"Action": "CoreStatus"}`) and return its answer.

        A single Response comes back as a dict; list actions (EventList: start ...
        Complete) as a list of dicts, the Response first. Raises AmiError for
        `Response: Error` when `check`, AmiDisconnected when the link is down or drops,
        TimeoutError after `timeout` (default `action_timeout`).
        """
        return await self._send(action, limit=timeout, check=check, as_list=as_list)

    async def command(self, cli_command: str, *, timeout: float | None = None) -> str:  # noqa: ASYNC109
        """Run a CLI command ("core show version") and return its output text.

        Asterisk >= 14 returns the output as repeated `Output:` headers; older ones as a
        `Response: Follows` body ending in `--END COMMAND--`. Both are handled.
        """
        response = await self._send(
            {"Action": "Command", "Command": cli_command},
            limit=timeout,
            check=True,
            command=True,
        )
        if isinstance(response, list):  # never seen for Command; be lenient
            response = response[0]
        output = _lines(response.get("Output"))
        if output:
            return "\n".join(output)
        body = str(response.get("content", ""))
        return body.removesuffix("--END COMMAND--").rstrip()

    async def originate(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int | None = None,
        application: str | None = None,
        data: str | None = None,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        channel_id: str | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109 - ring timeout
    ) -> AmiMessage:
        """Originate with `Async: true` and return the OriginateResponse event.

        Async because a synchronous Originate blocks the AMI session thread in Asterisk
        while the phone rings. The answer is two messages sharing the ActionID
        (Response "successfully queued", then the OriginateResponse event): we wait
        for the second, up to the ring timeout plus a margin. Raises AmiError when the
        call failed (Reason: 3 no answer, 5 busy, 8 congestion ...).
        """
        fields: dict[str, Any] = {
            "Action": "Originate",
            "Channel": channel,
            "Async": "true",
            "Timeout": int(timeout * 1000),
        }
        optional = {
            "Context": context,
            "Exten": exten,
            "Priority": priority,
            "Application": application,
            "Data": data,
            "CallerID": caller_id,
            "ChannelId": channel_id,
        }
        fields.update({k: v for k, v in optional.items() if v is not None})
        if variables:
            fields["Variable"] = [f"{k}={v}" for k, v in variables.items()]
        answer = await self._send(fields, limit=timeout + self.action_timeout, check=True)
        messages = answer if isinstance(answer, list) else [answer]
        final = messages[-1]
        if str(final.get("Response", "")).lower() != "success":
            raise AmiError(f"originate failed: reason {final.get('Reason')}", final)
        return final

    async def ping(self) -> bool:
        """True when Asterisk answers a Ping within `action_timeout`."""
        try:
            await self._send({"Action": "Ping"}, limit=None, check=True)
        except (AmiError, TimeoutError) as exc:
            log.debug("AMI ping failed: %r", exc)
            return False
        return True


async def _await(awaitable: Awaitable[None]) -> None:
    await awaitable
