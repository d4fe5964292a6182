"""Where polling a mailbox resumes: its folder's UIDVALIDITY and the last UID handled."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy.orm import Session, sessionmaker

from threadline.channels.email import CHANNEL
from threadline.core.channel_state import load_state, save_state


@dataclass(frozen=True)
class Position:
    uidvalidity: int
    last_uid: int


def load_position(sessions: sessionmaker[Session], mailbox: str) -> Position | None:
    state = load_state(sessions, CHANNEL, _key(mailbox))
    return None if state is None else Position(state["uidvalidity"], state["last_uid"])


def save_position(sessions: sessionmaker[Session], mailbox: str, position: Position) -> None:
    save_state(sessions, CHANNEL, _key(mailbox), asdict(position))


def _key(mailbox: str) -> str:
    return f"imap:{mailbox}"
