"""PostgreSQL: this daemon's workers say they are alive by holding one advisory lock each, on a
connection of their own, until they stop or die (``core/lease_recovery.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy.engine import URL

from threadline.channels.component import StartupError, State
from threadline.core.advisory_lock import AdvisoryLock
from threadline.core.lease_recovery import presence_lock

NAME = "presence"


class WorkerPresence:
    def __init__(self, url: URL, worker_ids: Sequence[str]) -> None:
        self._locks = [AdvisoryLock(url, presence_lock(worker_id)) for worker_id in worker_ids]
        self.name = NAME
        self.state = State.STARTING
        self.last_error: str | None = None

    async def start(self) -> None:
        for lock in self._locks:
            if not await asyncio.to_thread(lock.try_hold):
                raise StartupError(f"another process holds {lock.name}; worker ids must differ")
        self.state = State.IDLE

    async def close(self, timeout: float) -> None:
        for lock in self._locks:
            await asyncio.to_thread(lock.dispose)
        self.state = State.STOPPED
