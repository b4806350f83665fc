"""SLA: business-hours calendars, policies, and each ticket's SLA clocks.

New tables only; nothing existing changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sqlmodel is imported because autogenerate renders its string columns as
# sqlmodel.sql.sqltypes.AutoString(); keep the import even when unused.
_ = sqlmodel


def upgrade() -> None:
    op.create_table(
        "sla_calendars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "sla_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("priorities", sa.JSON(), server_default="[]", nullable=False),
        sa.Column("types", sa.JSON(), server_default="[]", nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "ticket_sla",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["policy_id"], ["sla_policies.id"], name="fk_ticket_sla_policy"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_sla_ticket"),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_table(
        "ticket_sla_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("metric", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("target_seconds", sa.Float(), nullable=False),
        sa.Column("elapsed_seconds", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warning_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("achieved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("warning_sent", sa.Boolean(), nullable=False),
        sa.Column("breach_sent", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_sla_metrics_ticket"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ticket_sla_metrics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_sla_metrics_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_sla_metrics_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ticket_sla_metrics_ticket_id"), ["ticket_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket_sla_metrics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_sla_metrics_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_ticket_sla_metrics_status"))
        batch_op.drop_index(batch_op.f("ix_ticket_sla_metrics_due_at"))

    op.drop_table("ticket_sla_metrics")
    op.drop_table("ticket_sla")
    op.drop_table("sla_policies")
    op.drop_table("sla_calendars")
