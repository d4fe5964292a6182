"""Accepting comes first: while items are arriving, the processor leaves room for them.

The processor, the webhooks and the listeners share one interpreter lock. A processor working
through a backlog holds it for as long as it may; a burst of webhooks then waits for it, and at
a thousand events a second the acknowledgements fall seconds behind while the senders' retry
timers run (Slack's is 3 s). So while items are being accepted, the processor claims small
batches and pauses after each for twice as long as it took: the accepting side never waits long
for the lock, and what is not processed yet waits in the queue, committed. With nothing
arriving, it runs flat out on full batches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

RECENT_S = 0.1
"""An accept this recent means items are arriving."""
ARRIVING_BATCH = 25
"""Items per batch while items arrive: some milliseconds of work."""
PAUSE_RATIO = 2.0
"""While items arrive, the processor pauses twice as long as its batch took: at a thousand
Slack events a second on two cores, the acknowledgements' p99 went from over a second to
under 100 ms (bench/README.md), and the backlog is worked off once the burst ends."""
MAX_PAUSE_S = 1.0


class IntakePace:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._last_accept = float("-inf")
        self._lock = threading.Lock()

    def accepted(self) -> None:
        """From any thread, after each commit of accepted items."""
        with self._lock:
            self._last_accept = self._clock()

    def arriving(self) -> bool:
        with self._lock:
            return self._clock() - self._last_accept < RECENT_S

    def batch_size(self, full: int) -> int:
        return min(full, ARRIVING_BATCH) if self.arriving() else full

    def batches(self, on_batch: Callable[[], None]) -> Callable[[], None]:
        """The processor's ``on_batch`` for one run through the queue: ``on_batch``, then the
        pause the rule asks for. Runs in the processor's thread."""
        mark = self._clock()

        def after_batch() -> None:
            nonlocal mark
            on_batch()
            if self.arriving():
                took = self._clock() - mark
                self._sleep(min(took * PAUSE_RATIO, MAX_PAUSE_S))
            mark = self._clock()

        return after_batch
