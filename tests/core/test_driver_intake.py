"""Accept through the driver alone (``threadline ingest``) writes the rows ``Intake`` writes,
dedups against them both ways, waits for a busy SQLite database and wakes the daemons on
PostgreSQL."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from threadline.core.database_url import supported_url
from threadline.core.driver_intake import accept_many
from threadline.core.intake import Intake
from threadline.core.leased_queue import channel_of
from threadline.core.models import InboundItem
from threadline.core.queue_channels import queue_channel
from threadline.core.raw_items import INBOUND_ITEMS, Accepted, RawItem

LOCK_HELD_S = 1.0


def rows(engine: Engine) -> list[dict[str, object]]:
    """Every column of every item, as the database holds it (SQLite's times as their text)."""
    with engine.connect() as connection:
        found = connection.execute(text(f"SELECT * FROM {INBOUND_ITEMS} ORDER BY id"))  # noqa: S608
        return [dict(row._mapping) for row in found]


def test_an_item_accepted_through_the_driver_is_the_row_intake_writes(
    db_url: str, engine: Engine, sessions: sessionmaker[Session]
):
    meta = {"source": "ingest", "file": "a\x00.eml"}
    Intake(sessions).accept(RawItem("email", "by-intake", b"\x00raw\xff", meta))

    (accepted,) = accept_many(
        supported_url(db_url), [RawItem("email", "by-driver", b"\x00raw\xff", meta)]
    )

    by_intake, by_driver = rows(engine)
    assert accepted == Accepted(by_driver["id"], duplicate=False)
    assert by_driver["dedup_key"] == "by-driver"
    stamps = ("created_at", "updated_at")
    differing = {"id", "dedup_key", *stamps}
    assert {k: v for k, v in by_driver.items() if k not in differing} == {
        k: v for k, v in by_intake.items() if k not in differing
    }
    for stamp in stamps:
        assert type(by_driver[stamp]) is type(by_intake[stamp])
        assert len(str(by_driver[stamp])) == len(str(by_intake[stamp]))
        assert by_driver[stamp] >= by_intake[stamp]


def test_a_key_either_way_stored_is_a_duplicate_the_other_way(
    db_url: str, sessions: sessionmaker[Session]
):
    intake = Intake(sessions)
    url = supported_url(db_url)
    first = intake.accept(RawItem("email", "k1", b"first"))

    through_driver = accept_many(
        url, [RawItem("email", "k1", b"again"), RawItem("email", "k2", b"x")]
    )
    through_intake = intake.accept(RawItem("email", "k2", b"x, again"))

    assert through_driver[0] == Accepted(first.id, duplicate=True)
    assert not through_driver[1].duplicate
    assert through_intake == Accepted(through_driver[1].id, duplicate=True)


def test_a_key_repeated_in_a_batch_is_stored_once_and_answered_in_order(db_url: str):
    items = [
        RawItem("email", "k1", b"1"),
        RawItem("email", "k2", b"2"),
        RawItem("email", "k1", b"3"),
    ]

    first, second, third = accept_many(supported_url(db_url), items)

    assert (first.duplicate, second.duplicate, third.duplicate) == (False, False, True)
    assert third.id == first.id != second.id


def test_a_long_key_is_stored_as_intake_stores_it(db_url: str, sessions: sessionmaker[Session]):
    long_key = "m" * 300 + "@example.com"
    stored = Intake(sessions).accept(RawItem("email", long_key, b"x"))

    (again,) = accept_many(supported_url(db_url), [RawItem("email", long_key, b"x")])

    assert again == Accepted(stored.id, duplicate=True)


def test_a_briefly_locked_sqlite_database_is_waited_for(sqlite_db_url: str):
    path = sqlite_db_url.removeprefix("sqlite:///")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); "
            f"time.sleep({LOCK_HELD_S}); c.execute('COMMIT')",
            path,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        started = time.monotonic()

        (accepted,) = accept_many(sqlite_db_url, [RawItem("email", "k1", b"x")])
    finally:
        holder.wait(timeout=10)

    assert not accepted.duplicate
    assert time.monotonic() - started >= LOCK_HELD_S / 2
    with sqlite3.connect(path) as connection:
        assert connection.execute(f"SELECT count(*) FROM {INBOUND_ITEMS}").fetchone() == (1,)  # noqa: S608


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_commit_that_stores_an_item_wakes_the_daemons_on_postgresql(db_url: str):
    url = supported_url(db_url)
    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as listening:
        listening.execute(f"LISTEN {channel_of(InboundItem.__table__)}")

        accept_many(url, [RawItem("email", "k1", b"x")])
        woken = [n.channel for n in listening.notifies(timeout=5, stop_after=1)]
        accept_many(url, [RawItem("email", "k1", b"x")])
        again = [n.channel for n in listening.notifies(timeout=0.5)]

    assert woken == [queue_channel(INBOUND_ITEMS)]
    assert again == []
