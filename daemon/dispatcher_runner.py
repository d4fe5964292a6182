"""The dispatcher as a daemon runner: woken through the hub when outbox rows are committed, and
by the scheduler's sweep for rows whose retry fell due."""

from __future__ import annotations

import asyncio

from threadline.channels.runner import Runner
from threadline.core.dispatcher import Dispatcher


class DispatcherRunner(Runner):
    def __init__(self, dispatcher: Dispatcher, interval: float | None = None) -> None:
        """``interval`` None: sleeps until woken (the scheduler's ``outbox_sweep``)."""
        super().__init__("dispatcher", interval=interval)
        self._dispatcher = dispatcher

    async def run_once(self) -> bool:
        claimed = await asyncio.to_thread(self._dispatcher.run_until_idle, lambda: self.stopping)
        return claimed > 0
