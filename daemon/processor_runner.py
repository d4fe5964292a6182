"""The processor as a daemon runner: woken through the hub when items are accepted (by this
daemon or, on PostgreSQL, by any daemon sharing the database), and by the scheduler's sweep;
paced while items arrive (``daemon/intake_pace.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack

from sqlalchemy.orm import Session, sessionmaker

from threadline.channels.runner import Runner
from threadline.core.processor import Processor
from threadline.daemon.intake_pace import IntakePace
from threadline.daemon.settings import Settings

ProcessorBuilder = Callable[[Settings, sessionmaker[Session]], AbstractContextManager[Processor]]
"""The processor, in a context that owns what it needs beside the database (parse workers)."""


class ProcessorRunner(Runner):
    def __init__(
        self,
        processor: Processor,
        interval: float | None = None,
        on_handled: Callable[[], None] = lambda: None,
        on_stopped: Callable[[], None] = lambda: None,
        pace: IntakePace | None = None,
    ) -> None:
        super().__init__("processor", interval=interval)
        self._processor = processor
        self._pace = pace or IntakePace()
        self._batch_size = processor.batch_size
        self.worker_id = processor.worker_id
        self._on_handled = on_handled
        """Called in the processor's thread after a batch committed: it may have queued outbox
        rows (the dispatchers' wake-up, which must be safe from any thread)."""
        self._on_stopped = on_stopped
        """Called once the loop has ended (it stops the parse workers)."""

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            await asyncio.to_thread(self._on_stopped)

    async def run_once(self) -> bool:
        """Drains the queue in one go, so each batch is claimed and parsed while the one
        before it is stored; a stop ends it after the batch in hand."""
        tally = await asyncio.to_thread(
            self._processor.run_until_idle,
            lambda: self.stopping,
            self._pace.batches(self._on_handled),
            lambda: self._pace.batch_size(self._batch_size),
        )
        return tally.total > 0


def processor_runner(
    build: ProcessorBuilder,
    settings: Settings,
    sessions: sessionmaker[Session],
    on_handled: Callable[[], None] = lambda: None,
    pace: IntakePace | None = None,
) -> ProcessorRunner:
    """The processor's runner, woken only (the scheduler's ``intake_sweep`` wakes it too); what
    ``build`` opens closes when the runner's loop ends."""
    context = ExitStack()
    processor = context.enter_context(build(settings, sessions))
    return ProcessorRunner(processor, None, on_handled, on_stopped=context.close, pace=pace)
