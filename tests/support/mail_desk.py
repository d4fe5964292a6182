"""A desk whose mail goes through the real dispatcher and ``EmailSender`` to a test SMTP server;
each ticket it opens queues a notification to its one agent."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import desk_pipeline
from tests.support.messages import email
from tests.support.smtp_sink import HOST
from threadline.channels.email.settings import EmailSettings, SmarthostSettings
from threadline.channels.email.smarthost import EmailSender
from threadline.core.dispatcher import Dispatcher
from threadline.core.models import User
from threadline.core.senders import SenderRegistry
from threadline.core.settings import DispatchSettings

EMAIL = EmailSettings(address="Desk Support <support@desk.example>")
DISPATCH = DispatchSettings(concurrency=4)


def mail_dispatcher(sessions: sessionmaker[Session], port: int, **smarthost: Any) -> Dispatcher:
    """``smarthost``: settings of ``[smarthost]`` beyond the server's address."""
    desk = desk_pipeline(sessions)
    settings = SmarthostSettings(host=HOST, port=port, timeout=5.0, **smarthost)
    senders = SenderRegistry()
    senders.register("email", EmailSender(desk.sessions, desk.signer, EMAIL, settings))
    return Dispatcher(desk.sessions, senders, DISPATCH)


def add_agent(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.add(User(name="Grace Hopper", email="grace@desk.example", type="agent"))


def open_tickets(sessions: sessionmaker[Session], first: int, count: int) -> None:
    """Tickets ``Help first`` to ``Help first + count - 1``, each of a client of its own."""
    desk = desk_pipeline(sessions)
    for n in range(first, first + count):
        desk.deliver(email(f"client{n}@example.com", f"m{n}@mail.example", subject=f"Help {n}"))
