"""Waking the processor from adapters whose factories run before its runner exists."""

from __future__ import annotations

from sqlalchemy import Engine

from threadline.daemon.processor_runner import ProcessorRunner
from threadline.daemon.runner import Runner
from threadline.daemon.settings import Settings
from threadline.daemon.supervisor import RunnerFactory


class ProcessorWake:
    """Wraps the processor's runner factory and remembers the runner it builds, so that
    ``accepted`` (an ``Intake``'s ``on_accepted``) can be handed out while wiring, before the
    supervisor has opened the database and built any runner.

    Wiring: ``process = ProcessorWake(processor_runner(...))``, then
    ``imap_runner(mailbox, process.accepted)`` and the supervisor's ``on_accepted`` (the SMTP
    listener's): the one way an accept wakes the processor of its process.
    """

    def __init__(self, factory: RunnerFactory) -> None:
        self._factory = factory
        self._runner: ProcessorRunner | None = None

    def __call__(self, settings: Settings, engine: Engine) -> Runner:
        runner = self._factory(settings, engine)
        if isinstance(runner, ProcessorRunner):
            self._runner = runner
        return runner

    def accepted(self) -> None:
        """Safe from any thread; a no-op before the processor runs (its first sweep looks)."""
        if self._runner is not None:
            self._runner.accepted()
