"""Practice runs: persona, outcome, techniques used and missed, pitfalls (never the lines typed).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "practice_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("sender_id", sa.String(255), sa.ForeignKey("users.sender_id", ondelete="CASCADE"), nullable=False),
        sa.Column("persona", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("techniques_used", sa.String(255), nullable=False),
        sa.Column("techniques_missed", sa.String(255), nullable=False),
        sa.Column("pitfalls", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_practice_runs_sender_id", "practice_runs", ["sender_id"])


def downgrade() -> None:
    op.drop_index("ix_practice_runs_sender_id", "practice_runs")
    op.drop_table("practice_runs")
