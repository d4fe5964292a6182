"""Mailbox runners in the daemon's loop: IDLE, the scheduled poll without it, stopping,
failing alone, and one poller per mailbox across daemons sharing a PostgreSQL database."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.support.daemon import free_port
from tests.support.dovecot import Account, DovecotServer
from tests.support.imap import eventually, mail, mailbox, queued
from threadline.channels.component import State
from threadline.channels.email.imap_poller import MailboxPoller
from threadline.channels.email.imap_runner import ImapRunner
from threadline.channels.email.settings import EmailSettings, MailboxSettings
from threadline.core.advisory_lock import AdvisoryLock
from threadline.core.db import session_factory
from threadline.core.intake import Intake
from threadline.daemon.scheduler import Scheduler


def runner_for(
    settings: MailboxSettings,
    sessions: sessionmaker[Session],
    lock: AdvisoryLock | None = None,
    on_accepted: Callable[[list[str]], None] | None = None,
) -> ImapRunner:
    intake = Intake(sessions, on_accepted)
    max_size = EmailSettings().max_message_size
    return ImapRunner(MailboxPoller(settings, intake, sessions, max_size), lock)


@asynccontextmanager
async def running(*runners: ImapRunner) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(runner.run()) for runner in runners]
    try:
        yield
    finally:
        for runner in runners:
            runner.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)


@asynccontextmanager
async def scheduled(
    runner: ImapRunner, sessions: sessionmaker[Session]
) -> AsyncIterator[Scheduler]:
    """The runner's poll job on a scheduler of its own, as its daemon runs it."""
    scheduler = Scheduler([runner.poll_job()], sessions)
    await scheduler.start()
    try:
        yield scheduler
    finally:
        await scheduler.close(timeout=5)


async def idle(runner: ImapRunner) -> None:
    await eventually(lambda: runner.state is State.IDLE)


async def test_mail_delivered_while_idling_is_accepted_within_seconds(
    account: Account, sessions: sessionmaker[Session]
):
    runner = runner_for(mailbox(account, poll_interval=60), sessions)
    async with running(runner):
        await idle(runner)
        await asyncio.sleep(0.3)  # well into the IDLE command
        account.append(mail(1))
        assert await eventually(lambda: len(queued(sessions)) == 1) < 5
        await idle(runner)


async def test_without_idle_new_mail_is_fetched_at_the_next_scheduled_poll(
    plain_dovecot: DovecotServer, sessions: sessionmaker[Session]
):
    """The runner has no timer of its own: without its job it would never poll again."""
    account = plain_dovecot.account(f"plain-{uuid.uuid4().hex[:12]}")
    runner = runner_for(mailbox(account, poll_interval=1), sessions)
    async with running(runner), scheduled(runner, sessions) as scheduler:
        await idle(runner)
        account.append(mail(1))
        await eventually(lambda: len(queued(sessions)) == 1)
        assert scheduler.stats[runner.poll_job().id].runs >= 1


async def test_stop_ends_an_idle_wait_within_a_second_or_two(
    account: Account, sessions: sessionmaker[Session]
):
    runner = runner_for(mailbox(account, poll_interval=600), sessions)
    task = asyncio.create_task(runner.run())
    await idle(runner)
    await asyncio.sleep(0.3)
    started = time.monotonic()
    runner.stop()
    await asyncio.wait_for(task, 5)
    assert time.monotonic() - started < 2
    assert runner.state is State.STOPPED


async def test_mail_already_there_at_start_is_accepted_and_wakes_the_processor(
    account: Account, sessions: sessionmaker[Session]
):
    account.append(mail(1), mail(2))
    wakes: list[int] = []
    runner = runner_for(mailbox(account), sessions, on_accepted=lambda _channels: wakes.append(1))
    async with running(runner):
        await eventually(lambda: len(queued(sessions)) == 2)
    assert wakes


@pytest.mark.parametrize("broken", ["wrong password", "nothing listening"])
async def test_a_broken_mailbox_fails_as_its_own_runner_while_another_keeps_working(
    account: Account, sessions: sessionmaker[Session], broken: str
):
    good = runner_for(mailbox(account, name="good"), sessions)
    overrides = {"password": "wrong"} if broken == "wrong password" else {"port": free_port()}
    bad = runner_for(mailbox(account, name="bad", **overrides), sessions)
    async with running(good, bad):
        await eventually(lambda: bad.state is State.FAILING)
        account.append(mail(1))
        await eventually(lambda: len(queued(sessions)) == 1)
        assert good.state in (State.IDLE, State.BUSY)
        assert good.last_error is None
        assert bad.state is State.FAILING
    expected = "refused the password of" if broken == "wrong password" else "Connection refused"
    assert bad.last_error is not None
    assert expected in bad.last_error


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_one_daemon_polls_a_mailbox_and_another_takes_over_when_it_ends(
    account: Account, engine: Engine
):
    sessions = session_factory(engine)
    settings = mailbox(account, poll_interval=1)
    accepted_by: list[str] = []

    def runner(name: str) -> ImapRunner:
        lock = AdvisoryLock(engine.url, f"imap:{settings.name}")

        def accepted(_channels: list[str]) -> None:
            accepted_by.append(name)

        return runner_for(settings, sessions, lock, on_accepted=accepted)

    first, second = runner("first"), runner("second")
    first_task = asyncio.create_task(first.run())
    try:
        await idle(first)
        async with running(second), scheduled(second, sessions) as scheduler:
            stats = scheduler.stats[second.poll_job().id]
            await eventually(lambda: stats.runs >= 2)  # the second tried the lock, twice
            account.append(mail(1))
            await eventually(lambda: len(queued(sessions)) == 1)
            assert accepted_by == ["first"]

            first.stop()
            await asyncio.wait_for(first_task, 5)
            account.append(mail(2))
            await eventually(lambda: len(queued(sessions)) == 2)
            assert accepted_by == ["first", "second"]
    finally:
        first.stop()
        await asyncio.wait_for(first_task, 5)
