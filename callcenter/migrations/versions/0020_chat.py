"""Web chat: visitors, conversations, messages (gapless seq per conversation), files.

Five new tables (the fifth: agents' direct messages, 内部会话).

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29 22:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


# revision identifiers, used by Alembic.
revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sqlmodel is imported because autogenerate renders its string columns as
# sqlmodel.sql.sqltypes.AutoString(); keep the import even when unused.
_ = sqlmodel


def upgrade() -> None:
    op.create_table(
        "chat_visitors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("site", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("last_referrer", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("last_landing", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("last_search", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("region", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_chat_visitors_customer"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site", "external_id", name="uq_chat_visitor_external"),
        sa.UniqueConstraint("token_hash", name="uq_chat_visitor_token"),
    )
    op.create_table(
        "chat_conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visitor_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("site", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("queue", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("agents", sa.JSON(), server_default="[]", nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("csat_score", sa.Integer(), nullable=True),
        sa.Column("csat_comment", sa.Text(), server_default="", nullable=False),
        sa.Column("referrer", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("landing", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("search_keywords", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("utm", sa.JSON(), server_default="{}", nullable=False),
        sa.Column("contact_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("contact_email", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name="fk_chat_conversations_agent"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_chat_conversations_customer"
        ),
        sa.ForeignKeyConstraint(
            ["visitor_id"], ["chat_visitors.id"], name="fk_chat_conversations_visitor"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("chat_conversations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_conversations_state"), ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_chat_conversations_visitor_id"), ["visitor_id"], unique=False
        )

    op.create_table(
        "chat_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visitor_id", sa.Integer(), nullable=False),
        sa.Column("storage_name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["visitor_id"], ["chat_visitors.id"], name="fk_chat_files_visitor"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("chat_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_files_visitor_id"), ["visitor_id"], unique=False)

    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sender_kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["chat_conversations.id"], name="fk_chat_messages_conversation"
        ),
        sa.ForeignKeyConstraint(["file_id"], ["chat_files.id"], name="fk_chat_messages_file"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_chat_message_seq"),
    )

    op.create_table(
        "chat_internal_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["users.id"], name="fk_chat_internal_messages_recipient"
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["users.id"], name="fk_chat_internal_messages_sender"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("chat_internal_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_internal_messages_recipient_id"), ["recipient_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_chat_internal_messages_sender_id"), ["sender_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("chat_internal_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_internal_messages_sender_id"))
        batch_op.drop_index(batch_op.f("ix_chat_internal_messages_recipient_id"))

    op.drop_table("chat_internal_messages")
    op.drop_table("chat_messages")
    with op.batch_alter_table("chat_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_files_visitor_id"))

    op.drop_table("chat_files")
    with op.batch_alter_table("chat_conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_conversations_visitor_id"))
        batch_op.drop_index(batch_op.f("ix_chat_conversations_state"))

    op.drop_table("chat_conversations")
    op.drop_table("chat_visitors")
