"""Accepting from many concurrent webhook requests in shared commits (group commit).

A commit per request caps a webhook at what the database commits per second, and on SQLite
every accept queues for the one write lock. Here a request's item waits only while the commit
before it runs, then goes in the next one with everything that arrived meanwhile: a lone
request is committed at once, a burst in few transactions. Each request still hears 200 only
after its own item is committed.
"""

from __future__ import annotations

import asyncio

from threadline.core.intake import Accepted, Intake, RawItem

MAX_BATCH = 500
"""Items per commit: bounded, so one commit never grows long enough to be a stall itself."""


class GroupCommit:
    def __init__(self, intake: Intake) -> None:
        self._intake = intake
        self._waiting: list[tuple[RawItem, asyncio.Future[Accepted]]] = []
        self._committer: asyncio.Task[None] | None = None

    async def accept(self, item: RawItem) -> Accepted:
        """Raises what the commit raised: the caller answers 5xx and the sender retries."""
        answer: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, answer))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_waiting())
        return await answer

    async def _commit_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            items = [item for item, _answer in batch]
            try:
                accepted = await asyncio.to_thread(self._intake.accept_many, items)
            except Exception as error:
                for _item, answer in batch:
                    if not answer.done():
                        answer.set_exception(error)
                continue
            for (_item, answer), result in zip(batch, accepted, strict=True):
                # A request whose client went away is cancelled; its item is stored anyway.
                if not answer.done():
                    answer.set_result(result)
