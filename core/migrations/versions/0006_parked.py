"""One vocabulary for both queues: a row that retrying cannot help is ``parked``, in the intake
queue (was ``failed``) and in the outbox (was ``dead``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_STATUSES = {
    "inbound_items": (("pending", "done", "ignored"), "failed"),
    "outbox": (("pending", "sent"), "dead"),
}


def upgrade() -> None:
    for table, (kept, old) in _STATUSES.items():
        _replace(table, kept, old, "parked")


def downgrade() -> None:
    for table, (kept, old) in _STATUSES.items():
        _replace(table, kept, "parked", old)


def _replace(table: str, kept: tuple[str, ...], old: str, new: str) -> None:
    """The CHECK first allows both words, then the rows change, then only the new one stays
    (SQLite alters a CHECK by copying the table, which batch mode does)."""
    for allowed, update in (((*kept, old, new), True), ((*kept, new), False)):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_status"), type_="check")
            words = ", ".join(f"'{word}'" for word in allowed)
            batch.create_check_constraint(op.f(f"ck_{table}_status"), f"status IN ({words})")
        if update:
            rows = sa.table(table, sa.column("status"))
            op.execute(rows.update().where(rows.c.status == old).values(status=new))
