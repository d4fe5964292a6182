"""The processor as a daemon runner: sweeps the intake queue on an interval, and at once when an
adapter of this process accepts an item."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, suppress

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.db import session_factory
from threadline.core.processor import Processor
from threadline.daemon.runner import Runner
from threadline.daemon.settings import Settings
from threadline.daemon.supervisor import RunnerFactory

ProcessorBuilder = Callable[[Settings, sessionmaker[Session]], AbstractContextManager[Processor]]
"""The processor, in a context that owns what it needs beside the database (parse workers)."""


class ProcessorRunner(Runner):
    def __init__(
        self,
        processor: Processor,
        interval: float,
        on_handled: Callable[[], None] | None = None,
        on_stopped: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__("processor", interval=interval)
        self._processor = processor
        self._on_handled = on_handled
        """Called after a batch committed: it may have queued outbox rows (the dispatcher's
        wake-up)."""
        self._on_stopped = on_stopped
        """Called once the loop has ended (it stops the parse workers)."""
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            await super().run()
        finally:
            await asyncio.to_thread(self._on_stopped)

    async def run_once(self) -> bool:
        """Drains the queue in one go, so each batch is claimed and parsed while the one
        before it is stored; a stop ends it after the batch in hand."""
        tally = await asyncio.to_thread(
            self._processor.run_until_idle, lambda: self.stopping, self._batch_committed
        )
        return tally.total > 0

    def _batch_committed(self) -> None:
        """Runs in the processor's thread; the wake-up belongs to the loop's."""
        if self._on_handled is not None and self._loop is not None:
            with suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._on_handled)

    def accepted(self) -> None:
        """``Intake``'s ``on_accepted``. Adapters accept in worker threads, and an asyncio event
        may only be set from its loop's thread. Before the loop runs there is nothing to wake:
        the first iteration looks at the queue anyway."""
        if self._loop is None:
            return
        # A loop closed meanwhile (shutdown) raises; the item is committed, and the next
        # process start finds it, so the accept must not fail for it.
        with suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self.wake)


def processor_runner(
    build_processor: ProcessorBuilder, on_handled: Callable[[], None] | None = None
) -> RunnerFactory:
    """The runner factory of the processor, given what builds it."""

    def factory(settings: Settings, engine: Engine) -> ProcessorRunner:
        context = ExitStack()
        processor = context.enter_context(build_processor(settings, session_factory(engine)))
        return ProcessorRunner(
            processor, settings.intake.sweep_interval, on_handled, on_stopped=context.close
        )

    return factory
