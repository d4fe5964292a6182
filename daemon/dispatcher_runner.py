"""The dispatcher as a background runner of ``threadline run``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.db import session_factory
from threadline.core.dispatcher import Dispatcher
from threadline.core.senders import SenderRegistry
from threadline.daemon.runner import Runner
from threadline.daemon.settings import Settings

SendersBuilder = Callable[[Settings, sessionmaker[Session]], SenderRegistry]
"""Senders need the settings and the database (the email sender reads what its mail says), so
they are built with the runner."""


class DispatcherRunner(Runner):
    def __init__(self, dispatcher: Dispatcher, interval: float) -> None:
        super().__init__("dispatcher", interval=interval)
        self._dispatcher = dispatcher
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        await super().run()

    async def run_once(self) -> bool:
        return await asyncio.to_thread(self._dispatcher.run_batch) > 0

    def wake(self) -> None:
        """Safe from any thread: the processor enqueues and commits in a worker thread, and an
        asyncio event may only be set from its loop's thread."""
        loop = self._loop
        if loop is None or _running_loop() is loop:
            super().wake()
            return
        # After shutdown the loop is closed; the row waits for the next start, as it should.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(super().wake)


class DispatcherFactory:
    """What ``threadline run`` lists in its runners, and what the processor is handed to wake
    the dispatcher after a commit that enqueued rows: the runner itself is only built once the
    supervisor has opened the database, so this forwards to it.

    Wiring: ``dispatch = DispatcherFactory(build_senders)``; ``RUNNERS = (..., dispatch)``.
    """

    def __init__(self, build_senders: SendersBuilder) -> None:
        self._build_senders = build_senders
        self._runner: DispatcherRunner | None = None

    def __call__(self, settings: Settings, engine: Engine) -> DispatcherRunner:
        sessions = session_factory(engine)
        dispatcher = Dispatcher(
            sessions, self._build_senders(settings, sessions), settings.dispatch
        )
        self._runner = DispatcherRunner(dispatcher, settings.dispatch.sweep_interval)
        return self._runner

    def wake(self) -> None:
        """A no-op before the daemon started: its first sweep finds the rows anyway."""
        if self._runner is not None:
            self._runner.wake()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
