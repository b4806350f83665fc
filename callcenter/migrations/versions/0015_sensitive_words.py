"""Sensitive-word monitoring: the per-language phrase lists and the alerts they raise.

Two new tables.

Revision ID: 0015
Revises: 0013
Create Date: 2026-11-29 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


# revision identifiers, used by Alembic.
revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sqlmodel is imported because autogenerate renders its string columns as
# sqlmodel.sql.sqltypes.AutoString(); keep the import even when unused.
_ = sqlmodel


def upgrade() -> None:
    op.create_table(
        "sensitive_words",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phrase", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name="fk_sensitive_words_created_by"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("language", "phrase", name="uq_sensitive_words_language_phrase"),
    )

    op.create_table(
        "sensitive_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("source_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("phrase_id", sa.Integer(), nullable=True),
        sa.Column("phrase", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("excerpt", sa.Text(), nullable=False),
        sa.Column("match_start", sa.Integer(), nullable=False),
        sa.Column("match_end", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["users.id"], name="fk_sensitive_alerts_acknowledged_by"
        ),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name="fk_sensitive_alerts_agent"),
        sa.ForeignKeyConstraint(
            ["phrase_id"],
            ["sensitive_words.id"],
            name="fk_sensitive_alerts_phrase",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sensitive_alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sensitive_alerts_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sensitive_alerts_source_id"), ["source_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sensitive_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sensitive_alerts_source_id"))
        batch_op.drop_index(batch_op.f("ix_sensitive_alerts_created_at"))

    op.drop_table("sensitive_alerts")
    op.drop_table("sensitive_words")
