"""Web chat with the bot first and chat -> ticket: a conversation's bot state (failed
turns, hand-off reason) and its ticket; a bot message's reply details.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-29 23:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_conversations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bot_failed_turns", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("handoff_reason", sa.String(length=32), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("ticket_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_chat_conversations_ticket", "tickets", ["ticket_id"], ["id"]
        )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("meta", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_column("meta")
    with op.batch_alter_table("chat_conversations", schema=None) as batch_op:
        batch_op.drop_constraint("fk_chat_conversations_ticket", type_="foreignkey")
        batch_op.drop_column("ticket_id")
        batch_op.drop_column("handoff_reason")
        batch_op.drop_column("bot_failed_turns")
