"""The schema on both supported databases: migrations apply, match the models, keep data.

The round trip is generic on purpose: it builds one row per table from the column types
(parents before children, foreign keys pointing at the parent row), so a table added by
any domain is covered the day its migration lands, without editing this file.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Table, insert, inspect, select
from sqlalchemy.engine import Connection

from callcenter.db import Database
from callcenter.migrate import (
    DatabaseUnavailable,
    check_database,
    current,
    database_unavailable,
    head_revision,
    open_database,
    upgrade,
)
from callcenter.models import load_all_models, unmodelled
from tests.support.servers import free_port

METADATA = load_all_models()


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def test_migrations_reach_head_and_create_every_table(database: Database) -> None:
    assert await current(database) == head_revision()
    async with database.engine.connect() as conn:
        tables = await conn.run_sync(_tables)
    assert set(METADATA.tables) <= tables


async def test_upgrade_twice_is_a_no_op(database: Database) -> None:
    await upgrade(database)
    assert await current(database) == head_revision()


async def test_migrations_match_the_models(database: Database) -> None:
    """A model changed without a migration shows up here (run `callcenter db revision`)."""

    def diff(conn: Connection) -> list[Any]:
        opts = {"compare_type": True, "include_name": unmodelled}  # full-text: migrations'
        ctx = MigrationContext.configure(conn, opts=opts)
        return compare_metadata(ctx, METADATA)

    async with database.engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == [], "models and migrations differ; run `callcenter db revision -m ...`"


# --------------------------------------------------------------------------- round trip


def _value(column: Any, n: int) -> Any:
    """A value of the column's Python type that every backend must store exactly."""
    enum_class = getattr(column.type, "enum_class", None)
    if enum_class is not None:
        return next(iter(enum_class))
    try:
        py = column.type.python_type
    except NotImplementedError:
        py = str
    length = getattr(column.type, "length", None) or 200
    if issubclass(py, bool):
        return True
    if issubclass(py, int):
        return 1000 + n
    if issubclass(py, float):
        return 1.5
    if issubclass(py, decimal.Decimal):
        return decimal.Decimal("12.34")
    if issubclass(py, dt.datetime):
        when = dt.datetime(2026, 3, 29, 1, 30, 15, 123000)
        return when.replace(tzinfo=dt.UTC) if getattr(column.type, "timezone", False) else when
    if issubclass(py, dt.date):
        return dt.date(2026, 2, 28)
    if issubclass(py, dt.time):
        return dt.time(23, 59, 58)
    if issubclass(py, uuid.UUID):
        return uuid.UUID(int=n + 1)
    if issubclass(py, dict):
        return {"k": [1, "é"], "n": n}
    if issubclass(py, list):
        return ["a", "ü", n]
    if issubclass(py, bytes):
        return b"\x00\xff" * 4
    if issubclass(py, enum.Enum):
        return next(iter(py))
    return f"v{n}-é"[:length]


def _same(written: Any, read: Any) -> bool:
    if isinstance(written, dt.datetime) and isinstance(read, dt.datetime):
        # SQLite keeps no zone: it gives back the naive UTC wall time.
        if written.tzinfo is not None and read.tzinfo is None:
            return written.astimezone(dt.UTC).replace(tzinfo=None) == read
        return written == read
    if isinstance(written, enum.Enum) and not isinstance(read, enum.Enum):
        return written.value == read or written.name == read
    return bool(written == read)


def _round_trip(conn: Connection) -> None:
    inserted: dict[str, dict[str, Any]] = {}
    for n, table in enumerate(METADATA.sorted_tables):
        row: dict[str, Any] = {}
        for i, column in enumerate(table.columns):
            fks = list(column.foreign_keys)
            if fks:
                parent = fks[0].column
                if parent.table.name in inserted and parent.table is not table:
                    row[column.name] = inserted[parent.table.name][parent.name]
                elif column.nullable:
                    row[column.name] = None
                continue
            if column.primary_key and column.autoincrement in (True, "auto") and _int(column):
                continue
            row[column.name] = _value(column, n * 100 + i)
        try:
            result = conn.execute(insert(table).values(**row))
        except Exception as exc:  # pragma: no cover - reported, then fails the test
            raise AssertionError(f"insert into {table.name} failed: {exc}") from exc
        pk = result.inserted_primary_key or ()
        for column, value in zip(table.primary_key.columns, pk, strict=False):
            row[column.name] = value
        inserted[table.name] = row
        # By key: a migration may seed rows of its own (ticket_types).
        key = [c == row[c.name] for c in table.primary_key.columns]
        got = conn.execute(select(table).where(*key)).mappings().one()
        for name, value in row.items():
            assert _same(value, got[name]), (
                f"{table.name}.{name}: wrote {value!r}, read {got[name]!r}"
            )


def _int(column: Any) -> bool:
    try:
        return issubclass(column.type.python_type, int)
    except NotImplementedError:
        return False


async def test_round_trip_of_one_row_per_table(database: Database) -> None:
    if not METADATA.tables:
        pytest.skip("no tables in the models yet")
    async with database.engine.begin() as conn:
        await conn.run_sync(_round_trip)


async def test_sessions_see_committed_rows(database: Database) -> None:
    """ORM sessions (what the services use) read what another session committed."""
    tables: list[Table] = [t for t in METADATA.sorted_tables if not t.foreign_keys]
    if not tables:
        pytest.skip("no table without foreign keys yet")
    async with database.engine.begin() as conn:
        await conn.run_sync(lambda c: _round_trip_only(c, tables[0]))
    async with database.session() as session:
        rows = (await session.exec(select(tables[0]))).all()  # type: ignore[call-overload]
    assert len(rows) == 1


def _round_trip_only(conn: Connection, table: Table) -> None:
    row = {
        c.name: _value(c, i) for i, c in enumerate(table.columns) if not (c.primary_key and _int(c))
    }
    conn.execute(insert(table).values(**row))


# --------------------------------------------------------------------------- bad URLs


@pytest.mark.postgres
async def test_postgres_on_a_wrong_port_is_a_clear_error(postgres_url: str) -> None:
    port = postgres_url.split("@", 1)[1].split("/", 1)[0].split(":")[1]
    url = postgres_url.replace(f":{port}/", f":{free_port()}/")
    db = open_database(url.replace("postgres@", "postgres:s3cret@"))
    try:
        with pytest.raises(DatabaseUnavailable) as err:
            await upgrade(db)
        message = str(err.value)
        assert "CALLCENTER_DATABASE_URL" in message
        assert "start PostgreSQL or fix the host and port" in message
        assert "s3cret" not in message
        with pytest.raises(DatabaseUnavailable):
            await check_database(db)
    finally:
        await db.close()


async def test_sqlite_in_an_impossible_place_is_a_clear_error(tmp_path: Any) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be")
    db = open_database(f"sqlite+aiosqlite:///{blocker / 'callcenter.db'}")
    try:
        with pytest.raises(DatabaseUnavailable) as err:
            await upgrade(db)
        message = str(err.value)
        assert "CALLCENTER_DATABASE_URL" in message
        assert "not-a-directory" in message
        assert "writable" in message
    finally:
        await db.close()


def test_a_url_without_an_async_driver_is_a_clear_error() -> None:
    with pytest.raises(DatabaseUnavailable, match="CALLCENTER_DATABASE_URL"):
        open_database("postgresql+nosuchdriver://u@127.0.0.1/x")


@pytest.mark.parametrize(
    ("driver_says", "advice"),
    [
        ('connection to server at "db" failed: FATAL: password authentication failed', "password"),
        ("failed to resolve host 'db.example': Name or service not known", "unknown"),
        ('FATAL: database "cc" does not exist', "createdb cc"),
        ("connection refused", "start PostgreSQL or fix the host and port"),
    ],
)
def test_error_messages_say_what_to_do(driver_says: str, advice: str) -> None:
    from sqlalchemy.exc import OperationalError

    exc = OperationalError("connect", {}, Exception(driver_says))
    message = str(database_unavailable("postgresql+psycopg://cc:pw@db.example:5432/cc", exc))
    assert "CALLCENTER_DATABASE_URL" in message
    assert advice in message
    assert ":pw@" not in message


# --------------------------------------------------------------------------- CLI


def test_cli_upgrade_and_current(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from callcenter.cli import app

    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("CALLCENTER_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    before = runner.invoke(app, ["db", "current"])
    assert before.exit_code == 0, before.output
    assert "base (empty)" in before.output
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    after = runner.invoke(app, ["db", "current"])
    assert f"at {head_revision()}" in after.output
    assert "up to date" in after.output


def test_cli_bad_url_is_one_line_and_exit_1(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from callcenter.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", f"postgresql://cc:pw@127.0.0.1:{free_port()}/cc")
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 1
    assert "CALLCENTER_DATABASE_URL" in result.output
    assert "Traceback" not in result.output
