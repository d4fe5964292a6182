"""``threadline ingest`` as an MTA runs it: 0 once stored (or already stored), 75 on any
failure so the mail stays in the MTA's queue."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from tests.daemon.cli.conftest import Threadline
from tests.support.daemon import free_port
from threadline.channels.email.dedup import mail_dedup_key
from threadline.core.dedup import content_key
from threadline.core.models import InboundItem

THREADLINE = str(Path(sys.executable).with_name("threadline"))
MAIL = b"From: ada@example.com\r\nSubject: help\r\n\r\nThe printer is on fire.\r\n"


def pipe(database_url: str, *args: str, stdin: bytes = MAIL) -> subprocess.CompletedProcess[str]:
    """The installed command with the mail on standard input, as Postfix's pipe(8) runs it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("THREADLINE_")}
    env["THREADLINE_DATABASE__URL"] = database_url
    return subprocess.run(
        [THREADLINE, "ingest", *args],
        input=stdin.decode(),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def items(sessions: sessionmaker[Session]) -> list[InboundItem]:
    with sessions() as session:
        return list(session.query(InboundItem).order_by(InboundItem.id))


def test_a_piped_mail_is_stored_keyed_by_its_bytes_and_exits_0(
    db_url: str, sessions: sessionmaker[Session]
):
    piped = pipe(db_url, "--channel", "email")

    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "stdin: accepted as inbound item 1\n"
    (item,) = items(sessions)
    assert (item.channel, item.raw, item.status) == ("email", MAIL, "pending")
    assert item.dedup_key == content_key(MAIL)


def test_the_same_mail_piped_again_is_a_duplicate_and_still_exits_0(
    db_url: str, sessions: sessionmaker[Session]
):
    pipe(db_url, "--channel", "email")

    again = pipe(db_url, "--channel", "email", "-")

    assert again.returncode == 0, again.stderr
    assert again.stdout == "stdin: duplicate of inbound item 1\n"
    assert len(items(sessions)) == 1


def test_one_mail_delivered_for_two_of_our_addresses_is_stored_once(
    db_url: str, sessions: sessionmaker[Session]
):
    """Each copy of a Cc'd mail has a Delivered-To of its own; its Message-ID is the same."""
    mail = b"Message-ID: <m1@example.com>\r\n" + MAIL
    pipe(db_url, "--channel", "email", stdin=b"Delivered-To: support@desk.example\r\n" + mail)

    again = pipe(db_url, "--channel", "email", stdin=b"Delivered-To: sales@desk.example\r\n" + mail)

    assert again.returncode == 0, again.stderr
    assert again.stdout == "stdin: duplicate of inbound item 1\n"
    assert [item.dedup_key for item in items(sessions)] == [mail_dedup_key(mail)]


def test_files_are_accepted_together(
    threadline: Threadline, tmp_path: Path, sessions: sessionmaker[Session]
):
    first, second = tmp_path / "1.eml", tmp_path / "2.eml"
    first.write_bytes(MAIL)
    second.write_bytes(MAIL.replace(b"fire", b"ice"))

    ingested = threadline("ingest", "--channel", "email", str(first), str(second), str(first))

    assert ingested.exit_code == 0, ingested.output
    assert ingested.output.splitlines() == [
        f"{first}: accepted as inbound item 1",
        f"{second}: accepted as inbound item 2",
        f"{first}: duplicate of inbound item 1",
    ]
    assert [item.meta for item in items(sessions)] == [
        {"source": "ingest", "file": str(first)},
        {"source": "ingest", "file": str(second)},
    ]


def test_an_unreachable_database_exits_75_with_one_line():
    closed = f"postgresql://threadline@127.0.0.1:{free_port()}/threadline"

    refused = pipe(closed, "--channel", "email")

    assert refused.returncode == 75
    assert refused.stderr.startswith("Error: database unreachable: ")
    assert refused.stderr.count("\n") == 1
    assert "Traceback" not in refused.stderr


def test_a_locked_sqlite_database_exits_75(sqlite_db_url: str):
    """The busy timeout passes while another process holds the write lock."""
    path = sqlite_db_url.removeprefix("sqlite:///")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); sys.stdin.read()",
            path,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"

        refused = pipe(sqlite_db_url, "--channel", "email")
    finally:
        holder.kill()
        holder.wait(timeout=10)

    assert refused.returncode == 75
    assert refused.stderr == "Error: database unreachable: database is locked\n"


def test_a_usage_mistake_exits_75_too_so_the_mta_keeps_the_mail(tmp_path: Path):
    mistyped = pipe(f"sqlite:///{tmp_path / 'unused.db'}", "--chanel", "email")

    assert mistyped.returncode == 75
    assert "No such option '--chanel'" in mistyped.stderr


def test_a_missing_file_exits_75(threadline: Threadline, tmp_path: Path):
    missing = threadline("ingest", "--channel", "email", str(tmp_path / "gone.eml"))

    assert missing.exit_code == 75
    assert "gone.eml" in missing.stderr


def test_an_unknown_channel_is_refused_with_2_naming_the_channels_and_stores_nothing(
    db_url: str, sessions: sessionmaker[Session]
):
    refused = pipe(db_url, "--channel", "telegraph")

    assert refused.returncode == 2
    assert (
        "unknown channel 'telegraph'; the channels are email, slack, whatsapp, normalized"
        in refused.stderr
    )
    assert items(sessions) == []
