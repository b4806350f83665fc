"""Knowledge base: categories, entries (articles and Q&A pairs), their similar questions,
and the embedding cache of retrieval.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


# revision identifiers, used by Alembic.
revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sqlmodel is imported because autogenerate renders its string columns as
# sqlmodel.sql.sqltypes.AutoString(); keep the import even when unused.
_ = sqlmodel


def upgrade() -> None:
    op.create_table(
        "kb_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["kb_categories.id"], name="fk_kb_categories_parent"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "kb_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("question", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), server_default="[]", nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"], ["kb_categories.id"], name="fk_kb_entries_category"
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name="fk_kb_entries_created_by"),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"], name="fk_kb_entries_updated_by"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("kb_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_entries_category_id"), ["category_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_kb_entries_language"), ["language"], unique=False)

    op.create_table(
        "kb_similar_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["kb_entries.id"],
            name="fk_kb_similar_questions_entry",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("kb_similar_questions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kb_similar_questions_entry_id"), ["entry_id"], unique=False
        )

    op.create_table(
        "kb_embeddings",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("kb_embeddings")
    with op.batch_alter_table("kb_similar_questions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_similar_questions_entry_id"))

    op.drop_table("kb_similar_questions")
    with op.batch_alter_table("kb_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_entries_language"))
        batch_op.drop_index(batch_op.f("ix_kb_entries_category_id"))

    op.drop_table("kb_entries")
    op.drop_table("kb_categories")
