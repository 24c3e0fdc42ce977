"""The progress log: users, safety flags, step progress, reflections.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("sender_id", sa.String(255), primary_key=True),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("region", sa.String(8), nullable=True),
        sa.Column("onboarded_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "safety_flags",
        sa.Column("sender_id", sa.String(255), primary_key=True),
        sa.Column("flagged_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "step_progress",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("sender_id", sa.String(255), sa.ForeignKey("users.sender_id", ondelete="CASCADE"), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("sender_id", "step_id", name="uq_step_progress_sender_step"),
    )
    op.create_index("ix_step_progress_sender_id", "step_progress", ["sender_id"])
    op.create_table(
        "reflections",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("sender_id", sa.String(255), sa.ForeignKey("users.sender_id", ondelete="CASCADE"), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_reflections_sender_id", "reflections", ["sender_id"])


def downgrade() -> None:
    op.drop_index("ix_reflections_sender_id", "reflections")
    op.drop_table("reflections")
    op.drop_index("ix_step_progress_sender_id", "step_progress")
    op.drop_table("step_progress")
    op.drop_table("safety_flags")
    op.drop_table("users")
