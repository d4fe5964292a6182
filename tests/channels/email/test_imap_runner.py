"""Mailbox runners in the daemon's loop: IDLE, stopping, failing alone, and one poller per
mailbox across daemons sharing a PostgreSQL database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.support.daemon import free_port
from tests.support.dovecot import Account
from tests.support.imap import eventually, mail, mailbox, queued
from threadline.channels.component import State
from threadline.channels.email.imap_poller import MailboxPoller
from threadline.channels.email.imap_runner import ImapRunner
from threadline.channels.email.settings import EmailSettings, MailboxSettings
from threadline.core.advisory_lock import AdvisoryLock
from threadline.core.db import session_factory
from threadline.core.intake import Intake


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
    settings = mailbox(account, poll_interval=0.2)
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
        async with running(second):
            await asyncio.sleep(0.5)  # a few of the second's tries at the lock
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
