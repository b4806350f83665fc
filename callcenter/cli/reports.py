"""`callcenter reports`: maintain the report rollups."""

from __future__ import annotations

import asyncio
import sys
import time

import typer

from callcenter.config import load_settings
from callcenter.migrate import (
    DatabaseUnavailable,
    check_database,
    current,
    head_revision,
    open_database,
)

app = typer.Typer(no_args_is_help=True, help=__doc__)


@app.command()
def rebuild() -> None:
    """Recompute the half-hour rollups from the stored queue visits and call records.

    For a repair or an import of records. Run it on a quiet server: calls in progress
    are written by the server a moment later and could be counted off.
    """
    from callcenter.reports.rollup import rebuild as rebuild_rollups

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    async def run() -> dict[str, int]:
        db = open_database(settings.database)
        try:
            await check_database(db)
            if await current(db) != head_revision():
                raise DatabaseUnavailable(
                    "the schema is not up to date: run `callcenter db upgrade`"
                )
            return await db.write(rebuild_rollups)
        finally:
            await db.close()

    started = time.monotonic()
    try:
        counted = asyncio.run(run())
    except DatabaseUnavailable as exc:
        print(f"callcenter reports: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    for table, rows in counted.items():
        print(f"{table}: {rows} rows")
    print(f"rebuilt in {time.monotonic() - started:.2f} s")
