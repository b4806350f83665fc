"""Every domain's tables in one `SQLModel.metadata`, for migrations and schema checks.

Each domain folder owns its tables (`callcenter/<domain>/models.py`); a table exists in
the metadata only once its module has been imported. Alembic's autogenerate and the
schema tests need *all* of them, so they call `load_all_models()` instead of relying on
whatever happened to be imported before.
"""

from __future__ import annotations

import importlib
import logging

from sqlalchemy import MetaData
from sqlmodel import SQLModel

log = logging.getLogger(__name__)

# Add a domain here when it gets tables.
DOMAIN_MODEL_MODULES: tuple[str, ...] = (
    "callcenter.agents.models",
    "callcenter.auth.models",
    "callcenter.calls.models",
    "callcenter.customers.models",
    "callcenter.mail.models",
    "callcenter.monitoring.models",
    "callcenter.portal.models",
    "callcenter.quality.models",
    "callcenter.reports.models",
    "callcenter.tickets.models",
    "callcenter.tickets.automation_models",
    "callcenter.webhooks.models",
    "callcenter.tickets.content_models",
    "callcenter.tickets.sla_models",
    "callcenter.sensitive.models",
    "callcenter.kb.models",
    "callcenter.bot.models",
    "callcenter.transcripts.models",
    "callcenter.chat.models",
)

# Database objects a migration makes that no model can describe (full-text indexes:
# SQLite's FTS5 table and its shadow tables, PostgreSQL's expression index), by name.
UNMODELLED_PREFIXES: tuple[str, ...] = ("transcript_fts", "ix_transcript_segments_fts")


def unmodelled(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's `include_name`: False for what the models leave to migrations, so a
    comparison neither drops it nor reports it."""
    return not (name or "").startswith(UNMODELLED_PREFIXES)


class MissingModels(RuntimeError):
    """A domain's models module is absent while the caller needs the complete schema."""


def load_all_models(*, strict: bool = False) -> MetaData:
    """Import every domain's table module and return the shared metadata.

    A module that does not exist (a domain not written yet) is skipped, unless `strict`:
    autogenerate passes strict because a missing module would read as "drop its tables".
    An import error *inside* an existing module is a bug and always propagates.
    """
    missing = []
    for name in DOMAIN_MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only the module itself (or its package) being absent is tolerated; a
            # missing third-party import inside it must not be silently swallowed.
            if exc.name is None or not name.startswith(exc.name):
                raise
            missing.append(name)
    if missing:
        if strict:
            raise MissingModels(f"model modules not found: {', '.join(missing)}")
        log.debug("model modules not present yet: %s", ", ".join(missing))
    return SQLModel.metadata
