"""What the ticket lifecycle keeps: whether an agent is active and which notification types
they want delivered, and why an attachment is held back (quarantined).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("agent_settings") as table:
        table.add_column(
            sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        table.add_column(sa.Column("notification_types", JSON, nullable=True))
    with op.batch_alter_table("attachments") as table:
        table.add_column(sa.Column("quarantined", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attachments") as table:
        table.drop_column("quarantined")
    with op.batch_alter_table("agent_settings") as table:
        table.drop_column("notification_types")
        table.drop_column("active")
