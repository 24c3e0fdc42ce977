"""Safety triage: the flag's tier, source and whether it may be reopened; quiet signs noted.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("safety_flags") as batch:
        batch.add_column(sa.Column("tier", sa.String(32), nullable=True))
        batch.add_column(sa.Column("source", sa.String(32), nullable=True))
        batch.add_column(sa.Column("reopenable", sa.Boolean(), nullable=True))
    op.create_table(
        "safety_signs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("noted_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_safety_signs_sender_id", "safety_signs", ["sender_id"])


def downgrade() -> None:
    op.drop_index("ix_safety_signs_sender_id", "safety_signs")
    op.drop_table("safety_signs")
    with op.batch_alter_table("safety_flags") as batch:
        batch.drop_column("reopenable")
        batch.drop_column("source")
        batch.drop_column("tier")
