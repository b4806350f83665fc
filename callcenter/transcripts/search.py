"""Full-text search of transcript segments on SQLite (FTS5) and PostgreSQL (tsvector).

Both index the segments' `words` (tokens.py). SQLite: a contentless FTS5 table
`transcript_fts` whose rowid is the segment id, filled by the store in the transaction
that inserts the segment (segments are never edited, so nothing else keeps it in step);
contentless because the text is in `transcript_segments` already. PostgreSQL: a GIN
index on `to_tsvector('simple', words)` ('simple': no stemming and no stop words, the
words are jieba's already), which PostgreSQL keeps itself. Rank: bm25 on SQLite (lower
is better), ts_rank on PostgreSQL (higher is better); both give `score`, higher better.

Both are created by migration 0019, not by the models: `callcenter.models.unmodelled`
tells Alembic's comparison to leave them be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime, TextClause, bindparam, text

FTS_TABLE = "transcript_fts"
PG_INDEX = "ix_transcript_segments_fts"

SQLITE_CREATE = (
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(words, content='', tokenize='unicode61')"
)
SQLITE_DROP = f"DROP TABLE IF EXISTS {FTS_TABLE}"
PG_CREATE = (
    f"CREATE INDEX {PG_INDEX} ON transcript_segments USING gin (to_tsvector('simple', words))"
)
PG_DROP = f"DROP INDEX IF EXISTS {PG_INDEX}"


def index_segment(conn: Connection, segment_id: int, words: str) -> None:
    """Add a stored segment to the index (SQLite; PostgreSQL's index follows the row)."""
    if conn.dialect.name == "sqlite":
        conn.execute(
            text(f"INSERT INTO {FTS_TABLE}(rowid, words) VALUES (:id, :words)"),
            {"id": segment_id, "words": words},
        )


@dataclass(frozen=True)
class Filters:
    """What narrows a search besides its words."""

    since: datetime | None = None
    until: datetime | None = None
    agent_id: int | None = None  # the call's agent (who handled it)


def match_query(
    dialect: str, words: Sequence[str], filters: Filters, limit: int
) -> tuple[TextClause, dict[str, Any]]:
    """The query: segment ids with their score, best first, then newest first."""
    params: dict[str, Any] = {"limit": limit}
    where = []
    if filters.since is not None:
        where.append("s.spoken_at >= :since")
        params["since"] = filters.since
    if filters.until is not None:
        where.append("s.spoken_at < :until")
        params["until"] = filters.until
    if filters.agent_id is not None:
        where.append("c.agent_id = :agent_id")
        params["agent_id"] = filters.agent_id
    extra = "".join(f" AND {cond}" for cond in where)
    if dialect == "sqlite":
        # Every word quoted (a phrase of one word): FTS5 operators in a query are text.
        params["match"] = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        sql = (
            # FTS5's functions and MATCH take the table's own name, not an alias.
            f"SELECT s.id AS id, -bm25({FTS_TABLE}) AS score FROM {FTS_TABLE} "
            f"JOIN transcript_segments AS s ON s.id = {FTS_TABLE}.rowid "
            "JOIN calls AS c ON c.id = s.call_id "
            f"WHERE {FTS_TABLE} MATCH :match{extra} "
            "ORDER BY score DESC, s.spoken_at DESC, s.id DESC LIMIT :limit"
        )
    else:
        # plainto_tsquery: the words ANDed, whatever characters they hold.
        params["query"] = " ".join(words)
        sql = (
            "SELECT s.id AS id, ts_rank(to_tsvector('simple', s.words), q) AS score "
            "FROM transcript_segments AS s JOIN calls AS c ON c.id = s.call_id, "
            "plainto_tsquery('simple', :query) AS q "
            f"WHERE to_tsvector('simple', s.words) @@ q{extra} "
            "ORDER BY score DESC, s.spoken_at DESC, s.id DESC LIMIT :limit"
        )
    # Typed, so a datetime is bound the way the column stores it (SQLite keeps text).
    stamps = [bindparam(n, type_=DateTime(timezone=True)) for n in ("since", "until")
              if n in params]  # fmt: skip
    return text(sql).bindparams(*stamps), params
