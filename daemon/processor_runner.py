"""The processor as a daemon runner: sweeps the intake queue on an interval, and at once when an
adapter of this process accepts an item."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.db import session_factory
from core.processor import Handler, Processor
from daemon.runner import Runner
from daemon.settings import Settings
from daemon.supervisor import RunnerFactory

HandlerBuilder = Callable[[Settings, sessionmaker[Session]], Handler]


class ProcessorRunner(Runner):
    def __init__(
        self,
        processor: Processor,
        interval: float,
        on_handled: Callable[[], None] | None = None,
    ) -> None:
        super().__init__("processor", interval=interval)
        self._processor = processor
        self._on_handled = on_handled
        """Called after a batch committed: it may have queued outbox rows (the dispatcher's
        wake-up)."""
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        await super().run()

    async def run_once(self) -> bool:
        handled = await asyncio.to_thread(self._processor.run_batch)
        if handled and self._on_handled is not None:
            self._on_handled()
        return handled > 0

    def accepted(self) -> None:
        """``Intake``'s ``on_accepted``. Adapters accept in worker threads, and an asyncio event
        may only be set from its loop's thread. Before the loop runs there is nothing to wake:
        the first iteration looks at the queue anyway."""
        if self._loop is None:
            return
        # A loop closed meanwhile (shutdown) raises; the item is committed, and the next
        # process start finds it, so the accept must not fail for it.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self.wake)


def processor_runner(
    build_handler: HandlerBuilder, on_handled: Callable[[], None] | None = None
) -> RunnerFactory:
    """The runner factory of the processor, given what builds the pipeline."""

    def factory(settings: Settings, engine: Engine) -> ProcessorRunner:
        sessions = session_factory(engine)
        processor = Processor(sessions, build_handler(settings, sessions), settings.intake)
        return ProcessorRunner(processor, settings.intake.sweep_interval, on_handled)

    return factory
