"""Delivering webhooks: queue bus events, POST them signed, retry, give up into dead letters.

Two supervised tasks: one turns bus events into queued rows (`WebhookService.from_event`),
one sends what is due, at most `concurrency` requests at a time, each with a timeout.
Network errors, timeouts, 408, 429 and 5xx are retried with capped exponential backoff
and jitter (callcenter.backoff: a receiver that comes back is not hit by every queued
delivery in the same second); any other answer outside 2xx is the receiver saying no,
so the delivery goes to the dead-letter list at once. After `max_attempts` a retried
delivery goes there too. Due times come from the injected clock, so tests move it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from callcenter.backoff import Backoff
from callcenter.clock import Clock
from callcenter.events import Event, EventBus, Subscription, handle_each
from callcenter.tasks import TaskSupervisor
from callcenter.webhooks import signing
from callcenter.webhooks.service import DEAD, DELIVERED, WebhookService

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class DeliveryPolicy:
    timeout: float = 5.0  # seconds per request
    max_attempts: int = 8
    concurrency: int = 4
    retry_initial: float = 30.0  # seconds before the first retry, doubling each time
    retry_max: float = 3600.0
    poll_seconds: float = 1.0  # how often due retries are looked for


class WebhookDispatcher:
    def __init__(
        self,
        service: WebhookService,
        bus: EventBus,
        clock: Clock,
        policy: DeliveryPolicy | None = None,
    ) -> None:
        self.service = service
        self.bus = bus
        self.clock = clock
        self.policy = policy or DeliveryPolicy()
        self.state = "idle"
        self._tasks = TaskSupervisor("webhooks", logger=log)
        self._sub: Subscription | None = None
        self._wake = asyncio.Event()
        self._in_flight: set[int] = set()
        self._client: httpx.AsyncClient | None = None
        self._backoff = Backoff(
            initial=self.policy.retry_initial, factor=2.0, max=self.policy.retry_max
        )

    def _set_state(self, state: str) -> None:
        log.info("webhooks: %s -> %s", self.state, state)
        self.state = state

    async def start(self) -> None:
        if self.state != "idle":
            return
        self._client = httpx.AsyncClient(timeout=self.policy.timeout, follow_redirects=False)
        # Every event passes here (most match no subscription and cost a prefix test);
        # a deep queue rides out bursts, beyond it the bus drops and counts.
        self._sub = self.bus.subscribe(maxsize=10_000)
        queueing = handle_each(self._sub, self._queue, log=log, what="webhooks: queueing")
        self._tasks.spawn(queueing, name="webhooks-queue")
        self._tasks.spawn(self._send_loop(), name="webhooks-send")
        self._set_state("running")

    async def stop(self) -> None:
        if self.state in ("idle", "stopped"):
            self.state = "stopped"
            return
        self._set_state("stopped")
        if self._sub is not None:
            self._sub.close()
        await self._tasks.stop()
        if self._client is not None:
            await self._client.aclose()

    def wake(self) -> None:
        """Something was queued (or replayed): look now, not at the next poll."""
        self._wake.set()

    async def _queue(self, event: Event) -> None:
        if await self.service.from_event(event):
            self.wake()

    async def _send_loop(self) -> None:
        while True:
            try:
                await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhooks: a delivery round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.policy.poll_seconds)
            self._wake.clear()

    async def deliver_due(self) -> int:
        """Send every delivery due now, `concurrency` at a time; how many were tried."""
        tried = 0
        while True:
            free = self.policy.concurrency - len(self._in_flight)
            if free <= 0:
                return tried
            batch = await self.service.due(self.clock.now(), free, set(self._in_flight))
            if not batch:
                return tried
            self._in_flight.update(row["id"] for row in batch)
            try:
                await asyncio.gather(*(self._attempt(row) for row in batch))
            finally:
                self._in_flight.difference_update(row["id"] for row in batch)
            tried += len(batch)

    async def _attempt(self, row: dict[str, Any]) -> None:
        if self._client is None:  # deliver_due called without start(): a test's own round
            self._client = httpx.AsyncClient(timeout=self.policy.timeout, follow_redirects=False)
        body = row["body"].encode()
        headers = signing.headers(row["secret"], body, row["id"], row["event_type"],
                                  self.clock.now().timestamp())  # fmt: skip
        status: int | None = None
        retry = True
        try:
            answer = await self._client.post(row["url"], content=body, headers=headers)
            status = answer.status_code
            error = "" if 200 <= status < 300 else f"HTTP {status}"
            retry = _retried(status)
        except httpx.TimeoutException:
            error = f"no answer within {self.policy.timeout:g} s"
        except httpx.HTTPError as exc:  # refused, reset, DNS: the network, try again
            error = f"{type(exc).__name__}: {exc}"[:500]
        except Exception as exc:  # e.g. a URL httpx cannot use: retrying will not help
            error = f"{type(exc).__name__}: {exc}"[:500]
            retry = False
        attempts = int(row["attempts"]) + 1
        now = self.clock.now()
        values: dict[str, Any] = {"attempts": attempts, "last_status": status, "last_error": error}
        if not error:
            values.update(state=DELIVERED, finished_at=now)
        elif not retry or attempts >= self.policy.max_attempts:
            values.update(state=DEAD, finished_at=now)
            log.warning("webhooks: delivery %s to webhook %s is dead after %d attempts: %s",
                        row["id"], row["webhook_id"], attempts, error)  # fmt: skip
        else:
            values["next_attempt_at"] = now + timedelta(seconds=self.delay(attempts))
        await self.service.record(int(row["id"]), values)

    def delay(self, attempts: int) -> float:
        """Seconds before the retry after `attempts` failed ones."""
        backoff = self._backoff.clone()
        backoff.attempts = attempts - 1
        return backoff.next_delay()


def _retried(status: int) -> bool:
    """A server error, or "later please" (408, 429)."""
    return status >= 500 or status in RETRIED_STATUSES
