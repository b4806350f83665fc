"""Shared fixtures: throwaway PostgreSQL and Redis servers, migrated databases, event buses.

Servers are started once per test session (about a second for PostgreSQL, milliseconds for
Redis) and every test gets its own database / stream on them, so tests never share data.
When the server binaries are missing the tests that need them fail, saying how to install
them (`make test` does, through scripts/bootstrap.sh test).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # `tests.support` must import the same way from tests and from bench/.
    sys.path.insert(0, str(ROOT))

from callcenter.db import Database  # noqa: E402
from callcenter.events import EventBus  # noqa: E402
from callcenter.events.memory import InMemoryBus  # noqa: E402
from callcenter.migrate import upgrade  # noqa: E402
from tests.support.servers import (  # noqa: E402
    PostgresServer,
    RedisServer,
    ServerUnavailable,
    start_postgres,
    start_redis,
)

S = TypeVar("S", PostgresServer, RedisServer)

# --------------------------------------------------------------------------- servers


def _session_server(start: Callable[[], S]) -> Iterator[S]:
    """Start a real server for the session and stop it at the end. A missing one fails
    the tests that need it (never a skip: CI must not pass without PostgreSQL/Redis)."""
    try:
        server = start()
    except ServerUnavailable as exc:
        pytest.fail(f"{exc}; install it with: scripts/bootstrap.sh test", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL 15 cluster for the whole session (stopped and deleted at end)."""
    yield from _session_server(start_postgres)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of an empty database `callcenter` on the session cluster.

    The `postgresql+psycopg://` form works both for `Database(url)` and as
    `CALLCENTER_DATABASE_URL` / `load_settings(database_url=...)`.
    """
    postgres_server.create_database("callcenter")
    return postgres_server.url("callcenter")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server for the session. Do not restart it: tests share it."""
    yield from _session_server(start_redis)


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """`redis://127.0.0.1:PORT/0` of the session Redis."""
    return redis_server.url


@pytest.fixture
def own_redis_server() -> Iterator[RedisServer]:
    """A Redis of this test's own, for tests that kill or restart it."""
    yield from _session_server(start_redis)


# --------------------------------------------------------------------------- databases


def _migrate_in_own_loop(url: str) -> None:
    async def run() -> None:
        db = Database(url)
        try:
            await upgrade(db)
        finally:
            # A template must have no open connection when it is copied.
            await db.close()

    # A sync fixture (so `database` can request it lazily) cannot use the session
    # loop, which is busy running the requesting fixture; a thread has its own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="session")
def _postgres_template(postgres_server: PostgresServer) -> str:
    """A database migrated once; each test's database is a fast copy (CREATE … TEMPLATE)."""
    name = postgres_server.create_database(f"cc_template_{uuid.uuid4().hex[:8]}")
    _migrate_in_own_loop(postgres_server.url(name))
    return name


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty `Database` of this test's own, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'callcenter.db'}")
        await upgrade(db)
        try:
            yield db
        finally:
            await db.close()
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template: str = request.getfixturevalue("_postgres_template")
    name = server.create_database(template=template)
    db = Database(server.url(name))
    try:
        yield db
    finally:
        await db.close()
        server.drop_database(name)


# --------------------------------------------------------------------------- event buses


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    """A started event bus; the Redis one uses a stream of its own on the session Redis."""
    if request.param == "memory":
        bus: EventBus = InMemoryBus()
    else:
        from callcenter.events.redis import RedisBus

        url: str = request.getfixturevalue("redis_url")
        bus = RedisBus(url, stream=f"test:{uuid.uuid4().hex}", block_ms=1000)
    await bus.start()
    try:
        yield bus
    finally:
        await bus.stop()
