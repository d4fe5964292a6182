"""Polling one IMAP mailbox: new mail by UID, accepted durably, then acknowledged on the server.

Every method blocks on the network or the database; the daemon calls them in a worker thread.

The order is what makes it safe. A batch is committed to the intake queue (deduplicated on the
Message-ID) before the server is told anything, and the position advances only after the
after-action: a crash at any point leaves mail that is fetched again and answered as a duplicate,
never mail lost or left without its after-action. ``\\Seen`` is never read: a mail someone opened
in their mail client is still new to us. A UIDVALIDITY change (the folder was recreated) means
the old UIDs name nothing any more, so the whole folder is read again; deduplication keeps that
from storing anything twice.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import structlog
from imapclient import IMAPClient
from sqlalchemy.orm import Session, sessionmaker

from threadline.channels.email import CHANNEL
from threadline.channels.email.dedup import mail_dedup_key
from threadline.channels.email.imap_connection import connect
from threadline.channels.email.imap_position import Position, load_position, save_position
from threadline.channels.email.settings import MailboxSettings
from threadline.core.intake import Intake, RawItem

SEEN = b"\\Seen"
DELETED = b"\\Deleted"

FETCH_BYTES = 32 * 1024 * 1024
"""Mail bytes fetched per FETCH command (a larger mail goes alone), so memory stays bounded
whatever ``batch_size`` and ``email.max_message_size`` allow together."""

IDLE_TICK_S = 1.0
"""How often an IDLE wait looks at the stop flag: SIGTERM never waits for the server."""


class MailboxPoller:
    def __init__(
        self,
        settings: MailboxSettings,
        intake: Intake,
        sessions: sessionmaker[Session],
        max_message_size: int,
    ) -> None:
        self.settings = settings
        self._intake = intake
        self._sessions = sessions
        self._max_size = max_message_size
        self._client: IMAPClient | None = None
        self._position = Position(0, 0)
        self._pending: list[int] = []
        """New UIDs found by the latest search, oldest first, not yet handled."""
        self.skipped = 0
        """Mails left in the folder for being larger than ``email.max_message_size``."""
        self.last_skipped: str | None = None
        self._log = structlog.get_logger(__name__, mailbox=settings.name)

    @property
    def connected(self) -> bool:
        return self._client is not None

    @property
    def can_idle(self) -> bool:
        return self._require().has_capability("IDLE")

    def connect(self) -> None:
        self.close()
        self._client = connect(self.settings)
        self._log.info("imap mailbox connected", host=self.settings.host)

    def close(self) -> None:
        """Log out if the connection still works, else just drop it; never raises."""
        client, self._client = self._client, None
        self._pending = []
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()

    def poll(self) -> int:
        """Handle the next batch of new mail; answers how many mails it held, 0 if none."""
        client = self._require()
        if not self._pending:
            self._pending = self._find_new(client)
        batch = self._pending[: self.settings.batch_size]
        if not batch:
            return 0
        handled: list[int] = []
        for chunk in _by_size(self._within_limit(client, batch)):
            handled += self._accept(client, chunk)
        self._acknowledge(client, handled)
        self._position = Position(self._position.uidvalidity, batch[-1])
        save_position(self._sessions, self.settings.name, self._position)
        del self._pending[: len(batch)]
        return len(batch)

    def wait_for_mail(self, timeout: float, halt: threading.Event) -> bool:
        """IDLE until the server reports something, ``halt`` is set or ``timeout`` passes;
        True if the server spoke (new mail, or it is closing the connection)."""
        client = self._require()
        client.idle()
        deadline = time.monotonic() + timeout
        try:
            if _already_read(client):
                return True
            while not halt.is_set():
                tick = min(IDLE_TICK_S, deadline - time.monotonic())
                if tick <= 0:
                    return False
                started = time.monotonic()
                responses = client.idle_check(timeout=tick)
                # Keepalives ("* OK Still here") are no news; anything else ends the wait.
                if any(response[:1] != (b"OK",) for response in responses):
                    return True
                # Readable at once but nothing to parse: the server closed the connection.
                if not responses and time.monotonic() - started < tick / 2:
                    return True
            return False
        finally:
            client.idle_done()

    def _acknowledge(self, client: IMAPClient, uids: Sequence[int]) -> None:
        """The after-action, once the mails are committed; MOVE or UID EXPUNGE where the server
        offers them, so only these mails are touched."""
        if not uids:
            return
        after = self.settings.after
        if after == "flag":
            client.add_flags(uids, [SEEN], silent=True)
            return
        if after == "move" and client.has_capability("MOVE"):
            client.move(uids, self.settings.move_to)
            return
        if after == "move":
            client.copy(uids, self.settings.move_to)
        client.add_flags(uids, [DELETED], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
        else:
            # Without UIDPLUS, EXPUNGE also removes mail others marked \Deleted in this folder.
            client.expunge()

    def _require(self) -> IMAPClient:
        if self._client is None:
            raise RuntimeError("not connected: call connect() first")
        return self._client

    def _find_new(self, client: IMAPClient) -> list[int]:
        # Selected afresh each round: SELECT reports the current UIDVALIDITY and UIDNEXT.
        folder = client.select_folder(self.settings.folder)
        uidvalidity = int(folder[b"UIDVALIDITY"])
        position = load_position(self._sessions, self.settings.name)
        if position is None or position.uidvalidity != uidvalidity:
            if position is not None:
                self._log.warning(
                    "imap UIDVALIDITY changed, reading the whole folder again",
                    folder=self.settings.folder,
                    old=position.uidvalidity,
                    new=uidvalidity,
                )
            position = Position(uidvalidity, 0)
            save_position(self._sessions, self.settings.name, position)
        self._position = position
        uidnext = folder.get(b"UIDNEXT")
        if uidnext is not None and int(uidnext) <= position.last_uid + 1:
            return []
        # "n:*" always matches the newest mail, even below n: hence the filter.
        found = client.search(["UID", f"{position.last_uid + 1}:*"])
        return sorted(uid for uid in found if uid > position.last_uid)

    def _within_limit(self, client: IMAPClient, batch: list[int]) -> list[tuple[int, int]]:
        """UIDs with their sizes, without mail expunged meanwhile or too large to take."""
        sizes = client.fetch(batch, ["RFC822.SIZE"])
        wanted = []
        for uid in batch:
            data = sizes.get(uid)
            if data is None:
                continue
            size = int(data[b"RFC822.SIZE"])
            if size > self._max_size:
                self._skip(uid, size)
            else:
                wanted.append((uid, size))
        return wanted

    def _accept(self, client: IMAPClient, uids: list[int]) -> list[int]:
        """Fetch and commit; answers the UIDs committed (new or duplicate alike)."""
        bodies = client.fetch(uids, ["BODY.PEEK[]"])
        meta: dict[str, Any] = {
            "mailbox": self.settings.name,
            "uidvalidity": self._position.uidvalidity,
        }
        items: list[RawItem] = []
        accepted: list[int] = []
        for uid in uids:
            raw = bodies.get(uid, {}).get(b"BODY[]")
            if raw is None:
                continue
            items.append(RawItem(CHANNEL, mail_dedup_key(raw), raw, {**meta, "uid": uid}))
            accepted.append(uid)
        self._intake.accept_many(items)
        return accepted

    def _skip(self, uid: int, size: int) -> None:
        self.skipped += 1
        self.last_skipped = (
            f"mail UID {uid} in {self.settings.folder} skipped: {size} bytes is over "
            f"email.max_message_size ({self._max_size}); it stays in the folder"
        )
        self._log.warning(
            "imap mail too large, skipped",
            folder=self.settings.folder,
            uid=uid,
            size=size,
            max_message_size=self._max_size,
        )


def _by_size(mails: list[tuple[int, int]]) -> Iterator[list[int]]:
    chunk: list[int] = []
    total = 0
    for uid, size in mails:
        if chunk and total + size > FETCH_BYTES:
            yield chunk
            chunk, total = [], 0
        chunk.append(uid)
        total += size
    if chunk:
        yield chunk


def _already_read(client: IMAPClient) -> bool:
    """Mail that arrived between the last poll and IDLE is reported with IDLE's continuation,
    often in the same packet: imaplib reads it into its buffer with the continuation, where a
    wait on the socket never sees it, and the mail would wait for the next poll."""
    sock = client.socket()
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return bool(client._imap.file.peek(1))
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    finally:
        sock.settimeout(timeout)
