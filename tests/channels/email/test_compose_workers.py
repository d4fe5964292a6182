"""A large batch's mails are composed in worker processes while the batch before is sent, and
a worker that dies loses none of them: through the real dispatcher and ``EmailSender`` to a
real SMTP server on 127.0.0.1."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.mail_desk import add_agent, mail_dispatcher, open_tickets
from tests.support.smtp_sink import SmtpSink
from threadline.channels.email.compose import DeskAddress, Mail, MailAttachment
from threadline.channels.email.compose_workers import (
    IN_WORKERS_FROM,
    LARGE_ATTACHMENTS,
    ComposeAhead,
    composed,
)
from threadline.core.dispatcher import Dispatcher
from threadline.core.models import MessageRef, OutboxItem
from threadline.core.tokens import TokenSigner

LARGE = IN_WORKERS_FROM + 8
WAIT_S = 10.0


@pytest.fixture
def dispatcher(sessions: sessionmaker[Session], sink: SmtpSink) -> Dispatcher:
    add_agent(sessions)
    return mail_dispatcher(sessions, sink.port, compose_workers=1)


def children() -> set[int]:
    return {child.pid for child in multiprocessing.active_children()}


def workers_started(before: set[int]) -> set[int]:
    return children() - before


def sent_once(sessions: sessionmaker[Session], sink: SmtpSink, rows: int) -> None:
    """Every row sent at its first try, each as the mail whose Message-ID it recorded."""
    with sessions() as session:
        outcomes = session.execute(select(OutboxItem.status, OutboxItem.attempts)).all()
        recorded = set(session.scalars(select(MessageRef.external_id)))
    assert [tuple(outcome) for outcome in outcomes] == [("sent", 1)] * rows
    ids = [str(received.message["Message-ID"]).strip("<>") for received in sink.received]
    assert len(ids) == len(set(ids)) == rows
    assert set(ids) <= recorded


def test_a_small_batch_is_composed_in_the_daemon_as_it_is_sent(
    sessions: sessionmaker[Session], dispatcher: Dispatcher, sink: SmtpSink
):
    before = children()
    open_tickets(sessions, 0, IN_WORKERS_FROM - 1)

    dispatcher.run_batch()

    sent_once(sessions, sink, IN_WORKERS_FROM - 1)
    assert workers_started(before) == set()


def test_a_large_batch_is_composed_in_a_worker_and_each_mail_goes_out_once(
    sessions: sessionmaker[Session], dispatcher: Dispatcher, sink: SmtpSink
):
    before = children()
    open_tickets(sessions, 0, LARGE)

    dispatcher.run_batch()

    sent_once(sessions, sink, LARGE)
    assert len(workers_started(before)) == 1
    mails = [received.message for received in sink.received]
    subjects = {mail["Subject"] for mail in mails}
    assert subjects == {f"[#{n + 1}] New ticket: Help {n}" for n in range(LARGE)}
    assert {mail["From"] for mail in mails} == {"Desk Support <support@desk.example>"}
    assert all(mail["Reply-To"].startswith("Desk Support <support+") for mail in mails)


def test_a_compose_worker_that_dies_loses_no_mail_and_the_next_batch_has_a_new_one(
    sessions: sessionmaker[Session], dispatcher: Dispatcher, sink: SmtpSink
):
    """Killed as it starts, with the batch's chunks in flight: their mails are composed in the
    daemon, with no failed try, and the next batch starts a new worker."""
    before = children()
    open_tickets(sessions, 0, LARGE)
    with ThreadPoolExecutor(1) as running:
        batch = running.submit(dispatcher.run_batch)
        (worker,) = started_worker(before)
        os.kill(worker, signal.SIGKILL)
        batch.result()
    open_tickets(sessions, LARGE, LARGE)
    dispatcher.run_batch()

    sent_once(sessions, sink, 2 * LARGE)
    (new_worker,) = workers_started(before)
    assert new_worker != worker


def started_worker(before: set[int]) -> set[int]:
    """As soon as it exists, long before it has started (importing takes it 100 ms or more)."""
    deadline = time.monotonic() + WAIT_S
    while not (started := workers_started(before)) and time.monotonic() < deadline:
        time.sleep(0.001)
    return started


def test_a_mail_with_large_files_is_composed_in_the_daemon_and_the_rest_in_a_worker():
    desk, signer = DeskAddress.parse("support@desk.example"), TokenSigner("secret")
    date = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    mails = {
        row: Mail("reply", row, f"Help {row}", "Hello", f"c{row}@example.com", f"reply:{row}")
        for row in range(IN_WORKERS_FROM)
    }
    large = MailAttachment("scan.pdf", "application/pdf", b"%" * (LARGE_ATTACHMENTS + 1))
    mails[99] = Mail(
        "reply", 99, "Scan", "Attached", "c99@example.com", "reply:99", attachments=(large,)
    )

    composing = ComposeAhead(desk, signer, workers=1).start(mails, date)

    assert set(composing) == set(range(IN_WORKERS_FROM))
    done = ComposeAhead.result(3, composing[3])
    assert done is not None
    assert done.message_id == composed(mails[3], desk, signer, date).message_id
    assert b"To: c3@example.com\r\n" in done.data
