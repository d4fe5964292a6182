"""Mail is keyed on its Message-ID and a digest of From, Date and Subject, so different mails
that reuse one Message-ID are all stored; each stored mail's key is also kept on its Message-ID's
ref (``message_refs.delivery_id``), which tells the threader a re-delivery from a different mail.

The key is computed here as the email channel computed it at this revision (a migration must
not change with the code after it), from the raw items, a thousand at a time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 07:30:00
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_EMAIL = "email"
_CHUNK = 1000
_MAX_KEY = 255
_KEYED = (b"message-id", b"from", b"date", b"subject")
_items = sa.table(
    "inbound_items",
    sa.column("id", sa.Integer),
    sa.column("channel", sa.String),
    sa.column("dedup_key", sa.String),
    sa.column("raw", sa.LargeBinary),
    sa.column("message_id", sa.Integer),
)
_refs = sa.table(
    "message_refs",
    sa.column("message_id", sa.Integer),
    sa.column("delivery_id", sa.String),
)
_KEEP_DELIVERY = (
    sa.update(_refs)
    .where(_refs.c.message_id == sa.bindparam("message"))
    .values(delivery_id=sa.bindparam("delivery"))
)


def upgrade() -> None:
    op.add_column("message_refs", sa.Column("delivery_id", sa.String(length=255), nullable=True))
    connection = op.get_bind()
    last = 0
    while True:
        rows = connection.execute(
            sa.select(_items.c.id, _items.c.raw, _items.c.message_id)
            .where(_items.c.channel == _EMAIL, _items.c.id > last)
            .order_by(_items.c.id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        kept = []
        for item_id, raw, message_id in rows:
            key = _delivery_id(raw)
            if key is None:
                continue
            connection.execute(
                sa.update(_items).where(_items.c.id == item_id).values(dedup_key=key)
            )
            if message_id is not None:
                kept.append({"message": message_id, "delivery": key})
        if kept:
            connection.execute(_KEEP_DELIVERY, kept)
        last = rows[-1][0]


def downgrade() -> None:
    """Keys go back to ``mid:<Message-ID>``; a key over the column's width had been a digest
    before and is one again, of the new text."""
    with op.batch_alter_table("message_refs") as table:
        table.drop_column("delivery_id")
    connection = op.get_bind()
    for item_id, key in connection.execute(
        sa.select(_items.c.id, _items.c.dedup_key).where(
            _items.c.channel == _EMAIL, _items.c.dedup_key.like("mid:%|%")
        )
    ).all():
        connection.execute(
            sa.update(_items).where(_items.c.id == item_id).values(dedup_key=key.rpartition("|")[0])
        )


def _delivery_id(raw: bytes) -> str | None:
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    header = raw if end < 0 else raw[: end + 1]
    if header.startswith((b"\r\n", b"\n")):
        return None
    lowered = b"\n" + header.lower()
    fields: dict[bytes, bytes] = {}
    for name in _KEYED:
        needle = b"\n" + name
        at = lowered.find(needle)
        while at >= 0:
            colon = at + len(needle)
            while lowered[colon : colon + 1] in (b" ", b"\t"):
                colon += 1
            if lowered[colon : colon + 1] == b":":
                value_end = header.find(b"\n", colon)
                while value_end >= 0 and header[value_end + 1 : value_end + 2] in (b" ", b"\t"):
                    value_end = header.find(b"\n", value_end + 1)
                fields[name] = header[colon:] if value_end < 0 else header[colon:value_end]
                break
            at = lowered.find(needle, at + 1)
    message_id = b"".join(fields.get(b"message-id", b"").split()).decode("ascii", "replace")
    message_id = message_id.strip("<>")
    if not message_id:
        return None
    digest = hashlib.sha256()
    for name in _KEYED[1:]:
        digest.update(b" ".join(fields.get(name, b"").split()) + b"\n")
    key = f"mid:{message_id}|{digest.hexdigest()[:16]}"
    if len(key) <= _MAX_KEY and "\x00" not in key:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()
