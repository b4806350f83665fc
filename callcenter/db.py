"""Database engine and sessions: a SQLite file by default, PostgreSQL by URL.

Async throughout so a slow query never stalls the ARI event loop that answers calls.
The hottest writes (call records, timeline batches) go to one writer thread instead:
a whole transaction there costs the loop one hand-off, where the async driver costs a
few per statement.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the API read while the controller writes; NORMAL sync is durable across
    # process crashes (only an OS crash can lose the last transactions), which is the
    # trade every embedded deployment makes; busy_timeout avoids spurious "locked".
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


T = TypeVar("T")


def sync_url(url: str) -> str:
    """The same database for a blocking driver: pysqlite, or psycopg in its sync mode."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    driver = "sqlite" if backend == "sqlite" else f"{backend}+psycopg"
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


class Database:
    """One engine per process; `session()` for a unit of work."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if not self.is_sqlite:
            kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        self._writer: ThreadPoolExecutor | None = None
        self._sync_engine: Engine | None = None

    async def write(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one transaction on the writer thread, in submission order.

        One thread: writes keep their order (a call's row before its timeline's rows)
        and SQLite has a single writer anyway.
        """
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="db-writer")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._write_sync, work)

    def _write_sync(self, work: Callable[[Connection], T]) -> T:
        if self._sync_engine is None:
            kwargs: dict[str, Any] = {} if self.is_sqlite else {"pool_pre_ping": True}
            self._sync_engine = create_engine(sync_url(self.url), **kwargs)
            if self.is_sqlite:
                event.listen(self._sync_engine, "connect", _sqlite_pragmas)
        with self._sync_engine.begin() as conn:
            return work(conn)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        if self._sync_engine is not None:
            self._sync_engine.dispose()
            self._sync_engine = None
        await self.engine.dispose()
