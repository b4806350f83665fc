"""An API app on a throwaway SQLite database: real services, no PBX, a settable clock.

Tests talk to it with httpx over ASGITransport, so no port is opened and the app runs
in the test's event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import SQLModel

from callcenter.api.routes import audit, auth, users
from callcenter.auth.audit import AuditMiddleware
from callcenter.auth.models import ApiToken, AuditEntry, User
from callcenter.auth.passwords import FAST_INSECURE_PARAMS
from callcenter.auth.service import AuthService
from callcenter.clock import FixedClock
from callcenter.config import Settings
from callcenter.db import Database
from callcenter.events import EventBus
from callcenter.events.memory import InMemoryBus

TABLES = [User.__table__, ApiToken.__table__, AuditEntry.__table__]  # type: ignore[attr-defined]


@dataclass
class Services:
    """The part of `callcenter.services.Services` the auth routes use; the real one grows
    with every domain, and these tests should not have to start them all."""

    settings: Settings
    db: Database
    bus: EventBus
    clock: FixedClock
    auth: AuthService
    extras: dict[str, object] = field(default_factory=dict)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        data_dir=tmp_path,
        login_attempts_per_minute=3,
    )


@pytest.fixture
async def services(settings: Settings, clock: FixedClock) -> AsyncIterator[Services]:
    db = Database(settings.database)
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda c: SQLModel.metadata.create_all(c, tables=TABLES))
    bus = InMemoryBus()
    await bus.start()
    auth_service = AuthService(db, settings, clock, password_params=FAST_INSECURE_PARAMS)
    try:
        yield Services(settings=settings, db=db, bus=bus, clock=clock, auth=auth_service)
    finally:
        await bus.stop()
        await db.close()


@pytest.fixture
def app(services: Services) -> FastAPI:
    app = FastAPI()
    app.add_middleware(AuditMiddleware)
    for module in (auth, users, audit):
        app.include_router(module.router)
    app.state.services = services
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
def login(client: httpx.AsyncClient):  # -> async (username, password) -> headers
    async def do(username: str, password: str) -> dict[str, str]:
        r = await client.post("/api/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    return do
