"""The reply-token secret: from the configuration, or made once and kept in the database so
every instance (and every restart) signs and verifies with the same key."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.db import upsert_insert
from threadline.core.models import DaemonKey

KEY_NAME = "reply_token_secret"


def token_secret(sessions: sessionmaker[Session], configured: str) -> str:
    if configured:
        return configured
    with sessions.begin() as session:
        insert = upsert_insert(session)(DaemonKey).values(
            name=KEY_NAME, value=secrets.token_urlsafe(48)
        )
        session.execute(insert.on_conflict_do_nothing())
        return session.scalars(select(DaemonKey.value).where(DaemonKey.name == KEY_NAME)).one()
