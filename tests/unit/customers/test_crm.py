"""The CRM lookup webhook against a real HTTP server on a free local port: the call is
stored first, the answer enriches the profile a moment later, good answers are cached,
and a slow or failing CRM never delays a call."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from callcenter.calls.service import NewCall
from callcenter.clock import FixedClock
from callcenter.config import Settings
from callcenter.customers.crm import CrmLookup
from callcenter.services import Services, running_services

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TIMEOUT = 0.3
KNOWN = {
    "+8613800000001": {"display_name": "王芳", "class": "vip", "tags": ["Gold", "beijing"],
                       "custom_fields": {"contract": "C-1001", "seats": 20},
                       "external_id": "crm-42", "ignored": "unknown keys are fine"},
}  # fmt: skip


@dataclass
class FakeCrm:
    """What the CRM was asked, and how it answers each number."""

    url: str = ""
    asked: list[dict[str, Any]] = field(default_factory=list)
    slow: set[str] = field(default_factory=set)
    broken: set[str] = field(default_factory=set)
    gate: asyncio.Event | None = None  # when set, answers wait for it
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # a request came in

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.asked.append(body)
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        if body["value"] in self.slow:
            await asyncio.sleep(TIMEOUT * 5)
        if body["value"] in self.broken:
            return web.json_response({"class": "platinum"})  # not a class we have
        if body["value"] not in KNOWN:
            return web.json_response({"error": "unknown"}, status=404)
        return web.json_response(KNOWN[body["value"]])


@pytest.fixture
async def crm() -> AsyncIterator[FakeCrm]:
    fake = FakeCrm()
    app = web.Application()
    app.router.add_post("/lookup", fake.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)  # a free port: never a fixed one
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"http://127.0.0.1:{port}/lookup"
    try:
        yield fake
    finally:
        await runner.cleanup()


@pytest.fixture
async def services(database, crm, tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        data_dir=tmp_path,
        database_url=database.url,
        crm_lookup_url=crm.url,
        crm_lookup_timeout=TIMEOUT,
    )
    async with running_services(settings, clock=FixedClock(START)) as built:
        yield built


async def _arrive(services: Services, channel: str, number: str) -> tuple[int, float]:
    """A call from `number`: its customer's id and how long the call's start took."""
    began = time.monotonic()
    call = await services.calls.start(NewCall(channel, number, "", "4008001000"))
    assert call.customer_id is not None
    return call.customer_id, time.monotonic() - began


def _lookup(services: Services) -> CrmLookup:
    assert services.crm is not None
    return services.crm


async def test_an_answer_enriches_the_profile_after_the_call_is_stored(services, crm):
    crm.gate = asyncio.Event()  # the CRM holds its answer until we let it go
    customer_id, _ = await _arrive(services, "c-1", "+86 138 0000 0001")
    await asyncio.wait_for(crm.arrived.wait(), 5)  # the call is stored, the CRM asked
    assert (await services.customers.get(customer_id))["external_id"] == ""
    crm.gate.set()
    await _lookup(services).settle()
    profile = await services.customers.get(customer_id)
    assert crm.asked == [{"kind": "phone", "value": "+8613800000001"}]
    assert profile["name"] == "王芳" and profile["class"] == "vip"
    assert profile["tags"] == ["beijing", "gold"] and profile["external_id"] == "crm-42"
    assert profile["custom_fields"] == {"contract": "C-1001", "seats": 20}


async def test_good_answers_are_cached_failures_are_not(services, crm):
    lookup = _lookup(services)
    for n in range(3):
        await _arrive(services, f"k-{n}", "+8613800000001")
        await lookup.settle()
    assert (lookup.requests, lookup.hits, len(crm.asked)) == (1, 2, 1)
    crm.broken.add("+8613800000009")
    for n in range(2):
        await _arrive(services, f"b-{n}", "+8613800000009")
        await lookup.settle()
    assert (lookup.requests, lookup.hits, len(crm.asked)) == (3, 2, 3)
    unknown_id, _ = await _arrive(services, "u-1", "+8613800000555")  # the CRM says 404
    await lookup.settle()
    assert (await services.customers.get(unknown_id))["class"] == "new"


async def test_a_slow_crm_never_delays_the_call_and_is_logged_once(services, crm, caplog):
    crm.slow.add("+8613800000001")
    lookup = _lookup(services)
    with caplog.at_level(logging.INFO, logger="callcenter.customers.crm"):
        first, took = await _arrive(services, "s-1", "+8613800000001")
        assert took < TIMEOUT  # the call did not wait for the CRM
        await _arrive(services, "s-2", "+8613800000001")
        began = time.monotonic()
        await lookup.settle()
        assert time.monotonic() - began < TIMEOUT * 3  # given up at the timeout
    failures = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(failures) == 1 and "no answer within 0.3 s" in failures[0].getMessage()
    profile = await services.customers.get(first)
    assert profile["class"] == "returning" and profile["external_id"] == ""
    assert lookup.hits == 0 and lookup.requests == 2
    crm.slow.clear()  # the CRM is back: said once, and the profile is enriched
    with caplog.at_level(logging.INFO, logger="callcenter.customers.crm"):
        await _arrive(services, "s-3", "+8613800000001")
        await lookup.settle()
    assert any("answers again" in r.getMessage() for r in caplog.records)
    assert (await services.customers.get(first))["external_id"] == "crm-42"


async def test_no_url_no_lookup(database, tmp_path):
    settings = Settings(_env_file=None, env="test", data_dir=tmp_path,  # type: ignore[call-arg]
                        database_url=database.url)  # fmt: skip
    async with running_services(settings, clock=FixedClock(START)) as services:
        assert services.crm is None
        customer_id, _ = await _arrive(services, "n-1", "+8613800000001")
        assert (await services.customers.get(customer_id))["external_id"] == ""
