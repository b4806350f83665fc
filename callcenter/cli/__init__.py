"""`callcenter` command line: one entry point, one sub-command group per area."""

from __future__ import annotations

import logging
import re
import sys

import typer

from callcenter.cli import call, db, ivr, pbx, reports, routing, server, users
from callcenter.config import SettingsError
from callcenter.events.redis import EventBusUnavailable
from callcenter.migrate import DatabaseUnavailable
from callcenter.pbx.sandbox import PbxError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
app.add_typer(pbx.app, name="pbx", help="Install, start and drive the local Asterisk.")
app.add_typer(db.app, name="db", help="Database migrations.")
app.add_typer(users.app, name="users", help="Manage users and API tokens.")
app.add_typer(ivr.app, name="ivr", help="Validate, simulate and draw IVR flows.")
app.add_typer(routing.app, name="routing", help="Check queues and routing rules.")
app.add_typer(reports.app, name="reports", help="Maintain the report rollups.")
server.register(app)
call.register(app)


_TOKEN_IN_URL = re.compile(r"((?:token|api_key)=)[^&\s\"']+")


def redact_tokens(record: logging.LogRecord) -> bool:
    """Keep bearer tokens out of logs: browsers pass them in websocket URLs, which uvicorn
    logs, and whoever reads the log must not be able to act as that user."""
    if record.args:
        record.msg, record.args = record.getMessage(), None
    if isinstance(record.msg, str) and "=" in record.msg:
        record.msg = _TOKEN_IN_URL.sub(r"\1***", record.msg)
    return True


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # One line per ARI request, per ICE check of a softphone, would drown what matters
    # (and cost CPU under load).
    for name in ("httpx", "aioice", "aiortc"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact_tokens)
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
