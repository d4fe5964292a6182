"""What the scheduled jobs keep: whose turn each ticket is, its SLA clocks, the reminders
that fired, and each agent's time zone, calendar and digest schedule. Deleting messages
(retention) checks every reference to them: the outbox's gets an index, and the intake
queue's link to the message an item became loses its foreign key instead, which an index
would have cost every processed item (7 % of PostgreSQL's throughput, bench/README.md).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from threadline.core.models.base import utcnow

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _ticket(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["ticket_id"],
        ["tickets.id"],
        name=op.f(f"fk_{table}_ticket_id_tickets"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "ticket_turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.CheckConstraint("side IN ('client', 'agent')", name=op.f("ck_ticket_turns_side")),
        _ticket("ticket_turns"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_turns")),
    )
    op.create_index(
        op.f("ix_ticket_turns_ticket_id_at"), "ticket_turns", ["ticket_id", "at"], unique=False
    )
    op.create_table(
        "sla_tickets",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("seen_updated_at", sa.DateTime(), nullable=False),
        _ticket("sla_tickets"),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_sla_tickets")),
    )
    op.create_table(
        "sla_clocks",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        _ticket("sla_clocks"),
        sa.PrimaryKeyConstraint("ticket_id", "target", name=op.f("pk_sla_clocks")),
    )
    op.create_index(op.f("ix_sla_clocks_due_at"), "sla_clocks", ["due_at"], unique=False)
    op.create_table(
        "reminders",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=utcnow(), nullable=False),
        _ticket("reminders"),
        sa.PrimaryKeyConstraint("ticket_id", "kind", "due_at", name=op.f("pk_reminders")),
    )
    op.create_index(op.f("ix_outbox_message_id"), "outbox", ["message_id"], unique=False)
    with op.batch_alter_table("inbound_items") as table:
        table.drop_constraint("fk_inbound_items_message_id_messages", type_="foreignkey")
    with op.batch_alter_table("agent_settings") as table:
        table.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
        table.add_column(sa.Column("calendar", sa.String(length=100), nullable=True))
        table.add_column(sa.Column("digest", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agent_settings") as table:
        table.drop_column("digest")
        table.drop_column("calendar")
        table.drop_column("time_zone")
    with op.batch_alter_table("inbound_items") as table:
        table.create_foreign_key(
            "fk_inbound_items_message_id_messages", "messages", ["message_id"], ["id"]
        )
    op.drop_index(op.f("ix_outbox_message_id"), table_name="outbox")
    op.drop_table("reminders")
    op.drop_index(op.f("ix_sla_clocks_due_at"), table_name="sla_clocks")
    op.drop_table("sla_clocks")
    op.drop_table("sla_tickets")
    op.drop_index(op.f("ix_ticket_turns_ticket_id_at"), table_name="ticket_turns")
    op.drop_table("ticket_turns")
