"""``threadline process`` with the pipeline ``daemon.processing`` builds: what ``ingest`` accepted
is stored, what cannot be read is parked, and the counts say which.

``process`` runs as the installed command: it configures logging for its whole process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.daemon.cli.conftest import Threadline, columns
from tests.support.messages import email
from threadline.channels import normalized

THREADLINE = str(Path(sys.executable).with_name("threadline"))


def process(db_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    return subprocess.run(
        [THREADLINE, "process", *args],
        env={**environment, "THREADLINE_DATABASE__URL": db_url, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write_items(directory: Path, count: int) -> list[str]:
    paths = []
    for n in range(count):
        path = directory / f"{n}.json"
        path.write_bytes(normalized.encode(email("ada@example.com", f"<{n}@example.com>")))
        paths.append(str(path))
    return paths


def test_process_until_idle_stores_what_ingest_accepted_and_parks_the_unreadable(
    threadline: Threadline, db_url: str, tmp_path: Path
):
    threadline("ingest", "--channel", "normalized", *write_items(tmp_path, 2))
    (tmp_path / "garbled").write_bytes(b"\x00\x01")
    threadline("ingest", "--channel", "normalized", str(tmp_path / "garbled"))

    processed = process(db_url, "--until-idle")

    assert processed.returncode == 0, processed.stderr
    assert processed.stdout == (
        "processed 3 inbound items: 2 done, 0 ignored, 0 to retry later, 1 parked\n"
    )
    assert "inbound item parked" in processed.stderr
    failed = columns(threadline("inbound", "list", "--parked").output)
    assert [row[:3] for row in failed[1:]] == [["3", "normalized", "parked"]]
    assert process(db_url, "--until-idle").stdout.startswith("processed 0 inbound items")


def test_process_without_until_idle_takes_one_batch(
    threadline: Threadline, db_url: str, tmp_path: Path
):
    threadline("ingest", "--channel", "normalized", *write_items(tmp_path, 3))

    processed = process(db_url, THREADLINE_INTAKE__BATCH_SIZE="2")

    assert processed.stdout.startswith("processed 2 inbound items: 2 done")
    assert [row[2] for row in columns(threadline("inbound", "list").output)[1:]] == [
        "pending",
        "done",
        "done",
    ]
