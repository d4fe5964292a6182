"""A large batch's mails are composed in worker processes while the batch before is sent, and
a worker that dies loses none of them: through the real dispatcher and ``EmailSender`` to a
real SMTP server on 127.0.0.1."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.desk_pipeline import desk_pipeline
from tests.support.messages import email
from tests.support.smtp_sink import HOST, SmtpSink
from threadline.channels.email.compose_workers import IN_WORKERS_FROM
from threadline.channels.email.settings import EmailSettings, SmarthostSettings
from threadline.channels.email.smarthost import EmailSender
from threadline.core.dispatcher import Dispatcher
from threadline.core.models import MessageRef, OutboxItem, User
from threadline.core.senders import SenderRegistry
from threadline.core.settings import DispatchSettings

EMAIL = EmailSettings(address="Desk Support <support@desk.example>")
LARGE = IN_WORKERS_FROM + 8
WAIT_S = 10.0


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def dispatcher(sessions: sessionmaker[Session], sink: SmtpSink) -> Dispatcher:
    desk = desk_pipeline(sessions)
    smarthost = SmarthostSettings(host=HOST, port=sink.port, timeout=5.0, compose_workers=1)
    senders = SenderRegistry()
    senders.register("email", EmailSender(desk.sessions, desk.signer, EMAIL, smarthost))
    return Dispatcher(desk.sessions, senders, DispatchSettings(concurrency=4))


@pytest.fixture(autouse=True)
def agent(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.add(User(name="Grace Hopper", email="grace@desk.example", type="agent"))


def open_tickets(sessions: sessionmaker[Session], first: int, count: int) -> None:
    """Each new ticket queues a notification to the agent."""
    desk = desk_pipeline(sessions)
    for n in range(first, first + count):
        desk.deliver(email(f"client{n}@example.com", f"m{n}@mail.example", subject=f"Help {n}"))


def workers_started(before: set[int]) -> set[int]:
    return {child.pid for child in multiprocessing.active_children()} - before


def children() -> set[int]:
    return {child.pid for child in multiprocessing.active_children()}


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
