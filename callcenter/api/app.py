"""The FastAPI application: routers, middleware, and the lifespan that owns the services."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from callcenter import __version__
from callcenter.api.routes import (
    agents,
    announcements,
    audit,
    auth,
    bot,
    call_tickets,
    calls,
    canned_responses,
    chat,
    chat_ws,
    customers,
    forecast,
    health,
    ivr,
    kb,
    mail,
    messaging,
    portal,
    quality,
    reports,
    routing,
    sensitive,
    sla,
    softphone,
    speech,
    supervise,
    ticket_automation,
    ticket_content,
    tickets,
    transcripts,
    users,
    wallboard,
    webhooks,
    ws,
)
from callcenter.auth.audit import AuditMiddleware
from callcenter.clock import Clock
from callcenter.collector import CollectorPolicy
from callcenter.config import Settings
from callcenter.services import Services, running_services

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


async def _start_server_parts(services: Services) -> None:
    """What the server runs and a CLI command never does: the wallboard, webhooks and
    ticket automation (`CALLCENTER_AUTOMATION_ENABLED`), SLA clocks, the sensitive-word
    lists' follower, replies out through messaging channels."""
    await services.wallboard.start()
    if services.settings.automation_enabled:  # services._automation
        assert services.webhook_dispatcher and services.ticket_automation
        await services.webhook_dispatcher.start()
        await services.ticket_automation.start()
    for part in (services.sla, services.sensitive, services.messaging):
        if part is not None:
            await part.start()


async def _stop_server_parts(services: Services) -> None:
    """The parts above, before running_services stops the rest (each stop is idempotent)."""
    await services.wallboard.stop()
    for part in (services.sla, services.sensitive, services.messaging):
        if part is not None:
            await part.stop()


def create_app(
    settings: Settings,
    *,
    with_pbx: bool = True,
    clock: Clock | None = None,
    freeze_at_start: bool = False,
) -> FastAPI:
    """Build the app; services start in the lifespan, so importing this starts nothing.

    `freeze_at_start` (the server process's own app) moves what start-up made out of the
    garbage collector's way: a full collection walking it stalled every websocket for
    ~200 ms every few seconds under load (bench/wallboard.py); frozen, ~30 ms. What the
    server makes later is frozen at a steady pace too (callcenter/collector.py). A test
    process that builds many apps leaves it off, or every app would stay in memory.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_services(settings, clock=clock, with_pbx=with_pbx) as services:
            app.state.services = services
            await _start_server_parts(services)
            collector: asyncio.Task[None] | None = None
            if freeze_at_start:
                policy = CollectorPolicy()
                policy.start_up()
                collector = asyncio.create_task(policy.run(), name="garbage-collector-policy")
            try:
                yield
            finally:
                if collector is not None:
                    collector.cancel()
                await _stop_server_parts(services)

    app = FastAPI(
        title="Call center",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
    )
    app.add_middleware(AuditMiddleware)
    routers = (auth, users, audit, agents, announcements, calls, call_tickets, customers,
               forecast, health, ivr, mail, portal, quality, reports, routing, softphone,
               supervise, ticket_automation, ticket_content, tickets, wallboard, webhooks,
               ws)  # fmt: skip
    for module in routers:
        app.include_router(module.router)
    app.include_router(sla.router)
    app.include_router(sensitive.router)
    app.include_router(kb.router)
    app.include_router(bot.router)
    app.include_router(canned_responses.router)
    app.include_router(speech.router)
    app.include_router(transcripts.router)
    app.include_router(chat.router)
    app.include_router(chat_ws.router)
    app.include_router(messaging.router)
    app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app
