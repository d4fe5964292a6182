"""The IMAP poller against a real Dovecot, on SQLite and PostgreSQL: what it accepts, when it
acknowledges, and what survives a crash, a recreated folder or an oversized mail."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence

import pytest
from imapclient import IMAPClient
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from tests.support.dovecot import Account, DovecotServer
from tests.support.imap import drain, mail, mailbox, poller, queued
from threadline.channels.email.dedup import mail_dedup_key
from threadline.channels.email.imap_poller import SEEN, MailboxPoller
from threadline.channels.email.imap_position import Position, load_position
from threadline.channels.email.imap_runner import ImapRunner
from threadline.channels.email.settings import MEBIBYTE


def keys(*numbers: int) -> list[str]:
    return [mail_dedup_key(mail(number)) for number in numbers]


def test_new_mail_is_accepted_with_its_message_id_mailbox_and_uid(
    account: Account, sessions: sessionmaker[Session]
):
    account.append(mail(1), mail(2), mail(3))
    polling = poller(mailbox(account), sessions)
    try:
        assert polling.poll() == 3
        assert polling.poll() == 0
    finally:
        polling.close()

    items = queued(sessions)
    uidvalidity = account.uidvalidity()
    assert [item.dedup_key for item in items] == keys(1, 2, 3)
    assert [item.raw for item in items] == [mail(1), mail(2), mail(3)]
    assert [item.meta for item in items] == [
        {"mailbox": account.user, "uid": uid, "uidvalidity": uidvalidity} for uid in (1, 2, 3)
    ]
    assert {item.status for item in items} == {"pending"}
    assert load_position(sessions, account.user) == Position(uidvalidity, 3)


def test_mail_is_fetched_in_batches_and_the_position_advances_after_each(
    account: Account, sessions: sessionmaker[Session]
):
    account.append(*(mail(number) for number in range(1, 6)))
    polling = poller(mailbox(account, batch_size=2), sessions)
    try:
        handled = []
        while count := polling.poll():
            handled.append((count, load_position(sessions, account.user).last_uid))
    finally:
        polling.close()
    assert handled == [(2, 2), (2, 4), (1, 5)]
    assert [item.dedup_key for item in queued(sessions)] == keys(1, 2, 3, 4, 5)


def test_mail_already_marked_seen_is_still_fetched(
    account: Account, sessions: sessionmaker[Session]
):
    account.append(mail(1), flags=[SEEN])
    account.append(mail(2))
    polling = poller(mailbox(account), sessions)
    try:
        assert drain(polling) == 2
    finally:
        polling.close()
    assert [item.dedup_key for item in queued(sessions)] == keys(1, 2)


def test_mail_arriving_later_is_found_by_the_next_poll_on_the_same_connection(
    account: Account, sessions: sessionmaker[Session]
):
    account.append(mail(1))
    polling = poller(mailbox(account), sessions)
    try:
        assert drain(polling) == 1
        account.append(mail(2))
        assert drain(polling) == 1
    finally:
        polling.close()
    assert [item.meta["uid"] for item in queued(sessions)] == [1, 2]


def folders(account: Account) -> tuple[dict[int, bool], list[int]]:
    """Per INBOX mail whether it is \\Seen, and the UIDs in Archive."""
    inbox = {uid: SEEN in flags for uid, flags in account.flags().items()}
    return inbox, account.uids("Archive")


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        ("flag", ({1: True, 2: True}, [])),
        ("move", ({}, [1, 2])),
        ("delete", ({}, [])),
    ],
)
def test_the_after_action_comes_only_once_the_mail_is_committed(
    account: Account,
    sessions: sessionmaker[Session],
    after: str,
    expected: tuple[dict[int, bool], list[int]],
):
    account.create("Archive")
    account.append(mail(1), mail(2))
    moments: list[tuple[int, tuple[dict[int, bool], list[int]]]] = []

    class Watched(MailboxPoller):
        def _acknowledge(self, client: IMAPClient, uids: Sequence[int]) -> None:
            moments.append((len(queued(sessions)), folders(account)))
            super()._acknowledge(client, uids)

    settings = mailbox(account, after=after, move_to="Archive" if after == "move" else "")
    polling = poller(settings, sessions, kind=Watched)
    try:
        assert drain(polling) == 2
    finally:
        polling.close()

    assert moments == [(2, ({1: False, 2: False}, []))]
    assert folders(account) == expected


class Crash(Exception):
    """Stands for the process dying at that point."""


@pytest.mark.parametrize("after", ["flag", "move", "delete"])
@pytest.mark.parametrize(
    "after_action_done", [False, True], ids=["before-after-action", "before-position"]
)
def test_a_crash_mid_batch_neither_loses_nor_duplicates_mail(
    account: Account, sessions: sessionmaker[Session], after: str, after_action_done: bool
):
    account.create("Archive")
    account.append(mail(1), mail(2), mail(3))
    settings = mailbox(
        account, after=after, move_to="Archive" if after == "move" else "", batch_size=2
    )

    class Crashing(MailboxPoller):
        def _acknowledge(self, client: IMAPClient, uids: Sequence[int]) -> None:
            if after_action_done:
                super()._acknowledge(client, uids)
            raise Crash

    crashing = poller(settings, sessions, kind=Crashing)
    with pytest.raises(Crash):
        crashing.poll()
    crashing.close()
    assert [item.dedup_key for item in queued(sessions)] == keys(1, 2)

    restarted = poller(settings, sessions)
    try:
        drain(restarted)
    finally:
        restarted.close()

    assert [item.dedup_key for item in queued(sessions)] == keys(1, 2, 3)
    inbox, archive = folders(account)
    if after == "flag":
        assert inbox == {1: True, 2: True, 3: True}
    else:
        assert inbox == {}
        assert len(archive) == (3 if after == "move" else 0)
    assert load_position(sessions, account.user).last_uid == 3


def test_a_recreated_folder_is_read_again_without_storing_anything_twice(
    account: Account, sessions: sessionmaker[Session]
):
    account.create("Support")
    account.append(mail(1), mail(2), folder="Support")
    polling = poller(mailbox(account, folder="Support"), sessions)
    try:
        assert drain(polling) == 2
        old = account.uidvalidity("Support")

        account.delete("Support")
        account.create("Support")
        account.append(mail(2), mail(1), mail(3), folder="Support")
        new = account.uidvalidity("Support")
        assert new != old

        with capture_logs() as logs:
            assert drain(polling) == 3
    finally:
        polling.close()

    items = queued(sessions)
    assert [item.dedup_key for item in items] == keys(1, 2, 3)
    assert items[2].meta == {"mailbox": account.user, "uid": 3, "uidvalidity": new}
    assert load_position(sessions, account.user) == Position(new, 3)
    changed = [log for log in logs if log["event"].startswith("imap UIDVALIDITY changed")]
    assert [(log["old"], log["new"]) for log in changed] == [(old, new)]


def test_an_oversized_mail_is_skipped_and_reported_while_the_others_are_accepted(
    account: Account, sessions: sessionmaker[Session]
):
    big = mail(2, size=MEBIBYTE)
    account.append(mail(1), big, mail(3))
    polling = poller(mailbox(account), sessions, max_message_size=MEBIBYTE)
    try:
        with capture_logs() as logs:
            assert drain(polling) == 3
    finally:
        polling.close()

    assert [item.dedup_key for item in queued(sessions)] == keys(1, 3)
    warnings = [log for log in logs if log["event"] == "imap mail too large, skipped"]
    assert [(log["uid"], log["size"], log["log_level"]) for log in warnings] == [
        (2, len(big), "warning")
    ]
    assert polling.skipped == 1
    assert polling.last_skipped is not None
    assert f"UID 2 in INBOX skipped: {len(big)} bytes" in polling.last_skipped
    # /healthz shows it as the mailbox runner's last_error, though nothing failed.
    assert ImapRunner(polling).last_error == polling.last_skipped
    # Left where it is, not flagged: an operator decides; the poller does not come back to it.
    assert account.flags()[2] & {SEEN} == set()
    assert load_position(sessions, account.user).last_uid == 3


@pytest.mark.parametrize("after", ["move", "delete"])
def test_without_move_or_uidplus_mail_is_copied_then_deleted_and_expunged(
    plain_dovecot: DovecotServer, sessions: sessionmaker[Session], after: str
):
    account = plain_dovecot.account(f"plain-{uuid.uuid4().hex[:12]}")
    account.create("Archive")
    account.append(mail(1), mail(2))
    settings = mailbox(account, after=after, move_to="Archive" if after == "move" else "")
    polling = poller(settings, sessions)
    try:
        assert not polling.can_idle
        assert drain(polling) == 2
    finally:
        polling.close()

    assert account.uids() == []
    assert len(account.uids("Archive")) == (2 if after == "move" else 0)
    assert [item.dedup_key for item in queued(sessions)] == keys(1, 2)


@pytest.mark.parametrize("security", ["none", "ssl"])
def test_mail_arriving_between_a_poll_and_its_idle_is_reported_at_once(
    account: Account, sessions: sessionmaker[Session], security: str
):
    """The server reports it together with IDLE's continuation, in one packet that imaplib
    reads into its buffer: a wait that only watched the socket missed it until the next poll
    (a minute by default)."""
    tls = {"port": account.server.ssl_port, "tls_ca_file": str(account.server.ca_file)}
    settings = mailbox(account, security=security, **(tls if security == "ssl" else {}))
    polling = poller(settings, sessions)
    try:
        assert drain(polling) == 0
        account.append(mail(1))
        started = time.monotonic()
        assert polling.wait_for_mail(timeout=10.0, halt=threading.Event())
        assert time.monotonic() - started < 2.0
        assert drain(polling) == 1
    finally:
        polling.close()
