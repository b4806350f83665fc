"""queue visits and report rollups

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 16:16:42.686532
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sqlmodel is imported because autogenerate renders its string columns as
# sqlmodel.sql.sqltypes.AutoString(); keep the import even when unused.
_ = sqlmodel


def upgrade() -> None:
    # Reports start here: calls from before have no queue visits stored, so nothing is
    # back-filled (`callcenter reports rebuild` would add their handle times and
    # customer side, without the offers and answers they go with).
    op.create_table(
        "report_agent_half_hours",
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entered", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("answered_in_time", sa.Integer(), nullable=False),
        sa.Column("abandoned", sa.Integer(), nullable=False),
        sa.Column("short_abandoned", sa.Integer(), nullable=False),
        sa.Column("overflowed", sa.Integer(), nullable=False),
        sa.Column("handled", sa.Integer(), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("answer_wait", sa.Float(), nullable=False),
        sa.Column("abandon_wait", sa.Float(), nullable=False),
        sa.Column("talk", sa.Float(), nullable=False),
        sa.Column("hold", sa.Float(), nullable=False),
        sa.Column("wrap_up", sa.Float(), nullable=False),
        sa.Column("abandon_lt10", sa.Integer(), nullable=False),
        sa.Column("abandon_10_30", sa.Integer(), nullable=False),
        sa.Column("abandon_30_60", sa.Integer(), nullable=False),
        sa.Column("abandon_60_120", sa.Integer(), nullable=False),
        sa.Column("abandon_ge120", sa.Integer(), nullable=False),
        sa.Column("callbacks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "queue", "channel", "agent_id"),
    )
    op.create_table(
        "report_queue_half_hours",
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("entered", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("answered_in_time", sa.Integer(), nullable=False),
        sa.Column("abandoned", sa.Integer(), nullable=False),
        sa.Column("short_abandoned", sa.Integer(), nullable=False),
        sa.Column("overflowed", sa.Integer(), nullable=False),
        sa.Column("handled", sa.Integer(), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("answer_wait", sa.Float(), nullable=False),
        sa.Column("abandon_wait", sa.Float(), nullable=False),
        sa.Column("talk", sa.Float(), nullable=False),
        sa.Column("hold", sa.Float(), nullable=False),
        sa.Column("wrap_up", sa.Float(), nullable=False),
        sa.Column("abandon_lt10", sa.Integer(), nullable=False),
        sa.Column("abandon_10_30", sa.Integer(), nullable=False),
        sa.Column("abandon_30_60", sa.Integer(), nullable=False),
        sa.Column("abandon_60_120", sa.Integer(), nullable=False),
        sa.Column("abandon_ge120", sa.Integer(), nullable=False),
        sa.Column("callbacks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "queue", "channel"),
    )
    op.create_table(
        "report_customer_half_hours",
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "dimension", "value"),
    )
    op.create_table(
        "queue_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("queue", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("waited", sa.Float(), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("overflow_to", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("answered_in_time", sa.Boolean(), nullable=False),
        sa.Column("short_abandoned", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("queue_visits", schema=None) as batch_op:
        batch_op.create_index("ix_queue_visits_call_id", ["call_id"], unique=False)
        batch_op.create_index("ix_queue_visits_left_at", ["left_at"], unique=False)

    # ### end Alembic commands ###


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table("queue_visits", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_visits_left_at")
        batch_op.drop_index("ix_queue_visits_call_id")

    op.drop_table("queue_visits")
    op.drop_table("report_customer_half_hours")
    op.drop_table("report_queue_half_hours")
    op.drop_table("report_agent_half_hours")
    # ### end Alembic commands ###
