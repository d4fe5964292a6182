"""What the IMAP tests share: mails to deliver, a mailbox on the test Dovecot, and what the
intake queue holds afterwards."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.dovecot import HOST, PASSWORD, Account
from threadline.channels.email.imap_poller import MailboxPoller
from threadline.channels.email.settings import EmailSettings, MailboxSettings
from threadline.core.intake import Intake
from threadline.core.models import InboundItem

WAIT_S = 5.0


def mail(number: int, *, size: int = 0, sender: str = "client@example.com") -> bytes:
    """A small mail with a Message-ID of its own; ``size`` pads the body."""
    return (
        f"From: Client <{sender}>\r\n"
        "To: support@example.com\r\n"
        f"Subject: Question {number}\r\n"
        f"Message-ID: <question-{number}@example.com>\r\n"
        "Date: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
        "\r\n"
        f"Hello, this is question {number}.\r\n" + "x" * size
    ).encode()


def mailbox_toml(account: Account, password_file: Path, poll_interval: int = 60) -> str:
    """The ``[[imap.mailboxes]]`` table a daemon's config file needs to poll ``account``
    (named ``support``) on the plain port."""
    return (
        "\n[[imap.mailboxes]]\n"
        'name = "support"\n'
        f'host = "{HOST}"\n'
        f"port = {account.server.port}\n"
        'security = "none"\n'
        f'username = "{account.user}"\n'
        f'password_file = "{password_file}"\n'
        f"poll_interval = {poll_interval}\n"
    )


def mailbox(account: Account, **overrides: Any) -> MailboxSettings:
    """Settings of the account's mailbox on the plain port, password login."""
    values: dict[str, Any] = {
        "name": account.user,
        "host": HOST,
        "port": account.server.port,
        "security": "none",
        "username": account.user,
        "password": PASSWORD,
        "poll_interval": 60,
    }
    return MailboxSettings.model_validate({**values, **overrides})


def poller(
    settings: MailboxSettings,
    sessions: sessionmaker[Session],
    *,
    kind: type[MailboxPoller] = MailboxPoller,
    max_message_size: int = EmailSettings().max_message_size,
    on_accepted: Callable[[list[str]], None] | None = None,
) -> MailboxPoller:
    """A connected poller, as the daemon builds it."""
    polling = kind(settings, Intake(sessions, on_accepted), sessions, max_message_size)
    polling.connect()
    return polling


def drain(polling: MailboxPoller) -> int:
    total = 0
    while handled := polling.poll():
        total += handled
    return total


@dataclass(frozen=True)
class Queued:
    dedup_key: str
    meta: dict[str, Any]
    raw: bytes
    status: str


def queued(sessions: sessionmaker[Session]) -> list[Queued]:
    """Every inbound item, oldest first."""
    with sessions() as session:
        rows = session.execute(
            select(
                InboundItem.dedup_key, InboundItem.meta, InboundItem.raw, InboundItem.status
            ).order_by(InboundItem.id)
        )
        return [Queued(key, meta or {}, raw, status) for key, meta, raw, status in rows]


async def eventually(check: Callable[[], bool], timeout: float = WAIT_S) -> float:
    """Seconds until ``check`` (run in a thread: it may query) held; fails after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await asyncio.to_thread(check):
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")
