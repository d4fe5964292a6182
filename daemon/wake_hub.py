"""The one way work wakes whoever does it: components subscribe to a topic, anything wakes it.

Accepts happen in worker threads (the SMTP listener, the pollers, webhook handlers), commits in
the processor's thread, notifications from PostgreSQL in the listener's; an asyncio event may
only be set from its loop's thread. So :meth:`WakeHub.wake` is safe from any thread and before
or after the loop runs (there is nothing to wake then: every runner looks at its queue when it
starts, and a row committed at shutdown waits for the next start).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from enum import StrEnum


class Topic(StrEnum):
    INTAKE = "intake"
    """Inbound items were committed: the processors look."""
    OUTBOX = "outbox"
    """Outbox rows were committed: the dispatchers look."""


class WakeHub:
    def __init__(self) -> None:
        self._subscribers: dict[Topic, list[Callable[[], None]]] = {topic: [] for topic in Topic}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop the subscribers run on; the supervisor binds it before starting them."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def subscribe(self, topic: Topic, wake: Callable[[], None]) -> None:
        """``wake`` runs on the loop's thread (a runner's ``wake``)."""
        self._subscribers[topic].append(wake)

    def waker(self, topic: Topic) -> Callable[[], None]:
        """A callback for code that must not know the hub (the processor's ``on_handled``)."""
        return lambda: self.wake(topic)

    def wake(self, topic: Topic) -> None:
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._deliver(topic)
            return
        # A loop closed meanwhile (shutdown) raises; what was committed waits for the next start.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._deliver, topic)

    def _deliver(self, topic: Topic) -> None:
        for wake in self._subscribers[topic]:
            wake()
