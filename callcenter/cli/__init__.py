"""`callcenter` command line: one entry point, one sub-command group per area."""

from __future__ import annotations

import logging
import sys

import typer

from callcenter.cli import call, db, pbx, server, users
from callcenter.config import SettingsError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
app.add_typer(pbx.app, name="pbx", help="Install, start and drive the local Asterisk.")
app.add_typer(db.app, name="db", help="Database migrations.")
app.add_typer(users.app, name="users", help="Manage users and API tokens.")
server.register(app)
call.register(app)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        app()
    except SettingsError as exc:
        print(f"callcenter: {exc}", file=sys.stderr)
        sys.exit(2)
