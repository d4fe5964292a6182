"""A real Dovecot for the email tests, started once per session from the machine's binaries,
and an SMTP sink as the smarthost.

Under ``CI=true`` a missing Dovecot fails the run instead of skipping the IMAP tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.dovecot import Account, DovecotServer, dovecot_for_tests
from tests.support.smtp_sink import SmtpSink


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    server = dovecot_for_tests()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def plain_dovecot() -> Iterator[DovecotServer]:
    """A server that offers no IDLE, MOVE or UIDPLUS once logged in: the poller's fallbacks.
    (MULTIAPPEND stays, for the tests' own deliveries.)"""
    server = dovecot_for_tests("imap_capability = IMAP4rev1 LITERAL+ MULTIAPPEND\n")
    yield server
    server.stop()


@pytest.fixture
def account(dovecot: DovecotServer) -> Account:
    """A user of its own for each test, so no test sees another's mail."""
    return dovecot.account(f"user-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink
