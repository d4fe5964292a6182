"""``threadline inbound list|show|retry``: an operator finds parked items, reads why, and puts
them back once the cause is fixed."""

from __future__ import annotations

import json
import random

from sqlalchemy.orm import Session, sessionmaker

from tests.daemon.cli.conftest import Threadline, columns
from tests.support.handlers import Poison, ignore, park, store_message
from threadline.core.dedup import content_key
from threadline.core.intake import Intake, RawItem
from threadline.core.models import InboundItem
from threadline.core.processor import ItemHandler, Processor, Tally, one_at_a_time
from threadline.core.settings import IntakeSettings

MAIL = b"From: ada@example.com\r\nSubject: poison\r\n\r\nbody\x1b[31m\r\n"


def accept(sessions: sessionmaker[Session], *raws: bytes) -> list[int]:
    meta = {"rcpt": "help@example.com"}
    accepted = Intake(sessions).accept_many(
        [RawItem("email", content_key(raw), raw, meta) for raw in raws]
    )
    return [a.id for a in accepted]


def process(sessions: sessionmaker[Session], handler: ItemHandler) -> Tally:
    settings = IntakeSettings(max_attempts=1)
    return Processor(
        sessions, one_at_a_time(handler), settings, rng=random.Random(1)
    ).run_until_idle()


def item(sessions: sessionmaker[Session], item_id: int) -> InboundItem:
    with sessions() as session:
        return session.get_one(InboundItem, item_id)


def test_list_shows_newest_first_and_failed_filters_to_parked_items(
    threadline: Threadline, sessions: sessionmaker[Session]
):
    accept(sessions, b"fine", MAIL)
    process(sessions, Poison(b"poison"))
    accept(sessions, b"waiting")

    listed = threadline("inbound", "list")
    failed = threadline("inbound", "list", "--parked")

    table = columns(listed.output)
    assert table[0] == [
        "ID",
        "CHANNEL",
        "STATUS",
        "ATTEMPTS",
        "SIZE",
        "RECEIVED",
        "NEXT ATTEMPT",
        "ERROR",
    ]
    assert [row[:5] for row in table[1:]] == [
        ["3", "email", "pending", "0", "7"],
        ["2", "email", "parked", "1", str(len(MAIL))],
        ["1", "email", "done", "0", "4"],
    ]
    assert table[2][7] == "ValueError: cannot parse"
    assert [row[0] for row in columns(failed.output)[1:]] == ["2"]


def test_list_as_json_and_an_empty_result(threadline: Threadline, sessions: sessionmaker[Session]):
    assert threadline("inbound", "list", "--parked").output == "no inbound items match\n"
    accept(sessions, b"out of office")
    process(sessions, ignore)

    (listed,) = json.loads(threadline("inbound", "list", "--format", "json").output)

    assert list(listed) == [
        "id",
        "channel",
        "status",
        "attempts",
        "size",
        "created_at",
        "next_attempt_at",
        "last_error",
    ]
    assert (listed["status"], listed["last_error"]) == ("ignored", "auto-reply")
    assert listed["created_at"].endswith("+00:00")


def test_parked_and_status_cannot_disagree(threadline: Threadline):
    refused = threadline("inbound", "list", "--parked", "--status", "done")

    assert refused.exit_code == 2
    assert "--parked contradicts --status done" in refused.stderr


def test_show_gives_state_error_meta_and_the_start_of_the_raw_bytes_safely(
    threadline: Threadline, sessions: sessionmaker[Session]
):
    (item_id,) = accept(sessions, MAIL)
    process(sessions, Poison(b"poison"))

    shown = threadline("inbound", "show", str(item_id))

    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == f"inbound item {item_id}"
    assert "  status:       parked" in lines
    assert "  attempts:     1" in lines
    assert "  last error:   ValueError: cannot parse" in lines
    assert '  meta:         {"rcpt": "help@example.com"}' in lines
    assert f"  size:         {len(MAIL)} bytes" in lines
    assert lines[-5:] == [
        "--- raw (whole) ---",
        "From: ada@example.com",
        "Subject: poison",
        "",
        "body\N{REPLACEMENT CHARACTER}[31m",
    ]


def test_show_reads_only_the_start_of_a_large_item(
    threadline: Threadline, sessions: sessionmaker[Session]
):
    (item_id,) = accept(sessions, b"a" * 1000 + "\N{SNOWMAN}".encode() * 1000)

    shown = json.loads(threadline("inbound", "show", str(item_id), "--format", "json").output)

    assert shown["size"] == 4000
    assert shown["head"] == "a" * 1000 + "\N{SNOWMAN}" * 8
    assert shown["status"] == "pending"


def test_show_of_an_unknown_item_says_so(threadline: Threadline):
    refused = threadline("inbound", "show", "99")

    assert refused.exit_code == 1
    assert refused.stderr == "Error: no inbound item with id 99\n"


def test_retry_puts_a_parked_item_back_with_fresh_attempts_and_it_is_processed(
    threadline: Threadline, sessions: sessionmaker[Session]
):
    (item_id,) = accept(sessions, b"fax")
    process(sessions, park)

    retried = threadline("inbound", "retry", str(item_id))

    assert retried.exit_code == 0, retried.output
    assert retried.output.startswith(f"queued item {item_id} for retry: ")
    row = item(sessions, item_id)
    assert (row.status, row.attempts, row.raw) == ("pending", 0, b"fax")
    assert row.next_attempt_at is not None
    assert process(sessions, store_message) == Tally(done=1)


def test_retry_refuses_items_that_are_not_parked(
    threadline: Threadline, sessions: sessionmaker[Session]
):
    (done,) = accept(sessions, b"done")
    process(sessions, store_message)
    (waiting,) = accept(sessions, b"waiting")

    refused_done = threadline("inbound", "retry", str(done))
    refused_pending = threadline("inbound", "retry", str(waiting))
    refused_unknown = threadline("inbound", "retry", "99")

    assert refused_done.exit_code == 1
    assert refused_done.stderr == (
        f"Error: inbound item {done} is done; only parked items are retried\n"
    )
    assert refused_pending.stderr == (
        f"Error: inbound item {waiting} is pending, not parked: "
        "the processor retries it on its own\n"
    )
    assert refused_unknown.stderr == "Error: no inbound item with id 99\n"
    assert item(sessions, done).status == "done"


def test_retry_all_parked_puts_back_every_parked_item_only(
    threadline: Threadline, sessions: sessionmaker[Session]
):
    assert threadline("inbound", "retry", "--all-parked").output == "no parked items to retry\n"
    ids = accept(sessions, b"poison 1", b"fine", b"poison 2")
    process(sessions, Poison(b"poison"))

    retried = threadline("inbound", "retry", "--all-parked")

    assert retried.output.startswith("queued 2 parked items for retry: ")
    assert [item(sessions, i).status for i in ids] == ["pending", "done", "pending"]


def test_retry_takes_one_id_or_all_parked(threadline: Threadline):
    assert threadline("inbound", "retry").exit_code == 2
    assert threadline("inbound", "retry", "1", "--all-parked").exit_code == 2
