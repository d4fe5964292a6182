"""Where polling a mailbox resumes: its folder's UIDVALIDITY and the last UID handled."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from threadline.core.db import upsert_insert
from threadline.core.models.base import now_utc
from threadline.core.models.mail_state import MailboxState

_table = MailboxState.__table__


@dataclass(frozen=True)
class Position:
    uidvalidity: int
    last_uid: int


def load_position(sessions: sessionmaker[Session], mailbox: str) -> Position | None:
    with sessions() as session:
        row = session.get(MailboxState, mailbox)
        return None if row is None else Position(row.uidvalidity, row.last_uid)


def save_position(sessions: sessionmaker[Session], mailbox: str, position: Position) -> None:
    values = {"uidvalidity": position.uidvalidity, "last_uid": position.last_uid}
    with sessions.begin() as session:
        statement = upsert_insert(session)(_table).values(mailbox=mailbox, **values)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["mailbox"], set_={**values, "updated_at": now_utc()}
            )
        )
