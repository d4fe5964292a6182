"""The chat thread each chat message was written in, on its own id's ref, so that an answer to
the client goes into the thread they wrote in.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message_refs") as table:
        table.add_column(sa.Column("thread_key", sa.String(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message_refs") as table:
        table.drop_column("thread_key")
