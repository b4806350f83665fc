"""Tickets' content: configurable types with forms (seeded), attachments, links, and the
comments a merge copies.

New tables, and one nullable column on ticket_comments; nothing existing changes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 19:20:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op


# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sqlmodel is imported because autogenerate renders its string columns as
# sqlmodel.sql.sqltypes.AutoString(); keep the import even when unused.
_ = sqlmodel

# The types tickets had before they became configurable (tickets.models.TYPES), so
# every existing ticket keeps an active type. Their forms start empty (the column's
# server default, which also keeps `--sql` rendering free of JSON literals).
SEEDED_TYPES = (
    ("consultation", "Consultation", "咨询"),
    ("complaint", "Complaint", "投诉"),
    ("fault", "Fault", "故障"),
    ("other", "Other", "其他"),
)


def upgrade() -> None:
    types = op.create_table(
        "ticket_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("label_en", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("label_zh", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("form", sa.JSON(), server_default="[]", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    now = datetime.now(UTC)
    rows = [
        {"name": name, "label_en": en, "label_zh": zh, "active": True,
         "created_at": now, "updated_at": now}
        for name, en, zh in SEEDED_TYPES
    ]  # fmt: skip
    op.bulk_insert(types, rows)

    with op.batch_alter_table("ticket_comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("copied_from_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_ticket_comments_copied_from", "ticket_comments", ["copied_from_id"], ["id"]
        )

    op.create_table(
        "ticket_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        sa.Column("uploader_id", sa.Integer(), nullable=True),
        sa.Column("uploader_name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("storage_name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("copied_from_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["ticket_comments.id"], name="fk_ticket_attachments_comment"
        ),
        sa.ForeignKeyConstraint(
            ["copied_from_id"], ["ticket_attachments.id"], name="fk_ticket_attachments_copied_from"
        ),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_attachments_ticket"),
        sa.ForeignKeyConstraint(
            ["uploader_id"], ["users.id"], name="fk_ticket_attachments_uploader"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ticket_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticket_attachments_ticket_id"), ["ticket_id"], unique=False
        )

    op.create_table(
        "ticket_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name="fk_ticket_links_created_by"),
        sa.ForeignKeyConstraint(["other_id"], ["tickets.id"], name="fk_ticket_links_other"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_links_ticket"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "other_id", name="uq_ticket_links_pair"),
    )
    with op.batch_alter_table("ticket_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_links_other_id"), ["other_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_links_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_links_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_ticket_links_other_id"))

    op.drop_table("ticket_links")
    with op.batch_alter_table("ticket_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_attachments_ticket_id"))

    op.drop_table("ticket_attachments")
    with op.batch_alter_table("ticket_comments", schema=None) as batch_op:
        batch_op.drop_constraint("fk_ticket_comments_copied_from", type_="foreignkey")
        batch_op.drop_column("copied_from_id")

    op.drop_table("ticket_types")
