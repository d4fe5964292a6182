"""One mail reaching the desk both ways, by SMTP to the listener and through the MTA's pipe to
``threadline ingest``, is one inbound item: both key it alike."""

from __future__ import annotations

import asyncio
import smtplib

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.daemon.cli.test_ingest import pipe
from tests.support.daemon import free_port
from threadline.channels.email.listener import MailListener
from threadline.channels.email.settings import EmailSettings, SmtpSettings
from threadline.core.intake import Intake
from threadline.core.models import InboundItem

SUPPORT = "support@desk.example"
SENDER = "ada@example.com"
MAIL = (
    f"From: Ada <{SENDER}>\r\nTo: {SUPPORT}\r\nSubject: Help\r\n"
    "Date: Sun, 06 Dec 2026 10:00:00 +0000\r\nMessage-ID: <m1@example.com>\r\n"
    "\r\nThe printer is on fire.\r\n"
).encode()


def send(port: int, raw: bytes) -> str:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        client.mail(SENDER)
        client.rcpt(SUPPORT)
        code, answer = client.data(raw)
    assert code == 250
    return answer.decode()


async def test_a_mail_the_listener_took_is_a_duplicate_when_piped_to_ingest(
    db_url: str, sessions: sessionmaker[Session]
) -> None:
    smtp = SmtpSettings.model_validate({"listen": f"127.0.0.1:{free_port()}"})
    listener = MailListener(Intake(sessions), EmailSettings(address=SUPPORT), smtp)
    await listener.start()
    try:
        answer = await asyncio.to_thread(send, smtp.listen.port, MAIL)
    finally:
        await listener.close(timeout=5)

    piped = pipe(
        db_url, "--channel", "email", stdin=b"Delivered-To: " + SUPPORT.encode() + b"\r\n" + MAIL
    )

    assert answer == "2.0.0 OK, inbound item 1"
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "stdin: duplicate of inbound item 1\n"
    with sessions() as session:
        assert session.scalars(select(InboundItem.id)).all() == [1]
