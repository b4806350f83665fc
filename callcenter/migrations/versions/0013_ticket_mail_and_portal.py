"""Ticket mail and the customer portal: comments by the requester, every ticket mail in
or out, and the portal's one-time login codes.

One new nullable column on ticket_comments; the rest are new tables.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 19:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sqlmodel is imported because autogenerate renders its string columns as
# sqlmodel.sql.sqltypes.AutoString(); keep the import even when unused.
_ = sqlmodel


def upgrade() -> None:
    with op.batch_alter_table("ticket_comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_customer_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_ticket_comments_author_customer", "customers", ["author_customer_id"], ["id"]
        )

    op.create_table(
        "ticket_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        sa.Column("direction", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["ticket_comments.id"], name="fk_ticket_mails_comment"
        ),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_mails_ticket"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("ticket_mails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_mails_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "portal_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_portal_codes_customer"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("portal_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_codes_email"), ["email"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("portal_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_codes_email"))

    op.drop_table("portal_codes")
    with op.batch_alter_table("ticket_mails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_mails_ticket_id"))

    op.drop_table("ticket_mails")
    with op.batch_alter_table("ticket_comments", schema=None) as batch_op:
        batch_op.drop_constraint("fk_ticket_comments_author_customer", type_="foreignkey")
        batch_op.drop_column("author_customer_id")
