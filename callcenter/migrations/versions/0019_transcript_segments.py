"""Call transcripts: one row per utterance, and their full-text index.

The index is not in the models (Alembic cannot describe either kind):
SQLite gets a contentless FTS5 table the transcript store fills in the segment's own
transaction; PostgreSQL a GIN index on to_tsvector('simple', words), kept by PostgreSQL.
`callcenter.models.unmodelled` keeps both out of the model comparison.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29 22:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


# revision identifiers, used by Alembic.
revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sqlmodel is imported because autogenerate renders its string columns as
# sqlmodel.sql.sqltypes.AutoString(); keep the import even when unused.
_ = sqlmodel

# As in callcenter.transcripts.search (a migration keeps its own copy: it must not change
# when the code does).
SQLITE_FTS = (
    "CREATE VIRTUAL TABLE transcript_fts USING fts5(words, content='', tokenize='unicode61')"
)
PG_FTS = (
    "CREATE INDEX ix_transcript_segments_fts ON transcript_segments "
    "USING gin (to_tsvector('simple', words))"
)


def upgrade() -> None:
    op.create_table(
        "transcript_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("speaker", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("spoken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name="fk_transcript_segments_call"),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name="fk_transcript_segments_agent"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("transcript_segments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transcript_segments_call_id"), ["call_id"], unique=False
        )
        batch_op.create_index("ix_transcript_segments_spoken_at", ["spoken_at"], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        op.execute(SQLITE_FTS)
    else:
        op.execute(PG_FTS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS transcript_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_transcript_segments_fts")
    with op.batch_alter_table("transcript_segments", schema=None) as batch_op:
        batch_op.drop_index("ix_transcript_segments_spoken_at")
        batch_op.drop_index(batch_op.f("ix_transcript_segments_call_id"))

    op.drop_table("transcript_segments")
