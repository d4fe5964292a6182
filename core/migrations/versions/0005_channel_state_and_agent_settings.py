"""Channel state as documents of core (IMAP positions move in from ``mailbox_state``), and the
per-agent settings table (the channel that carries an agent's notifications).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from threadline.core.models.base import utcnow

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_DOCUMENT = sa.JSON().with_variant(JSONB(), "postgresql")
_EMAIL = "email"
"""The channel whose positions ``mailbox_state`` held, and the prefix of their keys."""


def upgrade() -> None:
    state = op.create_table(
        "channel_state",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", _DOCUMENT, nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=utcnow(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "key", name=op.f("pk_channel_state")),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT mailbox, uidvalidity, last_uid, updated_at FROM mailbox_state")
    ).all()
    if rows:
        op.bulk_insert(
            state,
            [
                {
                    "channel": _EMAIL,
                    "key": f"imap:{mailbox}",
                    "value": {"uidvalidity": uidvalidity, "last_uid": last_uid},
                    "updated_at": updated_at,
                }
                for mailbox, uidvalidity, last_uid, updated_at in rows
            ],
        )
    op.drop_table("mailbox_state")
    op.create_table(
        "agent_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("notification_channel", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(), server_default=utcnow(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_agent_settings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_agent_settings")),
    )


def downgrade() -> None:
    op.drop_table("agent_settings")
    mailbox_state = op.create_table(
        "mailbox_state",
        sa.Column("mailbox", sa.String(length=255), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), server_default=utcnow(), nullable=False),
        sa.PrimaryKeyConstraint("mailbox", name=op.f("pk_mailbox_state")),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT key, value, updated_at FROM channel_state WHERE channel = :channel"),
        {"channel": _EMAIL},
    ).all()
    positions = []
    for key, value, updated_at in rows:
        document = json.loads(value) if isinstance(value, str) else value
        if key.startswith("imap:"):
            positions.append(
                {
                    "mailbox": key.removeprefix("imap:"),
                    "uidvalidity": document["uidvalidity"],
                    "last_uid": document["last_uid"],
                    "updated_at": updated_at,
                }
            )
    if positions:
        op.bulk_insert(mailbox_state, positions)
    op.drop_table("channel_state")
