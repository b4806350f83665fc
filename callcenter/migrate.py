"""Schema migrations (Alembic) run from code, against the engine the process already has.

There is no alembic.ini: the configuration is built here with `script_location` pointing
into the installed package, so `callcenter db upgrade` and the start-up upgrade work the
same from a wheel, a checkout or a container. Migrations run on the application's own
async engine through `conn.run_sync`, so the URL, SQLite pragmas and pool are the ones the
app uses.

A database that cannot be reached is the most common start-up failure in production, and
SQLAlchemy's report of it is a page of traceback; `DatabaseUnavailable` turns it into one
sentence that names CALLCENTER_DATABASE_URL and says what to do.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InvalidRequestError,
    NoSuchModuleError,
)

if TYPE_CHECKING:
    from callcenter.db import Database

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSIONS_DIR = MIGRATIONS_DIR / "versions"

# Any constant works; it only has to be the same in every controller process so two
# controllers starting together do not both try to create the same tables.
_PG_MIGRATION_LOCK = 0x63616C6C  # "call"

T = TypeVar("T")


class DatabaseUnavailable(Exception):
    """The configured database cannot be opened; the message says why and what to do."""


# --------------------------------------------------------------------------- errors


def redacted(url: str) -> str:
    """The URL without its password, safe to print in logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def _hint(url: str, exc: BaseException) -> str:
    """What the operator should do, from the driver's (not very structured) message."""
    msg = str(exc).lower()
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "it is not a valid URL; use e.g. postgresql://user:pass@host:5432/callcenter"
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        if "unable to open" not in msg:
            # Opened, but unusable: not a database, locked, read-only media…
            return f"SQLite cannot use {path}: check that it is a callcenter database file"
        return (
            f"SQLite cannot open {path}: its directory {path.parent} must exist and be "
            "writable by this user (create it, fix its permissions, or set "
            "CALLCENTER_DATA_DIR / CALLCENTER_DATABASE_URL to a writable place)"
        )
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    if "password authentication failed" in msg or "no password supplied" in msg:
        return f"user {parsed.username!r} was refused by {where}: check the user and password"
    if "could not translate host name" in msg or "name or service not known" in msg:
        return f"host {parsed.host!r} is unknown: check the host name"
    if "does not exist" in msg and "database" in msg:
        return (
            f"the database {parsed.database!r} does not exist on {where}: "
            f"create it (createdb {parsed.database}) or fix the name"
        )
    if "connection refused" in msg or "could not connect" in msg or "timeout" in msg:
        return f"nothing answers on {where}: start PostgreSQL or fix the host and port"
    return "check that the server is running and the URL, user and password are right"


def database_unavailable(url: str, exc: BaseException) -> DatabaseUnavailable:
    """Build the one-sentence error for `url` failing with `exc` (for `Database.ping` callers)."""
    if isinstance(exc, NoSuchModuleError | ModuleNotFoundError | InvalidRequestError):
        # Wrong or missing driver: `postgresql+psycopg2://`, a sync driver on the async
        # engine, or psycopg not installed in this environment.
        return DatabaseUnavailable(
            f"cannot use the database {redacted(url)}: no async driver for it ({exc}). "
            "Set CALLCENTER_DATABASE_URL to postgresql://user:pass@host/db or "
            "sqlite:///path/file.db (the psycopg and aiosqlite drivers come with the package)."
        )
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return DatabaseUnavailable(
        f"cannot open the database {redacted(url)} (CALLCENTER_DATABASE_URL): "
        f"{_hint(url, exc)}. Driver said: {reason}"
    )


def _is_unavailable(exc: BaseException) -> bool:
    # OperationalError covers refused connections, bad passwords and SQLite files that
    # cannot be opened; driver import problems show up as the other three.
    return isinstance(
        exc,
        DBAPIError | OSError | NoSuchModuleError | ModuleNotFoundError | InvalidRequestError,
    )


def open_database(url: str, **kwargs: Any) -> Database:
    """`Database(url)`, with a bad driver in the URL reported as `DatabaseUnavailable`."""
    from callcenter.db import Database

    try:
        return Database(url, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError, InvalidRequestError, ArgumentError) as exc:
        raise database_unavailable(url, exc) from exc


async def check_database(db: Database) -> None:
    """Open one connection now, so a bad URL fails at start-up with a clear message."""
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        if _is_unavailable(exc):
            raise database_unavailable(db.url, exc) from exc
        raise


async def _on_connection(db: Database, fn: Callable[[Connection], T], *, begin: bool) -> T:
    """Run a sync alembic function on one of `db`'s connections, translating connect errors.

    Only failures to *connect* become `DatabaseUnavailable`; an error inside a migration
    is a bug in that migration and must surface with its own traceback.
    """
    try:
        conn = await db.engine.connect()
    except Exception as exc:
        if _is_unavailable(exc):
            raise database_unavailable(db.url, exc) from exc
        raise
    try:
        if not begin:
            return await conn.run_sync(fn)
        async with conn.begin():
            return await conn.run_sync(fn)
    finally:
        await conn.close()


# --------------------------------------------------------------------------- alembic


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration, built in code; `connection` is handed to env.py."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Sortable, readable file names: 0001_initial.py, 0002_add_queues.py …
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.set_main_option("truncate_slug_length", "40")
    if importlib.util.find_spec("ruff") is not None:
        # Generated migrations come out ruff-formatted, as the rest of the code base.
        # Format first (it splits long lines), then let the linter sort imports.
        cfg.set_section_option("post_write_hooks", "hooks", "ruff_format, ruff_fix")
        for name, options in (
            ("ruff_format", "format --silent REVISION_SCRIPT_FILENAME"),
            ("ruff_fix", "check --fix --silent --exit-zero REVISION_SCRIPT_FILENAME"),
        ):
            cfg.set_section_option("post_write_hooks", f"{name}.type", "module")
            cfg.set_section_option("post_write_hooks", f"{name}.module", "ruff")
            cfg.set_section_option("post_write_hooks", f"{name}.options", options)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    """The newest revision shipped with this package (None when there is none yet)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade_sync(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        # Held until the migration transaction ends: a second controller waits, then
        # finds the schema already at head and does nothing.
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
    command.upgrade(alembic_config(connection), revision)


def _current_sync(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema of `db` to `revision` (all shipped migrations by default)."""
    await _on_connection(db, lambda c: _upgrade_sync(c, revision), begin=True)
    log.info("database %s at revision %s", redacted(db.url), revision)


async def current(db: Database) -> str | None:
    """The revision the database is at, or None for an empty (never migrated) database."""
    return await _on_connection(db, _current_sync, begin=False)


def _next_rev_id() -> str:
    ids = [
        int(m.group(1))
        for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
        if (m := re.fullmatch(r"(\d+)", script.revision))
    ]
    return f"{max(ids, default=0) + 1:04d}"


def revision(message: str, *, autogenerate: bool = True) -> Path | None:
    """Write a new migration file into the package's versions/ (development only).

    Autogenerate compares the models with a *fresh* SQLite database upgraded to the
    current head, never with the developer's own database, so the result depends only
    on the code. Returns the new file, or None when autogenerate found no change.
    Synchronous (it runs its own event loop): call it from a command, not from async code.
    """
    from callcenter.models import load_all_models

    # A model module that fails to import would look like "table dropped" to
    # autogenerate; refuse rather than write a migration that deletes data.
    load_all_models(strict=True)
    rev_id = _next_rev_id()
    VERSIONS_DIR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="callcenter-revision-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'autogenerate.db'}"
        return asyncio.run(_revision(url, message, rev_id, autogenerate))


async def _revision(url: str, message: str, rev_id: str, autogenerate: bool) -> Path | None:
    db = open_database(url)
    try:
        await upgrade(db)

        def write(connection: Connection) -> Path | None:
            cfg = alembic_config(connection)
            cfg.attributes["skip_empty"] = autogenerate
            script = command.revision(
                cfg, message=message, autogenerate=autogenerate, rev_id=rev_id
            )
            if script is None or isinstance(script, list):
                return None
            return Path(script.path)

        return await _on_connection(db, write, begin=False)
    finally:
        await db.close()
