"""Helper processes for CPU work that the GIL keeps threads from sharing: parsing mail
(``daemon/parse_workers.py``) and composing it (``channels/email/compose_workers.py``).

They are spawned, not forked: the daemon has threads (and database connections) that a fork
would copy in whatever state they were. They ignore SIGINT and SIGTERM, as the daemon stops
them itself after the work in flight, where a Ctrl-C in a terminal or a SIGTERM to the whole
process group would kill them under it. And they end when the daemon is gone, even killed
outright. A worker that dies breaks its whole pool, which then takes no more work: the next
submit starts a new one.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

PARENT_WATCH_S = 0.5
"""How often a worker checks that the process it works for is still there."""
T = TypeVar("T")


class WorkerPool:
    def __init__(self, workers: int, start: Callable[..., None], *args: Any) -> None:
        """``start(*args)`` runs first in each worker: a module-level function, as workers
        import it by name. The workers start with the first submit."""
        self._workers = workers
        self._start = start
        self._args = args
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, function: Callable[..., T], *args: Any) -> Future[T]:
        pool = self._current()
        try:
            return pool.submit(function, *args)
        except BrokenProcessPool:
            # A worker died since the last submit (its work in flight failed with it).
            self._discard(pool)
            return self._current().submit(function, *args)

    def close(self) -> None:
        """Stops the workers once the work they run is done; work not started is dropped."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self._workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start,
                    # This process's pid, not the worker's getppid(): a worker spawned just
                    # before a SIGKILL would read its new parent's pid there and live on.
                    initargs=(os.getpid(), self._start, self._args),
                )
            return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)


def _start(parent: int, start: Callable[..., None], args: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(
        target=_exit_with_parent, args=(parent,), name="parent-watch", daemon=True
    ).start()
    start(*args)


def _exit_with_parent(parent: int) -> None:
    """A worker holds both ends of its own work queue, so a parent killed outright (SIGKILL,
    the OOM killer) never closes it: without this the worker would wait on it for ever."""
    while os.getppid() == parent:
        time.sleep(PARENT_WATCH_S)
    os._exit(0)
