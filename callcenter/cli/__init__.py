"""`callcenter` command line: one entry point, one sub-command group per area."""

from __future__ import annotations

import logging
import sys

import typer

from callcenter.cli import call, db, pbx, server, users
from callcenter.config import SettingsError
from callcenter.events.redis import EventBusUnavailable
from callcenter.migrate import DatabaseUnavailable
from callcenter.pbx.sandbox import PbxError

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
    # One line per ARI request would drown what matters (and cost CPU under load).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        app()
    except SettingsError as exc:
        print(f"callcenter: {exc}", file=sys.stderr)
        sys.exit(2)
    except (
        DatabaseUnavailable,
        EventBusUnavailable,
        PbxError,
        server.PortInUse,
    ) as exc:
        # Expected trouble with what we depend on: one clear line, no traceback.
        print(f"callcenter: {exc}", file=sys.stderr)
        sys.exit(1)
