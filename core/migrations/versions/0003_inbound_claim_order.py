"""The processor claims inbound items in arrival order: ``id`` joins the claim's index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f("ix_inbound_items_status_next_attempt_at"), table_name="inbound_items")
    op.create_index(
        op.f("ix_inbound_items_status_next_attempt_at_id"),
        "inbound_items",
        ["status", "next_attempt_at", "id"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_inbound_items_status_next_attempt_at_id"), table_name="inbound_items")
    op.create_index(
        op.f("ix_inbound_items_status_next_attempt_at"),
        "inbound_items",
        ["status", "next_attempt_at"],
    )
