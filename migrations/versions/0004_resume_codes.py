"""Resume codes: a person comes back from a new tab or device with a code (only its hash is kept);
failed guesses are counted per conversation and per hour.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resume_codes",
        sa.Column("code_hash", sa.String(128), primary_key=True),
        sa.Column(
            "sender_id",
            sa.String(255),
            sa.ForeignKey("users.sender_id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "resume_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("attempted_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_resume_attempts_sender_id", "resume_attempts", ["sender_id"])
    op.create_index("ix_resume_attempts_attempted_at", "resume_attempts", ["attempted_at"])


def downgrade() -> None:
    op.drop_index("ix_resume_attempts_attempted_at", "resume_attempts")
    op.drop_index("ix_resume_attempts_sender_id", "resume_attempts")
    op.drop_table("resume_attempts")
    op.drop_table("resume_codes")
