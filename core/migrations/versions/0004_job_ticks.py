"""Ticks of cluster-wide scheduled jobs: the row that lets one daemon only run each.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 03:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_ticks",
        sa.Column("job_id", sa.String(length=100), nullable=False),
        sa.Column("tick", sa.DateTime(), nullable=False),
        sa.Column("instance", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "tick", name=op.f("pk_job_ticks")),
    )


def downgrade() -> None:
    op.drop_table("job_ticks")
