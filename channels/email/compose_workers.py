"""Composing ahead: a batch's mails are composed in worker processes
(``smarthost.compose_workers``) while the batch before it is sent.

Composing and flattening a reply is pure CPU, about 150 µs, a sixth of what sending it costs
the daemon, and the GIL keeps the sending threads from sharing it. The dispatcher reads each
batch ahead while it sends the one before (``core/dispatcher.py``), so its mails go to the
workers then, in chunks, and are ready by the time their rows are sent.

A small batch is composed in the daemon as it is sent: a worker would only add its round trip
to mails that nothing waits behind. A worker that dies (a crash, the OOM killer), or a result
that cannot come back, loses nothing: the mails of its chunk are composed in the daemon, as
without workers, and the next batch gets a new pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

import structlog

from threadline.channels.email.compose import DeskAddress, Mail, compose
from threadline.core.tokens import TokenSigner
from threadline.core.worker_processes import WorkerPool

IN_WORKERS_FROM = 32
"""Mails a batch has at least for them to be composed in workers."""
CHUNK = 25
"""Mails a worker is handed at once: the first are ready soon, and a round trip per chunk costs
little against its mails' composing."""
LARGE_ATTACHMENTS = 256 * 1024
"""Bytes of attachments above which a mail is composed in the daemon as it is sent: a composed
mail waits for its send, so a batch of large files composed ahead would be held twice (and
once more on its way back from the worker)."""

Composing = Future[dict[int, "Composed"]]
_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Composed:
    data: bytes
    message_id: str
    """Without angle brackets, as message refs store it."""


def composed(mail: Mail, desk: DeskAddress, signer: TokenSigner, date: datetime) -> Composed:
    message = compose(mail, desk, signer, date)
    return Composed(message.as_bytes(), str(message["Message-ID"]).strip("<>"))


class ComposeAhead:
    def __init__(self, desk: DeskAddress, signer: TokenSigner, workers: int) -> None:
        """``workers`` 0: every mail is composed in the daemon."""
        self._workers = workers
        self._pool = WorkerPool(workers, _start_worker, desk, signer)

    def start(self, mails: Mapping[int, Mail], date: datetime) -> dict[int, Composing]:
        """Each mail handed to a worker, by outbox row id: what its chunk will be."""
        chosen = [
            (row, mail)
            for row, mail in mails.items()
            if sum(len(file.content) for file in mail.attachments) <= LARGE_ATTACHMENTS
        ]
        if not self._workers or len(chosen) < IN_WORKERS_FROM:
            return {}
        composing: dict[int, Composing] = {}
        for start in range(0, len(chosen), CHUNK):
            chunk = chosen[start : start + CHUNK]
            future = self._pool.submit(_compose_in_worker, chunk, date)
            future.add_done_callback(_log_failure)
            composing.update((row, future) for row, _mail in chunk)
        return composing

    @staticmethod
    def result(row: int, composing: Composing) -> Composed | None:
        """The row's mail as its worker composed it; None if it did not come back (its chunk's
        failure is logged once, by :func:`_log_failure`)."""
        try:
            return composing.result().get(row)
        except Exception:
            return None


def _log_failure(future: Composing) -> None:
    error = None if future.cancelled() else future.exception()
    if error is not None:
        _log.warning(
            "a compose worker failed; its mails are composed in the daemon",
            error=f"{type(error).__name__}: {error}",
        )


_desk: DeskAddress | None = None
_signer: TokenSigner | None = None


def _start_worker(desk: DeskAddress, signer: TokenSigner) -> None:
    global _desk, _signer
    _desk, _signer = desk, signer


def _compose_in_worker(mails: list[tuple[int, Mail]], date: datetime) -> dict[int, Composed]:
    """A mail that fails here is left out: the daemon composes it again when it is sent, and
    its error is then that row's, as without workers."""
    if _desk is None or _signer is None:
        raise RuntimeError("a compose worker runs without its desk")
    done = {}
    for row, mail in mails:
        try:
            done[row] = composed(mail, _desk, _signer, date)
        except Exception:  # noqa: S112 (composed again in the daemon, which reports it)
            continue
    return done
