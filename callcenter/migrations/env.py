"""Alembic environment: run from `callcenter.migrate` with a live connection, or offline.

`callcenter.migrate` hands the application's own connection in
`config.attributes["connection"]` (online mode, the normal path). Without one, the URL in
`sqlalchemy.url` is used: `--sql` offline rendering, or an async engine of its own for
someone driving Alembic's API directly.

SQLite cannot ALTER most things in place, so on SQLite autogenerate renders
`batch_alter_table` blocks (copy-and-move); on PostgreSQL the same blocks are plain ALTERs.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from callcenter.models import load_all_models, unmodelled

config = context.config
load_all_models()
target_metadata = SQLModel.metadata


def _skip_empty(context_, revision, directives) -> None:
    # `callcenter db revision` with no model change must not write an empty migration.
    if config.attributes.get("skip_empty") and directives:
        script = directives[0]
        if script.upgrade_ops is not None and script.upgrade_ops.is_empty():
            directives[:] = []


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=False,
        process_revision_directives=_skip_empty,
        include_name=unmodelled,
        **kwargs,
    )


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url")
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=bool(url and url.startswith("sqlite")),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("use callcenter.migrate (or set sqlalchemy.url) to run migrations")
    asyncio.run(_run_async(url))


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
