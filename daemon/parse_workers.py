"""Parse ahead: claimed items are parsed outside the batch transaction, in worker processes,
while the processor handles the batch before them.

Parsing is pure CPU (about 330 µs for a 3 KB support mail, a third of its whole cost) that the
GIL keeps threads from sharing, while handling a batch waits on SQLAlchemy and the database. So
the processor claims the next batch and hands it here before it handles the current one, and
the parsers run on the other cores meanwhile (``[intake] parse_workers``).

A parser that kills its process (a crash in a C extension, the OOM killer) breaks the whole
pool, and every item in flight with it. The items of a broken pool are parsed again one at a
time in a new one, so only the item that kills its worker fails (and is retried, then parked,
like any failure); the others go on, as a poison item in the batch transaction costs only itself.
A parse that runs away (a pathological mail) ends the same way: a worker that has not finished
its items within ``[intake] parse_timeout`` ends itself, and its items are parsed again alone.
"""

from __future__ import annotations

import faulthandler
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import TYPE_CHECKING, Any

from threadline.core.normalized import Inbound
from threadline.core.outcome import Park
from threadline.core.parsers import ParserRegistry, UnknownChannel
from threadline.core.worker_processes import WorkerPool
from threadline.daemon.collector import collect_less

if TYPE_CHECKING:
    # Not at run time: each worker process imports this module, and needs no database.
    from threadline.core.processor import QueuedItem

Parsed = Inbound | Exception
"""An item's parse: its message, or the exception its handling raises (:class:`Park`, or
:class:`ParseFailed` to retry)."""

RegistryBuilder = Callable[[], ParserRegistry]
"""Builds every channel's parser; a module-level function, as worker processes import it by
name to build their own registry."""

IN_PROCESS_ABOVE = 1024 * 1024
"""Items larger than this (bytes) are parsed in the processor's own process: shipping a large
mail to a worker and its attachments back costs more than it saves, and would hold each of them
twice in memory."""

Item = tuple[str, bytes, Mapping[str, Any]]
"""What a worker gets of an item: channel, raw bytes, meta."""


class ParseFailed(Exception):
    """A parser raised: the item is retried (then parked) with this description. Rather than
    the parser's own exception, which may not survive the trip back from a worker process."""


class ParseAhead:
    """The processor's ``prepare``: starts parsing a claimed batch, returns what waits for it."""

    def __init__(self, build: RegistryBuilder, workers: int, timeout: float) -> None:
        """``workers`` 0: everything is parsed in this process, when the batch is handled.
        ``timeout``: seconds a worker may spend on the items it was given at once (a batch's
        share, normally some milliseconds); a parse in this process has none."""
        self._registry = build()
        self._workers = workers
        self._pool = WorkerPool(workers, _start_worker, build, timeout)

    def __call__(self, items: Sequence[QueuedItem]) -> Callable[[], list[Parsed]]:
        remote = [n for n, item in enumerate(items) if self._in_workers(item)]
        chunks = [remote[start :: self._workers] for start in range(self._workers)]
        started = [
            (chunk, self._submit([_item(items[n]) for n in chunk])) for chunk in chunks if chunk
        ]

        def wait() -> list[Parsed]:
            parsed: dict[int, Parsed] = {}
            for chunk, future in started:
                results = self._result(future, [_item(items[n]) for n in chunk])
                parsed.update(zip(chunk, results, strict=True))
            return [
                parsed[n] if n in parsed else parse(self._registry, *_item(item))
                for n, item in enumerate(items)
            ]

        return wait

    def close(self) -> None:
        """Stops the workers; a parse still running is waited for. A batch still waiting for
        its parse after this (a shutdown that did not wait for the processor) is parsed in
        this process."""
        self._workers = 0
        self._pool.close()

    def __enter__(self) -> ParseAhead:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _in_workers(self, item: QueuedItem) -> bool:
        return (
            self._workers > 0
            and len(item.raw) <= IN_PROCESS_ABOVE
            and self._registry.in_workers(item.channel)
        )

    def _submit(self, items: list[Item]) -> Future[list[Parsed]]:
        return self._pool.submit(_parse_in_worker, items)

    def _result(self, future: Future[list[Parsed]], items: list[Item]) -> list[Parsed]:
        """A chunk's parses; when its worker died (or its results could not come back), each
        of its items parsed alone instead (in a new pool, if its own broke), so that only the
        item at fault fails."""
        try:
            return future.result()
        except Exception as error:
            if not self._workers:
                return [parse(self._registry, *item) for item in items]
            if len(items) == 1:
                return [ParseFailed(_lost(error))]
            return [self._result(self._submit([item]), [item])[0] for item in items]


def parse(registry: ParserRegistry, channel: str, raw: bytes, meta: Mapping[str, Any]) -> Parsed:
    try:
        return registry.parse(channel, raw, meta)
    except UnknownChannel as error:
        return Park(str(error))
    except Park as park:
        return park
    except Exception as error:
        return ParseFailed(f"{type(error).__name__}: {error}")


def _lost(error: Exception) -> str:
    if isinstance(error, BrokenProcessPool):
        return (
            "the parse worker ended while parsing this item: a crash, or a parse longer than "
            "[intake] parse_timeout"
        )
    return f"the parse did not come back from its worker: {type(error).__name__}: {error}"


def _item(item: QueuedItem) -> Item:
    return item.channel, item.raw, item.meta or {}


_worker_registry: ParserRegistry | None = None
"""A worker process's parsers, built once when it starts."""
_worker_timeout = 0.0
"""Seconds a worker may spend on one call of :func:`_parse_in_worker`."""


def _start_worker(build: RegistryBuilder, timeout: float) -> None:
    global _worker_registry, _worker_timeout
    collect_less()
    _worker_registry = build()
    _worker_timeout = timeout


def _parse_in_worker(items: list[Item]) -> list[Parsed]:
    """faulthandler's watchdog is a thread of C that needs no GIL: it ends the worker even in
    a regular expression or a C extension that never returns to Python, and writes where each
    thread was to stderr (the daemon's log), for the parser to be fixed."""
    if _worker_registry is None:
        raise RuntimeError("a parse worker runs without its registry")
    faulthandler.dump_traceback_later(_worker_timeout, exit=True)
    try:
        return [parse(_worker_registry, *item) for item in items]
    finally:
        faulthandler.cancel_dump_traceback_later()
