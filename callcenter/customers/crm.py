"""CRM lookup by webhook: the company's CRM tells us who an incoming contact is.

On a contact (a call's customer found or created) we POST `{"kind", "value"}` to the
configured URL; a 200 JSON answer (`fields.CrmAnswer`) enriches the profile. The call
never waits for it: `CallService.start` has stored the call and linked the profile
before `contact()` is told, and the lookup runs as a supervised task; the enrichment
lands a moment later. A timeout or an error leaves the profile as it was.

Good answers are cached per identity for `ttl` seconds (a caller who rings back in a
minute costs the CRM nothing); failures are not cached, so the next contact asks again.
An outage is logged once, when it starts, and once more when the CRM answers again:
a warning per call would bury the log on a busy day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import httpx
from pydantic import ValidationError

from callcenter.customers.fields import CrmAnswer
from callcenter.customers.service import CustomerService
from callcenter.tasks import SupervisorStopped, TaskSupervisor

log = logging.getLogger(__name__)

CACHE_SECONDS = 600.0
CACHE_SIZE = 10_000  # identities kept; the oldest entry goes first


class CrmError(Exception):
    """The CRM did not give a usable answer (timeout, HTTP error, bad JSON)."""


class CrmLookup:
    def __init__(
        self,
        url: str,
        timeout: float,
        customers: CustomerService,
        *,
        ttl: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.customers = customers
        self.ttl = ttl
        self._monotonic = monotonic
        self._cache: dict[tuple[str, str], tuple[float, CrmAnswer]] = {}
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout))
        self._tasks = TaskSupervisor("crm-lookup", logger=log)
        self._failing = False
        self.requests = 0  # sent to the CRM
        self.hits = 0  # answered from the cache

    def contact(self, customer_id: int, kind: str, value: str) -> None:
        """A contact arrived for `customer_id` through (kind, value): look it up later."""
        with contextlib.suppress(SupervisorStopped):  # shutting down: no lookup
            self._tasks.spawn(self._enrich(customer_id, kind, value), name=f"crm {kind}")

    async def _enrich(self, customer_id: int, kind: str, value: str) -> None:
        try:
            answer = await self.lookup(kind, value)
        except CrmError as exc:
            if not self._failing:
                log.warning("CRM lookup failed, profiles are not enriched: %s", exc)
            self._failing = True
            return
        if self._failing:
            log.info("CRM lookup answers again")
            self._failing = False
        if answer is not None:
            await self.customers.enrich(customer_id, answer)

    async def lookup(self, kind: str, value: str) -> CrmAnswer | None:
        """The CRM's answer (cached), None when it does not know the contact (404)."""
        key = (kind, value)
        now = self._monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            self.hits += 1
            return cached[1]
        self.requests += 1
        try:
            response = await self._client.post(self.url, json={"kind": kind, "value": value})
        except httpx.TimeoutException:
            raise CrmError(f"no answer within {self.timeout} s from {self.url}") from None
        except httpx.HTTPError as exc:
            raise CrmError(f"{self.url}: {exc!r}") from None
        if response.status_code == 404:
            return None  # not a customer the CRM knows: nothing to add, nothing to cache
        if response.status_code != 200:
            raise CrmError(f"{self.url} answered HTTP {response.status_code}")
        try:
            answer = CrmAnswer.model_validate_json(response.content)
        except ValidationError as exc:
            raise CrmError(f"{self.url} answered an unusable profile: {exc}") from None
        self._cache.pop(key, None)
        self._cache[key] = (now + self.ttl, answer)
        while len(self._cache) > CACHE_SIZE:
            del self._cache[next(iter(self._cache))]
        return answer

    async def settle(self) -> None:
        """Wait until the lookups started so far are done (tests, shutdown)."""
        while pending := self._tasks.tasks:
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        await self._tasks.stop()
        await self._client.aclose()
