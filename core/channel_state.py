"""A channel's own state between runs (an IMAP folder's position), kept by core as documents
so that core needs no table, and no migration, for what a channel must remember."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from threadline.core.db import upsert_insert
from threadline.core.models import ChannelState
from threadline.core.models.base import now_utc

_table = ChannelState.__table__


def load_state(sessions: sessionmaker[Session], channel: str, key: str) -> dict[str, Any] | None:
    with sessions() as session:
        row = session.get(ChannelState, (channel, key))
        return None if row is None else dict(row.value)


def save_state(
    sessions: sessionmaker[Session], channel: str, key: str, value: dict[str, Any]
) -> None:
    """Commits at once: the state says what was done, so it must not wait for later work."""
    with sessions.begin() as session:
        statement = upsert_insert(session)(_table).values(channel=channel, key=key, value=value)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["channel", "key"], set_={"value": value, "updated_at": now_utc()}
            )
        )
