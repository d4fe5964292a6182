"""The listener under abuse: a host holding 200 idle connections, or sending mail faster than
its rate, is turned away with temporary replies, and a server delivering real mail from
another address still gets its 250; an idle connection is hung up on after ``idle_timeout``.
Over 127.0.0.1 (the abuser) and 127.0.0.2 (the real server, another loopback address)."""

from __future__ import annotations

import asyncio
import smtplib
import socket
from collections import Counter
from typing import BinaryIO

from sqlalchemy.orm import Session, sessionmaker

from tests.channels.email.test_listener import HOST, SENDER, SUPPORT, deliver, listening, mail
from threadline.channels.email.connection_limits import ConnectionLimits
from threadline.core.intake import Intake

ABUSER = HOST
REAL_SERVER = "127.0.0.2"
WAIT_S = 10.0


def first_reply(port: int) -> tuple[socket.socket, BinaryIO, bytes]:
    """A connection from the abuser that says nothing, its replies, and the first of them."""
    connection = socket.create_connection((HOST, port), timeout=WAIT_S)
    replies = connection.makefile("rb")
    return connection, replies, replies.readline()


async def test_two_hundred_idle_connections_from_one_host_deny_no_one_else(
    sessions: sessionmaker[Session],
) -> None:
    async with listening(Intake(sessions), max_connections_per_client=50) as listener:
        port = listener.listen.port
        held = [await asyncio.to_thread(first_reply, port) for _ in range(200)]
        try:
            replies = Counter(line.split(b" ", 1)[0] for _connection, _replies, line in held)
            assert replies == {b"220": 50, b"421": 150}

            def real_delivery() -> tuple[int, bytes]:
                with smtplib.SMTP(
                    HOST, port, timeout=WAIT_S, source_address=(REAL_SERVER, 0)
                ) as client:
                    return deliver(mail())(client)

            code, _answer = await asyncio.to_thread(real_delivery)
            assert code == 250
        finally:
            for connection, replies, _line in held:
                replies.close()
                connection.close()


async def test_an_idle_connection_is_hung_up_on(
    sessions: sessionmaker[Session],
) -> None:
    async with listening(Intake(sessions), idle_timeout=0.5) as listener:

        def idle() -> list[bytes]:
            connection, replies, greeting = first_reply(listener.listen.port)
            with connection, replies:
                # Blocks until the listener hangs up (or WAIT_S passes, and the read raises).
                return [greeting, *replies.readlines()]

        lines = await asyncio.to_thread(idle)
    # The greeting, then the end of the stream.
    assert len(lines) == 1
    assert lines[0].startswith(b"220 ")


async def test_a_client_over_its_rate_of_mails_is_told_451(
    sessions: sessionmaker[Session],
) -> None:
    async with listening(Intake(sessions), max_mails_per_client_minute=2) as listener:

        def three_mails() -> list[int]:
            with smtplib.SMTP(HOST, listener.listen.port, timeout=WAIT_S) as client:
                client.ehlo()
                codes = []
                for number in range(3):
                    code, _ = client.mail(SENDER)
                    codes.append(code)
                    if code == 250:
                        client.rcpt(SUPPORT)
                        client.data(mail(f"m{number}@example.com"))
                return codes

        assert await asyncio.to_thread(three_mails) == [250, 250, 451]


def test_the_counts_free_a_connection_when_it_ends_and_a_minute_when_it_passes() -> None:
    now = [0.0]
    limits = ConnectionLimits(total=3, per_client=2, per_minute=1, clock=lambda: now[0])
    assert [limits.admit("a"), limits.admit("a")] == [None, None]
    assert limits.admit("a") is not None
    assert limits.admit("b") is None
    assert limits.admit("c") is not None  # three in all
    limits.release("a")
    assert limits.admit("a") is None

    assert limits.transaction("a") is None
    now[0] = 59.9
    assert limits.transaction("a") is not None
    now[0] = 60.0
    assert limits.transaction("a") is None
