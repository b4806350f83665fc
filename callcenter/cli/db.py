"""`callcenter db`: apply, inspect and (in development) write schema migrations."""

from __future__ import annotations

import asyncio
import sys

import typer

from callcenter.config import Settings, load_settings
from callcenter.migrate import DatabaseUnavailable, head_revision, open_database, redacted

app = typer.Typer(no_args_is_help=True, help=__doc__)


def _fail(message: str, code: int = 1) -> None:
    print(f"callcenter db: {message}", file=sys.stderr)
    raise typer.Exit(code)


def _settings() -> Settings:
    settings = load_settings()
    # The default SQLite file lives in data_dir; create it as `callcenter serve` would.
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


@app.command()
def upgrade(
    revision: str = typer.Option("head", "--revision", "-r", help="Target revision."),
) -> None:
    """Bring the database schema up to date (CALLCENTER_DATABASE_URL, or the SQLite file)."""
    from callcenter import migrate

    settings = _settings()

    async def run() -> None:
        db = open_database(settings.database)
        try:
            await migrate.upgrade(db, revision)
            print(f"{redacted(settings.database)}: at {await migrate.current(db) or 'base'}")
        finally:
            await db.close()

    try:
        asyncio.run(run())
    except DatabaseUnavailable as exc:
        _fail(str(exc))


@app.command()
def current() -> None:
    """Print the database's revision and the newest one this version ships."""
    from callcenter import migrate

    settings = _settings()

    async def run() -> str | None:
        db = open_database(settings.database)
        try:
            return await migrate.current(db)
        finally:
            await db.close()

    try:
        rev = asyncio.run(run())
    except DatabaseUnavailable as exc:
        _fail(str(exc))
        return
    head = head_revision()
    state = "up to date" if rev == head else "needs `callcenter db upgrade`"
    print(f"{redacted(settings.database)}: at {rev or 'base (empty)'}; head {head}; {state}")


@app.command()
def revision(
    message: str = typer.Option(..., "--message", "-m", help="What the migration does."),
    empty: bool = typer.Option(False, "--empty", help="Write an empty migration to fill in."),
) -> None:
    """Write a new migration from the models (development only; review it before commit)."""
    from callcenter import migrate

    settings = load_settings()
    if settings.env == "production":
        _fail("migrations are written in development, not on a production server", 2)
    path = migrate.revision(message, autogenerate=not empty)
    if path is None:
        print("no model change detected; nothing written")
    else:
        print(f"wrote {path}; review it, then run `callcenter db upgrade`")
