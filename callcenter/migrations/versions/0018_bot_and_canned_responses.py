"""The bot's unanswered questions and their suggested entries; canned responses.

Revision ID: 0018
Revises: 0016
Create Date: 2026-11-29 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


# revision identifiers, used by Alembic.
revision: str = "0018"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sqlmodel is imported because autogenerate renders its string columns as
# sqlmodel.sql.sqltypes.AutoString(); keep the import even when unused.
_ = sqlmodel


def upgrade() -> None:
    op.create_table(
        "bot_suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("representative", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["kb_entries.id"], name="fk_bot_suggestions_entry", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name="fk_bot_suggestions_decided_by"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bot_suggestions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bot_suggestions_status"), ["status"], unique=False)

    op.create_table(
        "bot_unanswered",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("best_entry_id", sa.Integer(), nullable=True),
        sa.Column("best_score", sa.Float(), nullable=False),
        sa.Column("conversation_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("suggestion_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["best_entry_id"],
            ["kb_entries.id"],
            name="fk_bot_unanswered_best_entry",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["suggestion_id"], ["bot_suggestions.id"], name="fk_bot_unanswered_suggestion"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bot_unanswered", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bot_unanswered_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_bot_unanswered_suggestion_id"), ["suggestion_id"], unique=False
        )

    op.create_table(
        "canned_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shortcut", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_canned_responses_owner", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name="fk_canned_responses_created_by"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("canned_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_canned_responses_owner_id"), ["owner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_canned_responses_shortcut"), ["shortcut"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("canned_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_canned_responses_shortcut"))
        batch_op.drop_index(batch_op.f("ix_canned_responses_owner_id"))

    op.drop_table("canned_responses")
    with op.batch_alter_table("bot_unanswered", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bot_unanswered_suggestion_id"))
        batch_op.drop_index(batch_op.f("ix_bot_unanswered_conversation_id"))

    op.drop_table("bot_unanswered")
    with op.batch_alter_table("bot_suggestions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bot_suggestions_status"))

    op.drop_table("bot_suggestions")
