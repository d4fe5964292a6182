"""The SMTP/LMTP listener, spoken to by smtplib over 127.0.0.1: 250 only once the mail is
committed, no open relay, the size limit, 451 for our own faults, LMTP's answer per recipient,
and STARTTLS."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.daemon import free_port
from tests.support.smtp_sink import self_signed_certificate
from threadline.channels.email.listener import ListenerSetupError, MailListener, tls_context
from threadline.channels.email.settings import MEBIBYTE, EmailSettings, SmtpSettings
from threadline.core.db import make_engine, session_factory
from threadline.core.intake import Intake
from threadline.core.models import InboundItem

HOST = "127.0.0.1"
SUPPORT = "support@desk.example"
SENDER = "ada@example.com"
T = TypeVar("T")
Reply = tuple[int, bytes]


def mail(message_id: str = "m1@example.com", body: bytes = b"Hello\r\n") -> bytes:
    return (
        f"From: Ada <{SENDER}>\r\nTo: {SUPPORT}\r\nSubject: Help\r\n"
        f"Message-ID: <{message_id}>\r\n\r\n"
    ).encode() + body


def email_settings() -> EmailSettings:
    return EmailSettings(
        address=SUPPORT,
        domains=("desk.example", "bücher.example"),
        addresses=("help@other.example",),
        max_message_size=MEBIBYTE,
    )


@asynccontextmanager
async def listening(intake: Intake, **smtp: Any) -> AsyncIterator[MailListener]:
    settings = SmtpSettings.model_validate({"listen": f"{HOST}:{free_port()}", **smtp})
    listener = MailListener(intake, email_settings(), settings)
    await listener.start()
    try:
        yield listener
    finally:
        await listener.close(timeout=5)


async def talk(
    listener: MailListener, conversation: Callable[[smtplib.SMTP], T], lmtp: bool = False
) -> T:
    """Run a blocking smtplib conversation in a thread, as a sending server would hold it."""

    def run() -> T:
        client_class = smtplib.LMTP if lmtp else smtplib.SMTP
        with client_class(HOST, listener.listen.port, timeout=10) as client:
            return conversation(client)

    return await asyncio.to_thread(run)


def deliver(
    raw: bytes, recipients: tuple[str, ...] = (SUPPORT,), sender: str = SENDER
) -> Callable[[smtplib.SMTP], Reply]:
    def conversation(client: smtplib.SMTP) -> Reply:
        client.ehlo()
        assert client.mail(sender)[0] == 250
        for recipient in recipients:
            client.rcpt(recipient)
        return client.data(raw)

    return conversation


def stored(sessions: sessionmaker[Session]) -> list[InboundItem]:
    with sessions() as session:
        return list(session.scalars(select(InboundItem).order_by(InboundItem.id)))


async def test_mail_for_our_domain_is_committed_before_250_with_its_envelope(
    sessions: sessionmaker[Session],
) -> None:
    async with listening(Intake(sessions)) as listener:
        code, answer = await talk(listener, deliver(mail()))

        assert code == 250
        (item,) = stored(sessions)
        assert answer.decode() == f"2.0.0 OK, inbound item {item.id}"
        assert (item.channel, item.raw, item.status) == ("email", mail(), "pending")
        assert item.meta == {
            "source": "smtp",
            "mail_from": SENDER,
            "rcpt_tos": [SUPPORT],
            "peer": HOST,
        }


async def test_the_same_mail_again_answers_250_and_stays_one_item(
    sessions: sessionmaker[Session],
) -> None:
    async with listening(Intake(sessions)) as listener:
        first = await talk(listener, deliver(mail()))
        again = await talk(listener, deliver(mail(body=b"Redelivered\r\n")))

    assert first == again
    assert first[0] == 250
    assert len(stored(sessions)) == 1


async def test_a_bounce_from_the_null_sender_is_accepted(sessions: sessionmaker[Session]) -> None:
    async with listening(Intake(sessions)) as listener:
        code, _ = await talk(listener, deliver(mail(), sender="<>"))

    assert code == 250
    assert stored(sessions)[0].meta["mail_from"] == ""


async def test_a_foreign_recipient_is_refused_550_and_nothing_is_stored(
    sessions: sessionmaker[Session],
) -> None:
    def relay_attempt(client: smtplib.SMTP) -> tuple[Reply, Reply]:
        client.ehlo()
        client.mail(SENDER)
        return client.rcpt("victim@elsewhere.example"), client.docmd("DATA")

    async with listening(Intake(sessions)) as listener:
        (rcpt_code, rcpt_answer), (data_code, _) = await talk(listener, relay_attempt)

    assert (rcpt_code, rcpt_answer) == (550, b"5.7.1 Relay access denied")
    assert data_code == 503
    assert stored(sessions) == []


async def test_only_our_recipients_of_a_mixed_envelope_are_kept(
    sessions: sessionmaker[Session],
) -> None:
    async with listening(Intake(sessions)) as listener:
        code, _ = await talk(listener, deliver(mail(), ("victim@elsewhere.example", SUPPORT)))

    assert code == 250
    assert stored(sessions)[0].meta["rcpt_tos"] == [SUPPORT]


@pytest.mark.parametrize(
    ("recipient", "code"),
    [
        ("support+t12-abcdefghijklmnop@desk.example", 250),
        ("anyone@DESK.example", 250),
        ("help+t7-abcdefghijklmnop@other.example", 250),
        ("HELP@Other.Example", 250),
        ("helpdesk@other.example", 550),
        ("help@sub.other.example", 550),
        ("support@desk.example.evil.example", 550),
    ],
)
async def test_rcpt_is_answered_by_whether_the_recipient_is_ours(
    sessions: sessionmaker[Session], recipient: str, code: int
) -> None:
    def rcpt(client: smtplib.SMTP) -> int:
        client.ehlo()
        client.mail(SENDER)
        return client.rcpt(recipient)[0]

    async with listening(Intake(sessions)) as listener:
        assert await talk(listener, rcpt) == code


async def test_an_internationalized_recipient_is_accepted_over_smtputf8(
    sessions: sessionmaker[Session],
) -> None:
    def utf8_delivery(client: smtplib.SMTP) -> Reply:
        client.ehlo()
        client.command_encoding = "utf-8"
        client.mail(SENDER, ["SMTPUTF8"])
        assert client.rcpt("Kundendienst@BÜCHER.example")[0] == 250
        return client.data(mail())

    async with listening(Intake(sessions)) as listener:
        code, _ = await talk(listener, utf8_delivery)

    assert code == 250
    assert stored(sessions)[0].meta["rcpt_tos"] == ["Kundendienst@BÜCHER.example"]


async def test_size_limit_is_announced_and_a_larger_size_is_refused_at_mail(
    sessions: sessionmaker[Session],
) -> None:
    def announce_too_much(client: smtplib.SMTP) -> tuple[str, Reply]:
        client.ehlo()
        return client.esmtp_features["size"], client.mail(SENDER, [f"SIZE={MEBIBYTE + 1}"])

    async with listening(Intake(sessions)) as listener:
        size, (code, answer) = await talk(listener, announce_too_much)

    assert size == str(MEBIBYTE)
    assert code == 552
    assert answer.startswith(b"5.3.4 ")
    assert stored(sessions) == []


async def test_data_over_the_limit_is_refused_552_and_not_stored(
    sessions: sessionmaker[Session],
) -> None:
    oversized = mail(body=(b"x" * 998 + b"\r\n") * (MEBIBYTE // 1000 + 10))
    async with listening(Intake(sessions)) as listener:
        code, answer = await talk(listener, deliver(oversized))
        assert (await talk(listener, deliver(mail())))[0] == 250

    assert (code, answer.decode()) == (
        552,
        f"5.3.4 Message exceeds the maximum size of {MEBIBYTE} bytes",
    )

    assert [item.raw for item in stored(sessions)] == [mail()]


async def test_a_database_without_its_tables_answers_451_and_acknowledges_nothing(
    empty_db_url: str,
) -> None:
    engine = make_engine(empty_db_url)
    try:
        async with listening(Intake(session_factory(engine))) as listener:
            code, answer = await talk(listener, deliver(mail()))
            failure = listener.handler.last_failure
    finally:
        engine.dispose()

    assert (code, answer.split()[0]) == (451, b"4.3.0")
    assert failure is not None


async def test_an_unexpected_error_answers_451_and_the_retry_is_acknowledged_once(
    sessions: sessionmaker[Session],
) -> None:
    wakes: list[int] = []

    def wake_that_fails_once(_channels: list[str]) -> None:
        wakes.append(1)
        if len(wakes) == 1:
            raise RuntimeError("processor wake failed")

    async with listening(Intake(sessions, on_accepted=wake_that_fails_once)) as listener:
        first = await talk(listener, deliver(mail()))
        retry = await talk(listener, deliver(mail()))

    assert first[0] == 451
    assert retry[0] == 250
    assert len(stored(sessions)) == 1


async def test_an_exception_escaping_a_hook_is_451_never_aiosmtpd_500() -> None:
    listener = MailListener(Intake(sessionmaker()), email_settings(), SmtpSettings())

    answer = await listener.handler.handle_exception(KeyError("a bug of ours"))

    assert answer.startswith("451 4.3.0 ")


def lmtp_delivery(recipients: tuple[str, ...]) -> Callable[[smtplib.SMTP], list[Reply]]:
    """Every reply after DATA: one per recipient that RCPT accepted (RFC 2033)."""

    def conversation(client: smtplib.SMTP) -> list[Reply]:
        client.ehlo()
        client.mail(SENDER)
        accepted = [r for r in recipients if client.rcpt(r)[0] == 250]
        replies = [client.data(mail())]
        replies += [client.getreply() for _ in accepted[1:]]
        assert client.noop()[0] == 250, "more replies after DATA than accepted recipients"
        return replies

    return conversation


async def test_lmtp_answers_each_recipient_after_data(sessions: sessionmaker[Session]) -> None:
    recipients = (SUPPORT, "help@other.example")
    async with listening(Intake(sessions), protocol="lmtp") as listener:
        replies = await talk(listener, lmtp_delivery(recipients), lmtp=True)

    (item,) = stored(sessions)
    assert [code for code, _ in replies] == [250, 250]
    assert (item.meta["source"], item.meta["rcpt_tos"]) == ("lmtp", list(recipients))


async def test_lmtp_answers_only_the_recipients_it_accepted(
    sessions: sessionmaker[Session],
) -> None:
    recipients = ("victim@elsewhere.example", SUPPORT)
    async with listening(Intake(sessions), protocol="lmtp") as listener:
        replies = await talk(listener, lmtp_delivery(recipients), lmtp=True)

    assert [code for code, _ in replies] == [250]


async def test_lmtp_answers_451_to_each_recipient_when_the_database_fails(
    empty_db_url: str,
) -> None:
    engine = make_engine(empty_db_url)
    try:
        async with listening(Intake(session_factory(engine)), protocol="lmtp") as listener:
            replies = await talk(
                listener, lmtp_delivery((SUPPORT, "help@other.example")), lmtp=True
            )
    finally:
        engine.dispose()

    assert [code for code, _ in replies] == [451, 451]


async def test_lmtp_refuses_smtp_greetings(sessions: sessionmaker[Session]) -> None:
    async with listening(Intake(sessions), protocol="lmtp") as listener:
        code, _ = await talk(listener, lambda client: client.docmd("EHLO", "mx.example"))

    assert code == 500


async def test_starttls_session_delivers(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    files = self_signed_certificate(tmp_path)
    trusting = ssl.create_default_context(cafile=str(files.certificate))

    def over_tls(client: smtplib.SMTP) -> tuple[set[str], Reply]:
        client.ehlo()
        offered = set(client.esmtp_features)
        client.starttls(context=trusting)
        return offered, deliver(mail())(client)

    tls = {"tls_certificate": str(files.certificate), "tls_key": str(files.key)}
    async with listening(Intake(sessions), **tls) as listener:
        offered, (code, _) = await talk(listener, over_tls)

    assert "starttls" in offered
    assert "auth" not in offered
    assert code == 250
    assert len(stored(sessions)) == 1


def test_an_unreadable_tls_key_names_its_setting(tmp_path: Path) -> None:
    files = self_signed_certificate(tmp_path)
    with pytest.raises(ListenerSetupError, match=r"^smtp\.tls_key: cannot read .*missing\.pem"):
        tls_context(str(files.certificate), str(tmp_path / "missing.pem"))


def test_a_key_that_does_not_fit_names_the_tls_settings(tmp_path: Path) -> None:
    files = self_signed_certificate(tmp_path)
    (tmp_path / "other").mkdir()
    other = self_signed_certificate(tmp_path / "other")
    with pytest.raises(ListenerSetupError, match=r"^smtp\.tls_key: .*smtp\.tls_certificate"):
        tls_context(str(files.certificate), str(other.key))


@pytest.mark.parametrize("given", ["tls_certificate", "tls_key"])
def test_tls_certificate_and_key_come_together(given: str) -> None:
    with pytest.raises(ValueError, match="STARTTLS needs both") as caught:
        SmtpSettings.model_validate({given: "/etc/threadline/tls.pem"})
    assert caught.value.errors()[0]["loc"] == ("tls_key",)


async def test_a_desk_address_with_a_display_name_is_one_of_ours(
    sessions: sessionmaker[Session],
) -> None:
    """Replies come back to ``email.address`` with a token, written as it may be configured:
    ``Desk Support <desk@solo.example>``."""
    email = EmailSettings(address="Desk Support <desk@solo.example>", domains=("desk.example",))
    settings = SmtpSettings.model_validate({"listen": f"{HOST}:{free_port()}"})
    listener = MailListener(Intake(sessions), email, settings)
    await listener.start()
    try:

        def rcpt(client: smtplib.SMTP) -> Reply:
            client.ehlo()
            client.mail(SENDER)
            return client.rcpt("desk+t1-abcdefghijklmnop@solo.example")

        code, _answer = await talk(listener, rcpt)
    finally:
        await listener.close(timeout=5)
    assert code == 250
