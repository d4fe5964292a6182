"""The loop every background worker shares, after GNU Mailman's ``core/runner.py``.

The processor, the dispatcher and each IMAP poller differ only in what one iteration does; the
waiting, waking, failing and stopping live here once, so they behave the same everywhere and
/healthz can report all of them alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from abc import ABC, abstractmethod
from collections.abc import Callable

import structlog

from threadline.channels.component import State, describe_error
from threadline.core.backoff import Backoff

DEFAULT_BACKOFF = Backoff()
CANCEL_GRACE_S = 1.0
"""After the shutdown timeout, how long a cancelled loop gets to unwind."""


class Runner(ABC):
    """A worker loop: ``run_once`` until stopped, sleeping when idle, backing off when failing.

    Subclasses implement :meth:`run_once`, which runs on the event loop: any blocking work in it
    (SQLAlchemy sessions, imapclient, smtplib) must go through ``await asyncio.to_thread(...)``,
    or it would stall the other runners, the HTTP server and the systemd watchdog pings.

    :meth:`stop` lets the current iteration finish, so in-flight work completes; the supervisor
    bounds that wait and cancels the task when the shutdown timeout expires.
    """

    def __init__(
        self,
        name: str,
        *,
        interval: float | None = 5.0,
        backoff: Backoff = DEFAULT_BACKOFF,
        rng: random.Random | None = None,
    ) -> None:
        self._name = name
        self.interval = interval
        """Seconds to sleep after an iteration found nothing to do, unless woken earlier; None:
        until woken (the daemon's scheduler wakes its runners when their polls fall due)."""
        self.backoff = backoff
        self._rng = rng or random.Random()
        self._state = State.STARTING
        self._last_error: str | None = None
        self._failures = 0
        self._stopping = False
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._log = structlog.get_logger(__name__, component=name)

    @property
    def name(self) -> str:
        return self._name

    @property
    def state(self) -> State:
        return self._state

    @property
    def stopping(self) -> bool:
        """:meth:`stop` was called: an iteration that does many rounds of work ends early.
        Read from worker threads too (a plain attribute, so that is safe)."""
        return self._stopping

    @property
    def last_error(self) -> str | None:
        """The latest failure, kept until an iteration succeeds, for /healthz."""
        return self._last_error

    @abstractmethod
    async def run_once(self) -> bool:
        """Do one batch of work; True if there was any (the loop goes again at once)."""

    def wake(self) -> None:
        """New work arrived: end an idle sleep now rather than at the next interval."""
        self._wake.set()

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the runner's loop, from any thread (a scheduled job runs in a
        worker thread); nothing happens before the runner runs or once its loop has closed."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(callback)

    def stop(self) -> None:
        """Ask the loop to end after the iteration in progress, if any."""
        self._stopping = True
        self._stop.set()
        self._wake.set()

    async def start(self) -> None:
        """The supervisor's way in: the loop runs as a task of its own from here."""
        self._task = asyncio.create_task(self.run(), name=self.name)

    async def close(self, timeout: float) -> None:
        """Let the iteration in flight finish within ``timeout``, then cancel it."""
        self.stop()
        if self._task is None:
            return
        _done, pending = await asyncio.wait([self._task], timeout=timeout)
        if pending:
            self._log.warning("shutdown timeout reached, cancelling in-flight work")
            self._task.cancel()
            await asyncio.wait([self._task], timeout=CANCEL_GRACE_S)

    async def run(self) -> None:
        self._log.debug("runner started")
        self._loop = asyncio.get_running_loop()
        try:
            while not self._stopping:
                await self._one_iteration()
        finally:
            self._state = State.STOPPED
            self._log.debug("runner stopped")

    async def _one_iteration(self) -> None:
        # Cleared before the work, so a wake() that arrives while it runs is not lost.
        self._wake.clear()
        if self._state is not State.FAILING:
            self._state = State.BUSY
        try:
            did_work = await self.run_once()
        except Exception as error:
            await self._fail(error)
            return
        self._failures = 0
        self._last_error = None
        if did_work:
            self._state = State.BUSY
            return
        self._state = State.IDLE
        await _wait(self._wake, self.interval)

    async def _fail(self, error: Exception) -> None:
        self._failures += 1
        self._state = State.FAILING
        self._last_error = describe_error(error)
        delay = self.backoff.delay(self._failures, self._rng)
        self._log.exception(
            "runner iteration failed", failures=self._failures, retry_in=round(delay, 3)
        )
        # Only stop() shortens a backoff: wake-ups from new work must not turn it into a hot loop.
        await _wait(self._stop, delay)


async def _wait(event: asyncio.Event, timeout: float | None) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)
