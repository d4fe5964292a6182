"""Daemon keys (the generated reply-token secret) and the index the sender rate limit reads.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from threadline.core.models.base import utcnow

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daemon_keys",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=utcnow(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_daemon_keys")),
    )
    op.create_index(
        op.f("ix_messages_client_id_created_at"), "messages", ["client_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_client_id_created_at"), table_name="messages")
    op.drop_table("daemon_keys")
