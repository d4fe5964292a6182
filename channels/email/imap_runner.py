"""Each IMAP mailbox as a runner of its own: a broken mailbox shows as that runner failing on
/healthz, backing off and reconnecting, while the other mailboxes keep polling."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import datetime

from threadline.channels.component import State
from threadline.channels.descriptor import ChannelContext
from threadline.channels.email.imap_poller import MailboxPoller
from threadline.channels.email.settings import EmailSettings, MailboxSettings
from threadline.channels.runner import Runner
from threadline.channels.schedules import Interval, Job
from threadline.core.advisory_lock import AdvisoryLock

POLL_JOB = "imap_poll:"
"""Prefixes the mailbox's name in the id of its poll's scheduled job."""


class ImapRunner(Runner):
    """Polls while there is new mail; then IDLEs where the server offers it (renewed every
    ``poll_interval``), or sleeps until its :meth:`poll_job` falls due on the daemon's
    scheduler, every ``poll_interval``.

    The IDLE runs in a worker thread beside the base loop's idle sleep and wakes the loop when
    the server reports news, so the runner reads as idle on /healthz while it waits, and a stop
    ends the wait within a second.

    With a lock (PostgreSQL), only the daemon holding it polls; the others stand by and try
    again at each poll job's tick, taking over when the holder dies.
    """

    def __init__(self, poller: MailboxPoller, lock: AdvisoryLock | None = None) -> None:
        settings = poller.settings
        super().__init__(f"imap:{settings.name}", interval=None)
        self._poll_interval = settings.poll_interval
        self._poller = poller
        self._lock = lock
        self._halt = threading.Event()
        self._idle: asyncio.Task[None] | None = None
        self._standing_by = False

    @property
    def last_error(self) -> str | None:
        """A failure, else the latest mail skipped for its size: both want an operator."""
        return super().last_error or self._poller.last_skipped

    def poll_job(self) -> Job:
        """The poll that does not wait for IDLE: on a server without it, or while another
        daemon holds the mailbox."""
        return Job(
            POLL_JOB + self._poller.settings.name, self._poll_due, Interval(self._poll_interval)
        )

    def _poll_due(self, _tick: datetime) -> None:
        self.call_soon(self._poll_unless_waiting)

    def _poll_unless_waiting(self) -> None:
        """Only a runner asleep without IDLE polls: an IDLE reports mail by itself (and is
        renewed every ``poll_interval``), and a wake-up during a poll would make the loop wait
        on the IDLE that poll starts."""
        if self.state is State.IDLE and self._idle is None:
            self.wake()

    def stop(self) -> None:
        super().stop()
        self._halt.set()

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            with contextlib.suppress(Exception):
                await self._end_idle()
            await asyncio.to_thread(self._close)

    async def run_once(self) -> bool:
        try:
            await self._end_idle()
            return await self._poll()
        except Exception:
            # Whatever was half done, the connection is in an unknown state: start afresh.
            await asyncio.to_thread(self._poller.close)
            raise

    async def _poll(self) -> bool:
        if not await self._hold_lock():
            return False
        if not self._poller.connected:
            await asyncio.to_thread(self._poller.connect)
        if await asyncio.to_thread(self._poller.poll):
            return True
        if await asyncio.to_thread(lambda: self._poller.can_idle):
            self._idle = asyncio.create_task(self._wait_for_mail(), name=f"{self.name}:idle")
        return False

    async def _hold_lock(self) -> bool:
        if self._lock is None:
            return True
        held = await asyncio.to_thread(self._lock.try_hold)
        if held == self._standing_by:  # a change: logged once, not every round
            self._standing_by = not held
            self._log.info("imap mailbox taken over" if held else "imap mailbox polled elsewhere")
        if not held and self._poller.connected:
            await asyncio.to_thread(self._poller.close)
        return held

    async def _wait_for_mail(self) -> None:
        """Wakes the loop however the IDLE ends: on news, to fetch it; on a broken connection,
        so the next iteration raises the error and reconnects instead of sleeping on."""
        try:
            await asyncio.to_thread(self._poller.wait_for_mail, self._poll_interval, self._halt)
        finally:
            self.wake()

    async def _end_idle(self) -> None:
        """IDLE ends by itself, at the same ``interval`` as the loop's sleep, on news, or
        within a tick of a stop; its error, if any, is this iteration's."""
        idle, self._idle = self._idle, None
        if idle is not None:
            await idle

    def _close(self) -> None:
        self._poller.close()
        if self._lock is not None:
            self._lock.dispose()


def imap_runner(mailbox: MailboxSettings, context: ChannelContext) -> ImapRunner:
    """The runner of one ``[[imap.mailboxes]]`` entry; with PostgreSQL, under a lock of its own."""
    poller = MailboxPoller(
        mailbox,
        context.intake,
        context.sessions,
        context.section(EmailSettings).max_message_size,
    )
    lock = None
    if context.engine.dialect.name == "postgresql":
        lock = AdvisoryLock(context.engine.url, f"imap:{mailbox.name}")
    return ImapRunner(poller, lock)
